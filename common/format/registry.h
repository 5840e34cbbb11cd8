// The schema-registry wire format (Confluent's, also Redpanda's and
// Apicurio's compatible mode) and a client for the registry's REST API.
//
// A framed message is byte 0, the schema id as 4 bytes big-endian, for
// protobuf the message-index list (a zigzag varint count, then that many
// zigzag varint indexes; a count of 0 means [0], the file's first message),
// then the encoded record.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace weir::format {

struct WireHeader {
  uint32_t id = 0;
  std::vector<int64_t> message_indexes;  // protobuf only
  size_t size = 0;                       // bytes before the record
};

// Parses the header at the start of `payload`. Returns "" on success, else
// why the payload is not framed (for a malformed record's reason).
std::string ParseWireHeader(std::string_view payload, bool protobuf, WireHeader* out);

// Appends a header for schema `id`; with `protobuf`, the message-index list
// `indexes` (an empty list or [0] is written as the single byte 0).
void AppendWireHeader(uint32_t id, bool protobuf, const std::vector<int64_t>& indexes,
                      std::string* out);

// A schema as the registry returns it.
struct RegistrySchema {
  std::string type;  // AVRO, PROTOBUF or JSON
  std::string text;
};

// A Confluent-compatible schema registry at a base URL (http or https).
// Thread-safe; schemas are cached by id for the life of the process (ids are
// immutable in a registry).
class SchemaRegistry {
 public:
  // The one client for `url` in this process (so subtasks share the cache).
  static std::shared_ptr<SchemaRegistry> For(const std::string& url);

  const std::string& url() const { return url_; }

  // GET /schemas/ids/{id}. NotFound when the registry has no such id;
  // Unavailable when it cannot be reached or answers with a server error
  // (a restart may help); InvalidArgument for an answer that is not a schema.
  Result<RegistrySchema> Fetch(uint32_t id);

  // POST /subjects/{subject}/versions: registers `schema` (or finds it
  // registered already) and returns its id.
  Result<uint32_t> Register(const std::string& subject, const RegistrySchema& schema);

  explicit SchemaRegistry(std::string url);

 private:
  struct Response {
    long code = 0;
    std::string body;
  };
  Result<Response> Call(const std::string& path, const std::string* post_body);

  const std::string url_;
  std::mutex mu_;
  std::map<uint32_t, RegistrySchema> cache_;
};

// For formats that decode with the job's own schema (protobuf, json): which
// schema ids of framed payloads the registry has, as a schema of `type`.
// Each id is looked up once.
class RegistryIdCheck {
 public:
  RegistryIdCheck(std::shared_ptr<SchemaRegistry> client, std::string type, bool protobuf)
      : client_(std::move(client)), type_(std::move(type)), protobuf_(protobuf) {}

  // Looks up the ids of `payloads` not seen yet. An error only when the
  // registry cannot answer (Unavailable), as Decoder::Prepare.
  Status Prepare(const std::vector<std::string_view>& payloads);

  // Why payloads with schema `id` are malformed, or "" when they are not
  // (the registry has it, or it was never looked up).
  const std::string& Problem(uint32_t id) const;

 private:
  std::shared_ptr<SchemaRegistry> client_;
  std::string type_;
  bool protobuf_;
  std::map<uint32_t, std::string> checked_;  // "" found, else why not
};

}  // namespace weir::format
