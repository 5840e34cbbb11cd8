// The protobuf format's checks that the job validator needs (the decoder and
// encoder themselves are created through format.h, type "protobuf").
//
// Options (FormatSpec::options), as the validator leaves them:
//   descriptors     a serialized FileDescriptorSet: the job's descriptor set
//                   file, or its .proto file compiled with CompileProtoFile
//   descriptor_set  the path of the descriptor set as written in the job
//                   (protoc --include_imports --descriptor_set_out=...), or
//   proto           the path of the .proto file as written in the job; both
//                   only name the descriptors in messages
//   message         the full name of the message, e.g. "shop.Order"
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include "common/status.h"
#include "common/types.h"

namespace weir::format {

// A .proto file compiled with its imports into a serialized
// FileDescriptorSet (imports first). Imports are looked up next to the file,
// then in /usr/include (for google/protobuf/*.proto). Each file read is at
// most `max_bytes`, and so is the result; an error names the file, line and
// column of the first problem.
Result<std::string> CompileProtoFile(const std::string& path, size_t max_bytes);

// OK when the descriptors in the options build;
// else InvalidArgument with the reason.
Status CheckProtobufFile(const std::map<std::string, std::string>& options);

// OK when the file loads and defines the message named by option "message".
Status CheckProtobufMessage(const std::map<std::string, std::string>& options);

// OK when every column of `stream` can be written into the message (a field
// found by name, dotted names walking into nested messages, of a type the
// column converts to); else the first problem, naming the column.
Status CheckProtobufSinkSchema(const std::map<std::string, std::string>& options,
                               const Schema& stream);

}  // namespace weir::format
