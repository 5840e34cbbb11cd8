#include "coordinator/storage_policy.h"

#include <filesystem>

#include "common/checkpoint/storage.h"

namespace weir::coordinator {

namespace fs = std::filesystem;

namespace {

// The path with symbolic links resolved as far as it exists, so that a link
// under a root cannot lead outside it.
Result<fs::path> Real(std::string_view uri) {
  WEIR_ASSIGN_OR_RETURN(std::string path, checkpoint::PathOfStorageUri(uri));
  std::error_code ec;
  fs::path real = fs::weakly_canonical(path, ec);
  if (ec) return Status::InvalidArgument("cannot resolve " + path + ": " + ec.message());
  return real.lexically_normal();
}

bool Under(const fs::path& p, const fs::path& root) {
  auto a = root.begin();
  auto b = p.begin();
  for (; a != root.end(); ++a, ++b) {
    if (a->empty()) continue;  // a trailing separator
    if (b == p.end() || *a != *b) return false;
  }
  return true;
}

}  // namespace

Status CheckUnderRoots(std::string_view what, std::string_view uri,
                       const std::vector<std::string>& roots) {
  WEIR_ASSIGN_OR_RETURN(fs::path path, Real(uri));
  std::string listed;
  for (const auto& r : roots) {
    auto root = Real(r);
    if (!root.ok()) continue;
    if (Under(path, *root)) return Status::OK();
    listed += (listed.empty() ? "" : ", ") + root->string();
  }
  return Status::PermissionDenied(std::string(what) + " " + std::string(uri) +
                                  " is outside the coordinator's checkpoint storage (" + listed +
                                  "); start the coordinator with --allow-storage to allow it");
}

}  // namespace weir::coordinator
