#include "common/format/registry.h"

#include <curl/curl.h>
#include <simdjson.h>

#include <cctype>
#include <optional>
#include <utility>

#include "common/format/format_internal.h"

namespace weir::format {
namespace {

constexpr long kConnectTimeoutMs = 5'000;
constexpr long kTimeoutMs = 15'000;
constexpr size_t kMaxResponseBytes = 16 << 20;
constexpr size_t kMaxIndexes = 64;  // nesting of a protobuf message index path

bool ReadZigzag(std::string_view data, size_t* at, int64_t* out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*at >= data.size()) return false;
    const auto b = static_cast<uint8_t>(data[(*at)++]);
    v |= uint64_t{b & 0x7Fu} << shift;
    if ((b & 0x80) == 0) {
      *out = static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
      return true;
    }
  }
  return false;
}

void AppendZigzag(int64_t v, std::string* out) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (z >= 0x80) {
    out->push_back(static_cast<char>((z & 0x7F) | 0x80));
    z >>= 7;
  }
  out->push_back(static_cast<char>(z));
}

size_t Collect(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * n > kMaxResponseBytes) return 0;  // aborts the transfer
  body->append(data, size * n);
  return size * n;
}

// The registry's error text ({"error_code": 40403, "message": "..."}), or
// the body's start.
std::string ErrorText(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view message;
  if (!parser.parse(body).get(doc) && !doc["message"].get(message)) return std::string(message);
  return body.substr(0, 200);
}

}  // namespace

std::string ParseWireHeader(std::string_view payload, bool protobuf, WireHeader* out) {
  if (payload.size() < 5 || payload[0] != 0)
    return payload.empty() ? "empty payload"
                           : "not in the schema-registry wire format (byte 0, then a 4-byte "
                             "schema id)";
  const auto* b = reinterpret_cast<const uint8_t*>(payload.data());
  out->id = (uint32_t{b[1]} << 24) | (uint32_t{b[2]} << 16) | (uint32_t{b[3]} << 8) | b[4];
  out->message_indexes.clear();
  size_t at = 5;
  if (protobuf) {
    int64_t count = 0;
    if (!ReadZigzag(payload, &at, &count) || count < 0 || count > int64_t{kMaxIndexes})
      return "invalid message-index list after schema id " + std::to_string(out->id);
    if (count == 0) out->message_indexes.push_back(0);
    for (int64_t i = 0; i < count; ++i) {
      int64_t index = 0;
      if (!ReadZigzag(payload, &at, &index) || index < 0)
        return "invalid message-index list after schema id " + std::to_string(out->id);
      out->message_indexes.push_back(index);
    }
  }
  out->size = at;
  return "";
}

void AppendWireHeader(uint32_t id, bool protobuf, const std::vector<int64_t>& indexes,
                      std::string* out) {
  out->push_back(0);
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(id >> shift));
  if (!protobuf) return;
  if (indexes.empty() || (indexes.size() == 1 && indexes[0] == 0)) {
    out->push_back(0);
    return;
  }
  AppendZigzag(static_cast<int64_t>(indexes.size()), out);
  for (int64_t i : indexes) AppendZigzag(i, out);
}

std::shared_ptr<SchemaRegistry> SchemaRegistry::For(const std::string& url) {
  static std::mutex mu;
  static auto* clients = new std::map<std::string, std::shared_ptr<SchemaRegistry>>();
  std::lock_guard lock(mu);
  auto& c = (*clients)[url];
  if (!c) c = std::make_shared<SchemaRegistry>(url);
  return c;
}

SchemaRegistry::SchemaRegistry(std::string url) : url_(std::move(url)) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Result<SchemaRegistry::Response> SchemaRegistry::Call(const std::string& path,
                                                      const std::string* post_body) {
  std::string base = url_;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string target = base + path;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Status::Unavailable("cannot start an HTTP request");
  Response r;
  curl_slist* headers =
      curl_slist_append(nullptr, "Accept: application/vnd.schemaregistry.v1+json");
  if (post_body != nullptr)
    headers = curl_slist_append(headers, "Content-Type: application/vnd.schemaregistry.v1+json");
  curl_easy_setopt(curl, CURLOPT_URL, target.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, kTimeoutMs);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  if (post_body != nullptr) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, post_body->c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(post_body->size()));
  }
  const CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    return Status::Unavailable("schema registry " + target + ": " + curl_easy_strerror(rc));
  }
  return r;
}

Result<RegistrySchema> SchemaRegistry::Fetch(uint32_t id) {
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(id); it != cache_.end()) return it->second;
  }
  const std::string path = "/schemas/ids/" + std::to_string(id);
  WEIR_ASSIGN_OR_RETURN(Response r, Call(path, nullptr));
  if (r.code == 404)
    return Status::NotFound("schema id " + std::to_string(id) + " is not in the registry at " +
                            url_);
  if (r.code != 200) {
    return Status::Unavailable("schema registry " + url_ + path + ": HTTP " +
                               std::to_string(r.code) + ": " + ErrorText(r.body));
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view text, type = "AVRO";
  if (parser.parse(r.body).get(doc) || doc["schema"].get(text)) {
    return Status::InvalidArgument("schema registry " + url_ + path +
                                   ": the answer has no \"schema\"");
  }
  if (doc["schemaType"].get(type) != simdjson::SUCCESS) type = "AVRO";  // absent: AVRO
  RegistrySchema s{std::string(type), std::string(text)};
  std::lock_guard lock(mu_);
  cache_[id] = s;
  return s;
}

Result<uint32_t> SchemaRegistry::Register(const std::string& subject,
                                          const RegistrySchema& schema) {
  std::string body = "{\"schemaType\":";
  internal::AppendJsonString(schema.type, &body);
  body += ",\"schema\":";
  internal::AppendJsonString(schema.text, &body);
  body += "}";
  std::string escaped;
  for (char c : subject) {
    const bool plain =
        std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '~';
    if (plain) {
      escaped.push_back(c);
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      escaped += '%';
      escaped += kHex[static_cast<unsigned char>(c) >> 4];
      escaped += kHex[static_cast<unsigned char>(c) & 15];
    }
  }
  const std::string path = "/subjects/" + escaped + "/versions";
  WEIR_ASSIGN_OR_RETURN(Response r, Call(path, &body));
  if (r.code == 409 || r.code == 422) {
    return Status::InvalidArgument("schema registry " + url_ + " refused the schema for subject " +
                                   subject + ": " + ErrorText(r.body));
  }
  if (r.code != 200) {
    return Status::Unavailable("schema registry " + url_ + path + ": HTTP " +
                               std::to_string(r.code) + ": " + ErrorText(r.body));
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  int64_t id = 0;
  if (parser.parse(r.body).get(doc) || doc["id"].get(id) || id < 0 || id > 0xFFFFFFFFll) {
    return Status::InvalidArgument("schema registry " + url_ + path + ": the answer has no id");
  }
  std::lock_guard lock(mu_);
  cache_[static_cast<uint32_t>(id)] = schema;
  return static_cast<uint32_t>(id);
}

Status RegistryIdCheck::Prepare(const std::vector<std::string_view>& payloads) {
  WireHeader h;
  for (std::string_view p : payloads) {
    if (!ParseWireHeader(p, protobuf_, &h).empty() || checked_.count(h.id) != 0) continue;
    auto fetched = client_->Fetch(h.id);
    if (!fetched.ok() && fetched.status().code() != StatusCode::kNotFound) return fetched.status();
    std::string why;
    if (!fetched.ok())
      why = fetched.status().message();
    else if (fetched->type != type_)
      why = "schema id " + std::to_string(h.id) + " in the registry is " + fetched->type +
            ", not " + type_;
    checked_[h.id] = std::move(why);
  }
  return Status::OK();
}

const std::string& RegistryIdCheck::Problem(uint32_t id) const {
  static const std::string kNone;
  auto it = checked_.find(id);
  return it == checked_.end() ? kNone : it->second;
}

namespace internal {
namespace {

// json in the wire format: the header is checked (and, with a registry, its
// id looked up) and stripped, then the inner decoder reads the rest.
class FramedJsonDecoder final : public Decoder {
 public:
  FramedJsonDecoder(std::unique_ptr<Decoder> inner, std::shared_ptr<SchemaRegistry> client)
      : inner_(std::move(inner)) {
    if (client) ids_.emplace(std::move(client), "JSON", false);
  }

  Status Prepare(const std::vector<std::string_view>& payloads) override {
    return ids_ ? ids_->Prepare(payloads) : Status::OK();
  }

  void Decode(const std::vector<std::string_view>& payloads, RecordBatch* batch,
              std::vector<DecodeError>* errors, std::vector<uint32_t>* rows_of) override {
    stripped_.clear();
    index_.clear();
    WireHeader h;
    for (size_t i = 0; i < payloads.size(); ++i) {
      std::string why = ParseWireHeader(payloads[i], false, &h);
      if (why.empty() && ids_) why = ids_->Problem(h.id);
      if (!why.empty()) {
        errors->push_back({i, std::move(why)});
        continue;
      }
      stripped_.push_back(payloads[i].substr(h.size));
      index_.push_back(static_cast<uint32_t>(i));
    }
    const size_t first_error = errors->size();
    rows_.clear();
    inner_->Decode(stripped_, batch, errors, &rows_);
    for (size_t e = first_error; e < errors->size(); ++e)
      (*errors)[e].index = index_[(*errors)[e].index];
    if (rows_of != nullptr)
      for (uint32_t r : rows_) rows_of->push_back(index_[r]);
  }

 private:
  std::unique_ptr<Decoder> inner_;
  std::optional<RegistryIdCheck> ids_;  // with a registry
  std::vector<std::string_view> stripped_;
  std::vector<uint32_t> index_, rows_;
};

// A JSON Schema for a stream: an object with one property per field.
std::string DeriveJsonSchema(const Schema& schema) {
  std::string s = R"({"type":"object","properties":{)";
  for (size_t i = 0; i < schema.size(); ++i) {
    const Field& f = schema.field(i);
    if (i) s += ",";
    AppendJsonString(f.name, &s);
    const char* type = "string";
    if (f.type == TypeId::kBoolean) type = "boolean";
    if (f.type == TypeId::kBigint) type = "integer";
    if (f.type == TypeId::kDouble) type = "number";
    s += R"({"type":[")" + std::string(type) + R"(","null"]})";
  }
  return s + "}}";
}

class FramedJsonEncoder final : public Encoder {
 public:
  FramedJsonEncoder(std::unique_ptr<Encoder> inner, int64_t id,
                    std::shared_ptr<SchemaRegistry> client, std::string subject, std::string schema)
      : inner_(std::move(inner)),
        id_(id),
        client_(std::move(client)),
        subject_(std::move(subject)),
        schema_(std::move(schema)) {}

  Status Open() override {
    if (id_ >= 0 || !client_) return Status::OK();
    WEIR_ASSIGN_OR_RETURN(uint32_t id, client_->Register(subject_, {"JSON", schema_}));
    id_ = id;
    return Status::OK();
  }

  void Encode(const RecordBatch& batch, size_t row, std::string* out) override {
    AppendWireHeader(static_cast<uint32_t>(id_), false, {}, out);
    inner_->Encode(batch, row, out);
  }

 private:
  std::unique_ptr<Encoder> inner_;
  int64_t id_;
  std::shared_ptr<SchemaRegistry> client_;
  std::string subject_, schema_;
};

}  // namespace

Result<std::unique_ptr<Decoder>> FrameJsonDecoder(const spec::FormatSpec& format,
                                                  std::unique_ptr<Decoder> inner) {
  const auto& o = format.options;
  auto url = o.find("registry");
  const bool framed = url != o.end() || (o.count("framing") && o.at("framing") == "registry");
  if (!framed) return inner;
  return std::unique_ptr<Decoder>(std::make_unique<FramedJsonDecoder>(
      std::move(inner), url != o.end() ? SchemaRegistry::For(url->second) : nullptr));
}

Result<std::unique_ptr<Encoder>> FrameJsonEncoder(const spec::FormatSpec& format,
                                                  const Schema& schema,
                                                  std::unique_ptr<Encoder> inner) {
  const auto& o = format.options;
  auto url = o.find("registry");
  auto id_text = o.find("schema_id");
  if (url == o.end() && id_text == o.end()) return inner;
  int64_t id = -1;
  if (id_text != o.end() &&
      (ParseInt64(id_text->second, &id) != ParseOutcome::kOk || id < 0 || id > 0xFFFFFFFFll))
    return Status::InvalidArgument("format json: schema_id must be 0..4294967295");
  auto subject = o.find("subject");
  return std::unique_ptr<Encoder>(std::make_unique<FramedJsonEncoder>(
      std::move(inner), id, url != o.end() ? SchemaRegistry::For(url->second) : nullptr,
      subject != o.end() ? subject->second : "", DeriveJsonSchema(schema)));
}

}  // namespace internal
}  // namespace weir::format
