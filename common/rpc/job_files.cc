#include "common/rpc/job_files.h"

#include "common/files.h"
#include "common/rpc/security.h"

namespace weir::rpc {

v1::JobFiles ToProto(const spec::JobFiles& files) {
  v1::JobFiles out;
  for (const auto& [path, content] : files) {
    std::string digest = Sha256Hex(content);
    (*out.mutable_paths())[path] = digest;
    (*out.mutable_blobs())[digest] = content;
  }
  return out;
}

Result<spec::JobFiles> FromProto(const v1::JobFiles& files) {
  if (files.paths_size() > static_cast<int>(spec::kMaxJobFileCount) ||
      files.blobs_size() > static_cast<int>(spec::kMaxJobFileCount))
    return Status::InvalidArgument("a job may send at most " +
                                   std::to_string(spec::kMaxJobFileCount) + " files");
  size_t total = 0;
  for (const auto& [digest, content] : files.blobs()) {
    if (content.size() > spec::kMaxJobFileBlobBytes)
      return Status::InvalidArgument("a file sent with the job is over " +
                                     SizeText(spec::kMaxJobFileBlobBytes));
    total += content.size();
    if (Sha256Hex(content) != digest)
      return Status::InvalidArgument("a file sent with the job does not match its digest " +
                                     digest.substr(0, 64));
  }
  if (total > spec::kMaxJobFilesTotalBytes)
    return Status::InvalidArgument("the files sent with the job are over " +
                                   SizeText(spec::kMaxJobFilesTotalBytes) + " in all");
  spec::JobFiles out;
  for (const auto& [path, digest] : files.paths()) {
    auto blob = files.blobs().find(digest);
    if (blob == files.blobs().end())
      return Status::InvalidArgument("the job's file '" + path.substr(0, 256) +
                                     "' was sent without its content");
    out.emplace(path, blob->second);
  }
  return out;
}

}  // namespace weir::rpc
