#include "coordinator/registry.h"

#include <rocksdb/db.h>

namespace weir::coordinator {

struct Registry::Impl {
  std::unique_ptr<rocksdb::DB> db;
  std::string dir;
};

Registry::Registry(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Registry::~Registry() = default;

Result<std::unique_ptr<Registry>> Registry::Open(const std::string& dir) {
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, dir, &db);
  if (!s.ok())
    return Status::Unavailable("cannot open the job registry in " + dir + ": " + s.ToString());
  auto impl = std::make_unique<Impl>();
  impl->db.reset(db);
  impl->dir = dir;
  return std::unique_ptr<Registry>(new Registry(std::move(impl)));
}

Status Registry::Put(const v1::StoredJob& job) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = impl_->db->Put(wo, "job/" + job.id(), job.SerializeAsString());
  if (!s.ok()) return Status::Unavailable("writing the job registry: " + s.ToString());
  return Status::OK();
}

Result<std::vector<v1::StoredJob>> Registry::LoadAll() const {
  std::vector<v1::StoredJob> out;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("job/"); it->Valid() && it->key().starts_with("job/"); it->Next()) {
    v1::StoredJob j;
    if (!j.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())))
      return Status::DataLoss("damaged job record " + it->key().ToString() + " in " + impl_->dir);
    out.push_back(std::move(j));
  }
  if (!it->status().ok())
    return Status::DataLoss("reading the job registry: " + it->status().ToString());
  return out;
}

}  // namespace weir::coordinator
