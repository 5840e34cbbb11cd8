// Which paths the coordinator opens for a job: a job's checkpoint.storage
// and a savepoint to restore must lie under the coordinator's own checkpoint
// storage or a root of --allow-storage. A job cannot make the coordinator
// read or write anywhere else (docs/security.md).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace weir::coordinator {

// OK when `uri` (a file:// URI or an absolute path) is one of `roots` or
// lies under one, after resolving symbolic links and "..". Else
// PermissionDenied naming `what`, the path and the roots.
Status CheckUnderRoots(std::string_view what, std::string_view uri,
                       const std::vector<std::string>& roots);

}  // namespace weir::coordinator
