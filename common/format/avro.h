// The avro format's checks that the job validator needs (the decoder and
// encoder themselves are created through format.h, type "avro").
//
// Options (FormatSpec::options) as the validator leaves them:
//   schema                 the writer schema's JSON text (sources: the schema
//                          of unframed payloads; sinks: the schema to write,
//                          derived from the stream when absent)
//   registry_schemas.<id>  sources: the writer schema of schema id <id> in the
//                          schema-registry wire format (byte 0, then the id as
//                          4 bytes big-endian, then the datum)
//   schema_id              sinks: write the wire format with this id
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "common/types.h"

namespace weir::format {

// Whether a job's schema option is the schema's JSON itself (its first
// non-blank character is '{', '[' or '"') rather than a file's path. The job
// validator reads a file into the options, so the format always gets JSON.
bool IsInlineAvroSchema(std::string_view option);

// OK when `json` is an Avro schema weir can use as a writer schema: valid
// for libavro, with a record at the top. Else InvalidArgument with the reason.
Status CheckAvroSchema(std::string_view json);

// OK when every field of the record schema `json` can be written from the
// stream `stream` (see docs/job-spec.md, Formats); else the first problem.
Status CheckAvroSinkSchema(std::string_view json, const Schema& stream);

// The writer schema a sink without `schema` uses: a record "weir.Row" with
// one field per column, each a union of null and the column's type.
std::string DeriveAvroSchema(const Schema& stream);

}  // namespace weir::format
