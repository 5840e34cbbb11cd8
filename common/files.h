// Reading whole files with a size limit. Every file weir reads whole (a job
// file, a schema, a descriptor set, a secret, a token file, checkpoint
// metadata) goes through ReadFileLimited, so that a path such as /dev/zero or
// a named pipe is an error with a reason, not an unbounded read or a hang.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace weir {

// The content of the regular file at `path` (symlinks followed), at most
// `max_bytes`. `what` names the file in errors ("the Avro schema file"):
//   cannot read the Avro schema file 'x.avsc': No such file or directory
//   the Avro schema file 'x.avsc' is over 4 MiB
//   the Avro schema file '/dev/zero' is not a regular file
Result<std::string> ReadFileLimited(const std::string& path, size_t max_bytes,
                                    std::string_view what);

// "4 MiB", "64 KiB", "100 bytes": a limit as people read it.
std::string SizeText(size_t bytes);

}  // namespace weir
