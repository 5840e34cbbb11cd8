// The protobuf format's checks that the job validator needs (the decoder and
// encoder themselves are created through format.h, type "protobuf").
//
// Options (FormatSpec::options), as the validator leaves them:
//   descriptor_set  path of a FileDescriptorSet (protoc --include_imports
//                   --descriptor_set_out=...), or
//   proto           path of a .proto file, parsed at load time; its imports
//                   are looked up next to it, then in /usr/include (for the
//                   well-known types)
//   message         the full name of the message, e.g. "shop.Order"
#pragma once

#include <map>
#include <string>

#include "common/status.h"
#include "common/types.h"

namespace weir::format {

// OK when the file named by the options (descriptor_set or proto) loads;
// else InvalidArgument with the reason (file missing, parse error...).
Status CheckProtobufFile(const std::map<std::string, std::string>& options);

// OK when the file loads and defines the message named by option "message".
Status CheckProtobufMessage(const std::map<std::string, std::string>& options);

// OK when every column of `stream` can be written into the message (a field
// found by name, dotted names walking into nested messages, of a type the
// column converts to); else the first problem, naming the column.
Status CheckProtobufSinkSchema(const std::map<std::string, std::string>& options,
                               const Schema& stream);

}  // namespace weir::format
