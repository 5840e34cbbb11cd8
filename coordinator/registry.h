// The coordinator's job registry: one RocksDB in DATA_DIR/registry holding a
// StoredJob per job (proto/weir/v1/job.proto), written synchronously (WAL
// on, sync) so that a job the API accepted survives a crash of the
// coordinator. Checkpoint metadata lives in checkpoint storage.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "weir/v1/job.pb.h"

namespace weir::coordinator {

class Registry {
 public:
  static Result<std::unique_ptr<Registry>> Open(const std::string& dir);
  ~Registry();

  Status Put(const v1::StoredJob& job);
  Result<std::vector<v1::StoredJob>> LoadAll() const;

 private:
  struct Impl;
  explicit Registry(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::coordinator
