// CheckpointStorage on a local directory: incremental uploads, completion,
// retention and garbage collection, damaged metadata, restore.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/checkpoint/metadata.h"
#include "common/checkpoint/storage.h"
#include "tests/unit/worker/test_util.h"
#include "worker/state/rocksdb_store.h"

namespace weir::state {
using checkpoint::CheckpointInfo;
using checkpoint::CheckpointStorage;
namespace {

namespace fs = std::filesystem;

using testutil::TempDir;

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A directory shaped like a RocksDB checkpoint: IDENTITY, the given SSTs
// (content derived from the name, so equal names have equal bytes), MANIFEST.
std::string FakeDb(const TempDir& tmp, const std::string& name, const std::string& dbid,
                   const std::vector<int>& ssts) {
  std::string dir = tmp.Sub(name);
  fs::create_directories(dir);
  WriteFile(dir + "/IDENTITY", dbid + "\n");
  for (int n : ssts) {
    char file[32];
    std::snprintf(file, sizeof file, "%06d.sst", n);
    WriteFile(dir + "/" + file, std::string(1000 + n, static_cast<char>('a' + n % 26)));
  }
  WriteFile(dir + "/MANIFEST-000100", "manifest of " + name);
  WriteFile(dir + "/CURRENT", "MANIFEST-000100\n");
  WriteFile(dir + "/OPTIONS-000007", "options");
  return dir;
}

// Metadata as the runtime gives it to Complete, telling itself apart by one
// source position.
std::string Meta(const std::string& position) {
  checkpoint::CheckpointMetadata m;
  m.job = "job1";
  checkpoint::TaskSnapshot t;
  t.vertex = "src";
  t.source_position = position;
  m.tasks.push_back(t);
  return m.Encode();
}

// The position that Meta() put into the metadata stored at `path`.
std::string PositionAt(const std::string& path) {
  auto bytes = CheckpointStorage::ReadMetadata(path);
  if (!bytes.ok()) return bytes.status().ToString();
  auto m = checkpoint::CheckpointMetadata::Decode(*bytes);
  if (!m.ok()) return m.status().ToString();
  return m->tasks.empty() ? "" : m->tasks[0].source_position.value_or("");
}

std::unique_ptr<CheckpointStorage> OpenStorage(const TempDir& tmp, int retain = 3) {
  auto r = CheckpointStorage::Open("file://" + tmp.Sub("storage"), "job1", retain);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

// Shared file name -> inode.
std::map<std::string, ino_t> SharedFiles(const CheckpointStorage& s) {
  std::map<std::string, ino_t> out;
  for (const auto& e : fs::directory_iterator(s.job_dir() + "/shared")) {
    struct stat st;
    if (::stat(e.path().c_str(), &st) == 0) out[e.path().filename().string()] = st.st_ino;
  }
  return out;
}

std::vector<int64_t> ListedIds(const CheckpointStorage& s) {
  auto list = s.List();
  EXPECT_TRUE(list.ok()) << list.status().ToString();
  std::vector<int64_t> ids;
  if (list.ok())
    for (const CheckpointInfo& i : *list) ids.push_back(i.savepoint ? -i.id : i.id);
  return ids;
}

// Uploads `local` as checkpoint `id` and completes it with Meta("meta-<id>").
std::string Checkpoint(CheckpointStorage& s, int64_t id, const std::string& local,
                       bool savepoint = false) {
  auto manifest = s.UploadDb(id, savepoint, local);
  EXPECT_TRUE(manifest.ok()) << manifest.status().ToString();
  if (!manifest.ok()) return "";
  Status st = s.Complete(id, savepoint, Meta("meta-" + std::to_string(id)), 1000 + id);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return *manifest;
}

// Every file under `dir`, relative path -> content.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      out[fs::relative(e.path(), dir).string()] = ReadFile(e.path().string());
  return out;
}

TEST(CheckpointStorage, OpenChecksItsArguments) {
  TempDir tmp;
  EXPECT_TRUE(CheckpointStorage::Open(tmp.Sub("a"), "job", 1).ok());  // plain path
  auto s = CheckpointStorage::Open("file://" + tmp.Sub("b") + "/", "job", 1);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->job_dir(), tmp.Sub("b") + "/job");
  EXPECT_TRUE(fs::is_directory(tmp.Sub("b/job/shared")));
  EXPECT_EQ(CheckpointStorage::Open("s3://bucket/x", "job", 1).status().code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(CheckpointStorage::Open("file://host/x", "job", 1).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckpointStorage::Open("relative/dir", "job", 1).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckpointStorage::Open(tmp.Sub("c"), "../escape", 1).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckpointStorage::Open(tmp.Sub("c"), "job", 0).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(CheckpointStorage, SecondUploadCopiesOnlyNewSsts) {
  TempDir tmp;
  auto s = OpenStorage(tmp);
  ASSERT_NE(s, nullptr);
  std::string m1 = Checkpoint(*s, 1, FakeDb(tmp, "local1", "db-A", {1, 2, 3}));
  auto after1 = SharedFiles(*s);
  EXPECT_EQ(after1.size(), 3u);
  EXPECT_TRUE(after1.count("db-A-000001.sst"));
  EXPECT_TRUE(fs::exists(s->job_dir() + "/chk-1/db/MANIFEST-000100"));
  EXPECT_TRUE(fs::exists(s->job_dir() + "/chk-1/db/CURRENT"));
  EXPECT_FALSE(fs::exists(s->job_dir() + "/chk-1/db/000001.sst"));  // shared, not here
  EXPECT_FALSE(fs::exists(s->job_dir() + "/chk-1/db/IDENTITY"));    // never restored

  // 2 and 3 are reused, 4 and 5 are new.
  std::string m2 = Checkpoint(*s, 2, FakeDb(tmp, "local2", "db-A", {2, 3, 4, 5}));
  auto after2 = SharedFiles(*s);
  EXPECT_EQ(after2.size(), 5u);
  for (const char* kept : {"db-A-000002.sst", "db-A-000003.sst"})
    EXPECT_EQ(after2[kept], after1[kept]) << kept << " was copied again";
  EXPECT_TRUE(after2.count("db-A-000004.sst"));
  EXPECT_TRUE(after2.count("db-A-000005.sst"));
  EXPECT_NE(m2.find("../shared/db-A-000002.sst"), std::string::npos) << m2;

  // Another database's files of the same number do not collide.
  Checkpoint(*s, 3, FakeDb(tmp, "local3", "db-B", {2}));
  auto after3 = SharedFiles(*s);
  EXPECT_TRUE(after3.count("db-B-000002.sst"));
  EXPECT_EQ(after3["db-A-000002.sst"], after1["db-A-000002.sst"]);

  // A shared file of the same name but a different size is an error, not reused.
  std::string odd = FakeDb(tmp, "local4", "db-A", {2});
  WriteFile(odd + "/000002.sst", "different");
  EXPECT_EQ(s->UploadDb(4, false, odd).status().code(), StatusCode::kDataLoss);
}

TEST(CheckpointStorage, CompleteListLatestAndMetadata) {
  TempDir tmp;
  auto s = OpenStorage(tmp);
  ASSERT_NE(s, nullptr);
  auto none = s->Latest();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  Checkpoint(*s, 1, FakeDb(tmp, "l1", "db-A", {1}));
  Checkpoint(*s, 2, FakeDb(tmp, "l2", "db-A", {1, 2}));
  // Complete without UploadDb: a job without keyed state.
  std::string binary("\0\x01\xff payload", 11);
  ASSERT_TRUE(s->Complete(3, false, Meta(binary), 5000).ok());
  EXPECT_EQ(s->Complete(3, false, Meta("again"), 6000).code(), StatusCode::kAlreadyExists);

  auto list = s->List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].id, 1);
  EXPECT_EQ((*list)[1].id, 2);
  EXPECT_EQ((*list)[1].completed_ms, 1002);
  EXPECT_FALSE((*list)[1].savepoint);
  EXPECT_EQ((*list)[1].path, s->job_dir() + "/chk-2");
  EXPECT_GT((*list)[1].bytes, (*list)[0].bytes);  // references one more SST
  EXPECT_GT((*list)[0].bytes, 1001u);             // metadata plus the files

  auto latest = s->Latest();
  ASSERT_TRUE(latest.ok());
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->id, 3);
  EXPECT_EQ((*latest)->completed_ms, 5000);

  EXPECT_EQ(PositionAt((*latest)->path), binary);
  auto id = CheckpointStorage::ReadId(s->job_dir() + "/chk-2");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, 2);
  EXPECT_EQ(CheckpointStorage::ReadMetadata(s->job_dir() + "/chk-9").status().code(),
            StatusCode::kNotFound);

  // A second instance over the same directory sees the same (a restarted process).
  auto again = OpenStorage(tmp);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(ListedIds(*again), (std::vector<int64_t>{1, 2, 3}));
}

TEST(CheckpointStorage, RetentionAndGarbageCollection) {
  TempDir tmp;
  auto s = OpenStorage(tmp, /*retain=*/2);
  ASSERT_NE(s, nullptr);
  Checkpoint(*s, 1, FakeDb(tmp, "l1", "db-A", {1, 2}));
  Checkpoint(*s, 2, FakeDb(tmp, "l2", "db-A", {2, 3}));
  EXPECT_EQ(ListedIds(*s), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(SharedFiles(*s).size(), 3u);

  Checkpoint(*s, 3, FakeDb(tmp, "l3", "db-A", {3, 4}));
  EXPECT_EQ(ListedIds(*s), (std::vector<int64_t>{2, 3}));
  EXPECT_FALSE(fs::exists(s->job_dir() + "/chk-1"));
  auto shared = SharedFiles(*s);
  EXPECT_FALSE(shared.count("db-A-000001.sst"));  // only chk-1 had it
  EXPECT_TRUE(shared.count("db-A-000002.sst"));   // chk-2 still does
  EXPECT_TRUE(shared.count("db-A-000003.sst"));
  EXPECT_TRUE(shared.count("db-A-000004.sst"));

  Checkpoint(*s, 4, FakeDb(tmp, "l4", "db-A", {4, 5}));
  EXPECT_EQ(ListedIds(*s), (std::vector<int64_t>{3, 4}));
  shared = SharedFiles(*s);
  EXPECT_EQ(shared.size(), 3u);
  EXPECT_FALSE(shared.count("db-A-000002.sst"));
  for (const char* f : {"db-A-000003.sst", "db-A-000004.sst", "db-A-000005.sst"})
    EXPECT_TRUE(shared.count(f)) << f;

  // The remaining checkpoints are restorable.
  auto list = s->List();
  ASSERT_TRUE(list.ok());
  for (const CheckpointInfo& info : *list) {
    std::string manifest = ReadFile(info.path + "/_db_manifest");
    std::string into = tmp.Sub("restore-" + std::to_string(info.id));
    ASSERT_TRUE(CheckpointStorage::DownloadDb(info.path, manifest, into).ok());
  }
}

TEST(CheckpointStorage, SavepointSurvivesRetentionAndIsSelfContained) {
  TempDir tmp;
  auto s = OpenStorage(tmp, /*retain=*/1);
  ASSERT_NE(s, nullptr);
  Checkpoint(*s, 1, FakeDb(tmp, "l1", "db-A", {1, 2}));
  std::string sp_manifest = Checkpoint(*s, 2, FakeDb(tmp, "l2", "db-A", {2, 3}), true);
  EXPECT_EQ(sp_manifest.find("../shared/"), std::string::npos) << sp_manifest;
  EXPECT_TRUE(fs::exists(s->job_dir() + "/savepoint-2/db/000002.sst"));
  for (int id = 3; id <= 5; ++id)
    Checkpoint(*s, id, FakeDb(tmp, "l" + std::to_string(id), "db-A", {id + 10}));

  EXPECT_EQ(ListedIds(*s), (std::vector<int64_t>{-2, 5}));
  auto latest = s->Latest();
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->id, 5);
  EXPECT_EQ(SharedFiles(*s).size(), 1u);  // only chk-5's

  // Moved elsewhere, the savepoint still restores.
  fs::rename(s->job_dir() + "/savepoint-2", tmp.Sub("moved-savepoint"));
  EXPECT_EQ(PositionAt(tmp.Sub("moved-savepoint")), "meta-2");
  ASSERT_TRUE(
      CheckpointStorage::DownloadDb(tmp.Sub("moved-savepoint"), sp_manifest, tmp.Sub("r")).ok());
  EXPECT_EQ(ReadFile(tmp.Sub("r/000003.sst")), ReadFile(tmp.Sub("l2/000003.sst")));
  EXPECT_EQ(ReadFile(tmp.Sub("r/MANIFEST-000100")), "manifest of l2");
}

TEST(CheckpointStorage, DamagedMetadataIsDataLossAndNotListed) {
  TempDir tmp;
  auto s = OpenStorage(tmp);
  ASSERT_NE(s, nullptr);
  Checkpoint(*s, 1, FakeDb(tmp, "l1", "db-A", {1}));
  Checkpoint(*s, 2, FakeDb(tmp, "l2", "db-A", {1}));
  Checkpoint(*s, 3, FakeDb(tmp, "l3", "db-A", {1}));
  const std::string meta2 = s->job_dir() + "/chk-2/_metadata";
  const std::string meta3 = s->job_dir() + "/chk-3/_metadata";

  // One flipped bit in chk-3.
  std::string bytes = ReadFile(meta3);
  bytes[bytes.size() / 2] ^= 0x10;
  WriteFile(meta3, bytes);
  auto r3 = CheckpointStorage::ReadMetadata(s->job_dir() + "/chk-3");
  EXPECT_EQ(r3.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r3.status().message().find(meta3), std::string::npos) << r3.status().message();
  EXPECT_EQ(CheckpointStorage::ReadId(s->job_dir() + "/chk-3").status().code(),
            StatusCode::kDataLoss);

  // chk-2 torn: only its first half.
  bytes = ReadFile(meta2);
  WriteFile(meta2, bytes.substr(0, bytes.size() / 2));
  EXPECT_EQ(CheckpointStorage::ReadMetadata(s->job_dir() + "/chk-2").status().code(),
            StatusCode::kDataLoss);
  WriteFile(meta2, "");
  EXPECT_EQ(CheckpointStorage::ReadMetadata(s->job_dir() + "/chk-2").status().code(),
            StatusCode::kDataLoss);

  EXPECT_EQ(ListedIds(*s), (std::vector<int64_t>{1}));
  auto latest = s->Latest();
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->id, 1);

  // Metadata copied under another checkpoint's name is not taken for it.
  fs::copy_file(s->job_dir() + "/chk-1/_metadata", s->job_dir() + "/chk-2/_metadata",
                fs::copy_options::overwrite_existing);
  EXPECT_EQ(ListedIds(*s), (std::vector<int64_t>{1}));
}

// Every file storage reads whole has a size limit: a huge _metadata (damage,
// or not weir's) is refused before it is read, with its size and the limit.
TEST(CheckpointStorage, OversizedFilesAreRefusedUnread) {
  TempDir tmp;
  auto s = OpenStorage(tmp);
  ASSERT_NE(s, nullptr);
  Checkpoint(*s, 1, FakeDb(tmp, "l1", "db-A", {1}));
  Checkpoint(*s, 2, FakeDb(tmp, "l2", "db-A", {1}));
  const std::string meta = s->job_dir() + "/chk-2/_metadata";
  ASSERT_EQ(::truncate(meta.c_str(), (off_t{64} << 20) + 1), 0);  // sparse: nothing written
  auto r = CheckpointStorage::ReadMetadata(s->job_dir() + "/chk-2");
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find(meta), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("64 MiB"), std::string::npos) << r.status().message();
  EXPECT_EQ(ListedIds(*s), (std::vector<int64_t>{1}));

  // A database whose IDENTITY is not a UUID's size is not uploaded.
  const std::string odd = FakeDb(tmp, "l3", "db-A", {1});
  WriteFile(odd + "/IDENTITY", std::string(5000, 'x'));
  EXPECT_EQ(s->UploadDb(3, false, odd).status().code(), StatusCode::kDataLoss);
}

TEST(CheckpointStorage, UncompletedCheckpointIsIgnoredAndAbortCleansUp) {
  TempDir tmp;
  auto s = OpenStorage(tmp);
  ASSERT_NE(s, nullptr);
  Checkpoint(*s, 1, FakeDb(tmp, "l1", "db-A", {1, 2}));
  auto m2 = s->UploadDb(2, false, FakeDb(tmp, "l2", "db-A", {2, 3}));
  ASSERT_TRUE(m2.ok()) << m2.status().ToString();
  EXPECT_EQ(SharedFiles(*s).size(), 3u);
  EXPECT_TRUE(fs::exists(s->job_dir() + "/chk-2/db"));
  EXPECT_FALSE(fs::exists(s->job_dir() + "/chk-2/_metadata"));

  auto latest = s->Latest();
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->id, 1);
  EXPECT_EQ(ListedIds(*s), (std::vector<int64_t>{1}));

  // An upload can be retried under the same id.
  ASSERT_TRUE(s->UploadDb(2, false, FakeDb(tmp, "l2b", "db-A", {2, 3})).ok());

  ASSERT_TRUE(s->Abort(2, false).ok());
  EXPECT_FALSE(fs::exists(s->job_dir() + "/chk-2"));
  auto shared = SharedFiles(*s);
  EXPECT_EQ(shared.size(), 2u);  // 3 was only chk-2's
  EXPECT_FALSE(shared.count("db-A-000003.sst"));
  EXPECT_TRUE(s->Abort(2, false).ok());  // nothing left: fine
  EXPECT_TRUE(s->Abort(77, true).ok());  // never existed: fine

  // A completed checkpoint is not aborted.
  EXPECT_EQ(s->Abort(1, false).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ListedIds(*s), (std::vector<int64_t>{1}));
  // Nor uploaded into again.
  EXPECT_EQ(s->UploadDb(1, false, tmp.Sub("l1")).status().code(), StatusCode::kAlreadyExists);
}

TEST(CheckpointStorage, DownloadDbChecksWhatItRestores) {
  TempDir tmp;
  auto s = OpenStorage(tmp);
  ASSERT_NE(s, nullptr);
  std::string manifest = Checkpoint(*s, 1, FakeDb(tmp, "l1", "db-A", {1, 2}));
  const std::string chk = s->job_dir() + "/chk-1";

  ASSERT_TRUE(CheckpointStorage::DownloadDb(chk, manifest, tmp.Sub("r1")).ok());
  EXPECT_EQ(ReadFile(tmp.Sub("r1/000001.sst")), ReadFile(tmp.Sub("l1/000001.sst")));
  EXPECT_EQ(ReadFile(tmp.Sub("r1/CURRENT")), "MANIFEST-000100\n");
  EXPECT_FALSE(fs::exists(tmp.Sub("r1/IDENTITY")));
  // SSTs are linked (same file system), everything else is a copy.
  struct stat sst, man;
  ASSERT_EQ(::stat(tmp.Sub("r1/000001.sst").c_str(), &sst), 0);
  ASSERT_EQ(::stat(tmp.Sub("r1/MANIFEST-000100").c_str(), &man), 0);
  EXPECT_EQ(sst.st_nlink, 2u);
  EXPECT_EQ(man.st_nlink, 1u);

  EXPECT_EQ(CheckpointStorage::DownloadDb(chk, manifest, tmp.Sub("r1")).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(CheckpointStorage::DownloadDb(chk, "garbage", tmp.Sub("r2")).code(),
            StatusCode::kDataLoss);
  std::string escaping = "weir-db-manifest 1\ndbid x\nCURRENT 1 ../../../etc/passwd\n";
  EXPECT_EQ(CheckpointStorage::DownloadDb(chk, escaping, tmp.Sub("r2")).code(),
            StatusCode::kDataLoss);
  EXPECT_FALSE(fs::exists(tmp.Sub("r2")));

  // A missing or truncated stored file is data loss, and nothing is left behind.
  WriteFile(s->job_dir() + "/shared/db-A-000002.sst", "short");
  Status st = CheckpointStorage::DownloadDb(chk, manifest, tmp.Sub("r3"));
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_FALSE(fs::exists(tmp.Sub("r3")));
  fs::remove(s->job_dir() + "/shared/db-A-000002.sst");
  st = CheckpointStorage::DownloadDb(chk, manifest, tmp.Sub("r3"));
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("db-A-000002.sst"), std::string::npos) << st.message();
}

// The bytes a DB manifest's files add up to.
uint64_t ManifestBytes(const std::string& manifest) {
  uint64_t total = 0;
  std::istringstream in(manifest);
  std::string line;
  for (int n = 0; std::getline(in, line); ++n) {
    if (n < 2) continue;  // header, dbid
    std::istringstream fields(line);
    std::string name, stored;
    uint64_t size = 0;
    fields >> name >> size >> stored;
    total += size;
  }
  return total;
}

std::unique_ptr<RocksDbStore> OpenDb(const std::string& dir) {
  RocksDbOptions o;
  o.dir = dir;
  o.write_buffer_bytes = 256 << 10;
  o.block_cache_bytes = 1 << 20;
  o.task_cache_bytes = 0;  // write-through: the tests checkpoint the database directly
  auto r = RocksDbStore::Open(o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

// Two worker processes, each with its database, upload into one checkpoint;
// each part restores to its own database.
TEST(CheckpointStorage, PartsOfOneCheckpointFromTwoDatabases) {
  TempDir tmp;
  auto storage = OpenStorage(tmp);
  ASSERT_NE(storage, nullptr);
  // Worker w1 owns key groups 0..31, w2 32..63.
  std::unique_ptr<RocksDbStore> live[2] = {OpenDb(tmp.Sub("live-w1")), OpenDb(tmp.Sub("live-w2"))};
  ASSERT_NE(live[0], nullptr);
  ASSERT_NE(live[1], nullptr);
  for (int w = 0; w < 2; ++w) {
    auto view = live[w]->NewBackend();
    StateId id = view->Register("op", "counts");
    for (int i = 0; i < 1000; ++i)
      ASSERT_TRUE(view->Put(id, 32 * w + i % 32, "k" + std::to_string(i),
                            "w" + std::to_string(w + 1) + "-" + std::to_string(i))
                      .ok());
    ASSERT_TRUE(live[w]->CreateLocalCheckpoint(tmp.Sub("local-w" + std::to_string(w + 1))).ok());
  }
  EXPECT_NE(ReadFile(tmp.Sub("local-w1/IDENTITY")), ReadFile(tmp.Sub("local-w2/IDENTITY")));

  auto m1 = storage->UploadDb(1, false, tmp.Sub("local-w1"), "w1");
  ASSERT_TRUE(m1.ok()) << m1.status().ToString();
  // A first attempt of w2, then its retry from a newer local checkpoint: the
  // retry replaces w2's files and leaves w1's alone.
  auto first_try = storage->UploadDb(1, false, FakeDb(tmp, "stale-w2", "db-stale", {7}), "w2");
  ASSERT_TRUE(first_try.ok()) << first_try.status().ToString();
  const std::string chk = storage->job_dir() + "/chk-1";
  const auto w1_files = Snapshot(chk + "/db.w1");
  auto m2 = storage->UploadDb(1, false, tmp.Sub("local-w2"), "w2");
  ASSERT_TRUE(m2.ok()) << m2.status().ToString();
  EXPECT_EQ(Snapshot(chk + "/db.w1"), w1_files);
  EXPECT_EQ(ReadFile(chk + "/_db_manifest.w1"), *m1);
  EXPECT_EQ(ReadFile(chk + "/_db_manifest.w2"), *m2);
  EXPECT_FALSE(fs::exists(chk + "/db.w2/MANIFEST-000100")) << "the first try's file is left";

  // Each part has its own manifest and directory; the layout of part "" is not used.
  EXPECT_NE(m1->find(" db.w1/CURRENT\n"), std::string::npos) << *m1;
  EXPECT_NE(m2->find(" db.w2/CURRENT\n"), std::string::npos) << *m2;
  EXPECT_TRUE(fs::exists(chk + "/db.w1/CURRENT"));
  EXPECT_TRUE(fs::exists(chk + "/db.w2/CURRENT"));
  EXPECT_FALSE(fs::exists(chk + "/_db_manifest"));
  EXPECT_FALSE(fs::exists(chk + "/db"));

  // Part names are single path components without dots.
  for (const char* bad : {"w.1", "../w1", "w/1", ".", "w 1"})
    EXPECT_EQ(storage->UploadDb(1, false, tmp.Sub("local-w1"), bad).status().code(),
              StatusCode::kInvalidArgument)
        << bad;

  ASSERT_TRUE(storage->Complete(1, false, Meta("meta"), 1000).ok());
  auto list = storage->List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].bytes,
            fs::file_size(chk + "/_metadata") + ManifestBytes(*m1) + ManifestBytes(*m2));
  // Only the replaced first try of w2 referenced this one: garbage now.
  EXPECT_EQ(SharedFiles(*storage).count("db-stale-000007.sst"), 0u);

  for (const char* part : {"w1", "w2"}) {
    std::string manifest = ReadFile(chk + "/_db_manifest." + part);
    ASSERT_TRUE(
        CheckpointStorage::DownloadDb(chk, manifest, tmp.Sub(std::string("restore-") + part)).ok());
  }

  // Rescaled: a worker that now owns key groups 16..47 takes its state from
  // both parts, which it leaves as they are.
  {
    const auto before1 = Snapshot(tmp.Sub("restore-w1"));
    const auto before2 = Snapshot(tmp.Sub("restore-w2"));
    auto store = OpenDb(tmp.Sub("rescaled"));
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->ImportKeyGroups(tmp.Sub("restore-w1"), {{16, 47}}).ok());
    ASSERT_TRUE(store->ImportKeyGroups(tmp.Sub("restore-w2"), {{16, 47}}).ok());
    EXPECT_EQ(Snapshot(tmp.Sub("restore-w1")), before1);
    EXPECT_EQ(Snapshot(tmp.Sub("restore-w2")), before2);
    auto view = store->NewBackend();
    StateId id = view->Register("op", "counts");
    std::map<int, size_t> per_kg;
    ASSERT_TRUE(view->Scan(id, {0, 65535},
                           [&](int kg, std::string_view k, std::string_view v) {
                             EXPECT_EQ(std::string(v),
                                       (kg < 32 ? "w1-" : "w2-") + std::string(k.substr(1)));
                             ++per_kg[kg];
                             return true;
                           })
                    .ok());
    ASSERT_EQ(per_kg.size(), 32u);
    EXPECT_EQ(per_kg.begin()->first, 16);
    EXPECT_EQ(per_kg.rbegin()->first, 47);
  }

  // Each part restores as a database of its own, with its own data only.
  for (int w = 0; w < 2; ++w) {
    const std::string part = "w" + std::to_string(w + 1);
    auto store = OpenDb(tmp.Sub("restore-" + part));
    ASSERT_NE(store, nullptr);
    auto view = store->NewBackend();
    StateId id = view->Register("op", "counts");
    size_t n = 0;
    ASSERT_TRUE(view->Scan(id, {0, 65535},
                           [&](int kg, std::string_view k, std::string_view v) {
                             EXPECT_EQ(kg / 32, w) << k;
                             EXPECT_EQ(std::string(v), part + "-" + std::string(k.substr(1)));
                             ++n;
                             return true;
                           })
                    .ok());
    EXPECT_EQ(n, 1000u);
  }
}

// Garbage collection reads the manifests of every part.
TEST(CheckpointStorage, GarbageCollectionKeepsWhatAnyPartReferences) {
  TempDir tmp;
  auto s = OpenStorage(tmp, /*retain=*/1);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->UploadDb(1, false, FakeDb(tmp, "l1-w1", "db-A", {1, 2}), "w1").ok());
  ASSERT_TRUE(s->UploadDb(1, false, FakeDb(tmp, "l1-w2", "db-B", {1, 3}), "w2").ok());
  ASSERT_TRUE(s->Complete(1, false, Meta("meta-1"), 1001).ok());
  EXPECT_EQ(SharedFiles(*s).size(), 4u);

  ASSERT_TRUE(s->UploadDb(2, false, FakeDb(tmp, "l2-w1", "db-A", {2, 4}), "w1").ok());
  ASSERT_TRUE(s->UploadDb(2, false, FakeDb(tmp, "l2-w2", "db-B", {3, 5}), "w2").ok());
  // An in-flight checkpoint with only one part uploaded so far holds on to
  // its SSTs too.
  ASSERT_TRUE(s->UploadDb(3, false, FakeDb(tmp, "l3-w2", "db-B", {5, 6}), "w2").ok());
  ASSERT_TRUE(s->Complete(2, false, Meta("meta-2"), 1002).ok());
  EXPECT_EQ(ListedIds(*s), (std::vector<int64_t>{2}));
  auto shared = SharedFiles(*s);
  for (const char* gone : {"db-A-000001.sst", "db-B-000001.sst"})
    EXPECT_FALSE(shared.count(gone)) << gone << " is referenced by no part";
  for (const char* kept : {"db-A-000002.sst", "db-A-000004.sst",  // chk-2 w1
                           "db-B-000003.sst", "db-B-000005.sst",  // chk-2 w2
                           "db-B-000006.sst"})                    // chk-3 w2, in flight
    EXPECT_TRUE(shared.count(kept)) << kept;
  EXPECT_EQ(shared.size(), 5u);

  // Aborting the in-flight one drops what only it referenced.
  ASSERT_TRUE(s->Abort(3, false).ok());
  shared = SharedFiles(*s);
  EXPECT_FALSE(shared.count("db-B-000006.sst"));
  EXPECT_EQ(shared.size(), 4u);

  // Both parts of the remaining checkpoint restore.
  const std::string chk = s->job_dir() + "/chk-2";
  for (const char* part : {"w1", "w2"}) {
    std::string manifest = ReadFile(chk + "/_db_manifest." + part);
    ASSERT_TRUE(
        CheckpointStorage::DownloadDb(chk, manifest, tmp.Sub(std::string("r-") + part)).ok())
        << part;
  }
  EXPECT_EQ(ReadFile(tmp.Sub("r-w2/000005.sst")), ReadFile(tmp.Sub("l2-w2/000005.sst")));
  EXPECT_EQ(ReadFile(tmp.Sub("r-w1/MANIFEST-000100")), "manifest of l2-w1");
}

// The whole path with a real database: checkpoint, upload, restore, write to
// the restored database, restore again.
TEST(CheckpointStorage, RestoredRocksDbGivesTheDataBackAndLeavesStorageAlone) {
  TempDir tmp;
  auto storage = OpenStorage(tmp);
  ASSERT_NE(storage, nullptr);
  RocksDbOptions o;
  o.dir = tmp.Sub("live");
  o.write_buffer_bytes = 256 << 10;
  o.block_cache_bytes = 1 << 20;
  auto opened = RocksDbStore::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<RocksDbStore> live = std::move(opened).value();
  auto view = live->NewBackend();
  StateId id = view->Register("op", "counts");
  for (int i = 0; i < 3000; ++i)
    ASSERT_TRUE(view->Put(id, i % 64, "k" + std::to_string(i), "v1-" + std::to_string(i)).ok());
  ASSERT_TRUE(view->Flush().ok());  // as a task does at the barrier
  ASSERT_TRUE(live->CreateLocalCheckpoint(tmp.Sub("local1")).ok());
  std::string m1 = Checkpoint(*storage, 1, tmp.Sub("local1"));
  auto shared1 = SharedFiles(*storage);
  EXPECT_FALSE(shared1.empty());

  // More writes, a second (incremental) checkpoint: the first one's SSTs are
  // still live (too few for a compaction) and are not copied again.
  for (int i = 3000; i < 3500; ++i)
    ASSERT_TRUE(view->Put(id, i % 64, "k" + std::to_string(i), "v1-" + std::to_string(i)).ok());
  ASSERT_TRUE(view->Flush().ok());
  ASSERT_TRUE(live->CreateLocalCheckpoint(tmp.Sub("local2")).ok());
  std::string m2 = Checkpoint(*storage, 2, tmp.Sub("local2"));
  auto shared2 = SharedFiles(*storage);
  EXPECT_GT(shared2.size(), shared1.size());
  for (const auto& [name, inode] : shared1)
    if (m2.find(name) != std::string::npos) {
      EXPECT_EQ(shared2[name], inode) << name;
    }
  // The live store moves on after the checkpoint; none of it is restored.
  ASSERT_TRUE(view->Put(id, 1, "after", "x").ok());

  auto latest = storage->Latest();
  ASSERT_TRUE(latest.ok() && latest->has_value());
  const std::string chk = (*latest)->path;
  const auto stored_before = Snapshot(storage->job_dir());

  auto check = [&](RocksDbStore& store, int keys) {
    auto v = store.NewBackend();
    EXPECT_EQ(v->Register("op", "counts"), id);
    size_t n = 0;
    EXPECT_TRUE(v->Scan(id, {0, 65535}, [&](int, std::string_view k, std::string_view val) {
                   EXPECT_EQ("v1-" + std::string(k.substr(1)), std::string(val));
                   ++n;
                   return true;
                 }).ok());
    EXPECT_EQ(n, static_cast<size_t>(keys));
    std::string value;
    auto r = v->Get(id, 1, "after", &value);
    EXPECT_TRUE(r.ok() && !*r);
  };

  // Restore once, check, then change the restored database a lot (new SSTs,
  // compactions, MANIFEST appends).
  ASSERT_TRUE(CheckpointStorage::DownloadDb(chk, m2, tmp.Sub("restore1")).ok());
  {
    o.dir = tmp.Sub("restore1");
    auto r1 = RocksDbStore::Open(o);
    ASSERT_TRUE(r1.ok()) << r1.status().ToString();
    check(**r1, 3500);
    auto v = (*r1)->NewBackend();
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < 3500; ++i)
        ASSERT_TRUE(v->Put(id, i % 64, "k" + std::to_string(i), "changed").ok());
      ASSERT_TRUE(v->Flush().ok());
      ASSERT_TRUE((*r1)->CreateLocalCheckpoint(tmp.Sub("scratch" + std::to_string(round))).ok());
    }
    ASSERT_TRUE((*r1)->DropKeyGroupsOutside({{0, 10}}).ok());
    StateId extra = v->Register("op", "extra");
    EXPECT_NE(extra, id);
    // A restored database has an identity of its own: its new SSTs cannot
    // take the names of the original's in shared/.
    EXPECT_NE(ReadFile(tmp.Sub("restore1/IDENTITY")), ReadFile(tmp.Sub("local2/IDENTITY")));
  }
  EXPECT_EQ(Snapshot(storage->job_dir()), stored_before);

  // Restore a second time: the same data as the first time.
  ASSERT_TRUE(CheckpointStorage::DownloadDb(chk, m2, tmp.Sub("restore2")).ok());
  o.dir = tmp.Sub("restore2");
  auto r2 = RocksDbStore::Open(o);
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  check(**r2, 3500);
  auto v2 = (*r2)->NewBackend();
  EXPECT_EQ(v2->Register("op", "extra"), id + 1);  // not known to the checkpoint

  // The older checkpoint restores too, with only what it had.
  ASSERT_TRUE(
      CheckpointStorage::DownloadDb(storage->job_dir() + "/chk-1", m1, tmp.Sub("r-1")).ok());
  o.dir = tmp.Sub("r-1");
  auto r3 = RocksDbStore::Open(o);
  ASSERT_TRUE(r3.ok()) << r3.status().ToString();
  check(**r3, 3000);
}

}  // namespace
}  // namespace weir::state
