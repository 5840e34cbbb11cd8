// Checkpoint metadata (common/checkpoint/metadata.h, metadata_file.h): the
// weir.v1.CheckpointMetadata message, its _metadata file (magic, major
// version, CRC32C), versions, and the savepoint of weir baa98f9 in the
// hand-written format before it (tests/fixtures/savepoint-baa98f9).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/checkpoint/metadata.h"
#include "common/checkpoint/metadata_file.h"
#include "common/checkpoint/storage.h"

namespace weir::checkpoint {
namespace {

namespace fs = std::filesystem;

const std::string kFixture = WEIR_SOURCE_DIR "/tests/fixtures/savepoint-baa98f9/savepoint-3";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

// CRC32C bit by bit: not the table metadata_file.cc uses, so a mistake in
// either shows.
uint32_t SlowCrc32c(std::string_view data) {
  uint32_t c = 0xffffffffu;
  for (char ch : data) {
    c ^= static_cast<uint8_t>(ch);
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
  }
  return ~c;
}

void PutLE(uint64_t v, int bytes, std::string* out) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// A _metadata file written by hand: magic, `major`, `body`, CRC32C.
std::string Frame(uint32_t major, const std::string& body) {
  std::string out = "WEIRMETA";
  PutLE(major, 4, &out);
  out += body;
  PutLE(SlowCrc32c(out), 4, &out);
  return out;
}

// A unique scratch directory, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("weir_metadata_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string Sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

CheckpointMetadata Sample() {
  CheckpointMetadata m;
  m.id = 42;
  m.savepoint = true;
  m.job = "orders";
  m.max_parallelism = 256;
  m.completed_ms = 1'700'000'000'000;
  TaskSnapshot a;
  a.vertex = "src";
  a.subtask = 1;
  a.source_position = std::string("\0\1\2\xff", 4);  // connectors' bytes: any bytes
  TaskSnapshot b;
  b.vertex = "sink";
  b.subtask = 0;
  b.sink_state = "prepared";
  TaskSnapshot c;  // a task with neither
  c.vertex = "per_user";
  c.subtask = 3;
  m.tasks = {a, b, c};
  m.db_parts = {{"", "manifest", {{0, 127}}}, {"w2", "other", {{128, 200}, {210, 255}}}};
  return m;
}

void ExpectSample(const CheckpointMetadata& back) {
  EXPECT_EQ(back.id, 42);
  EXPECT_TRUE(back.savepoint);
  EXPECT_EQ(back.job, "orders");
  EXPECT_EQ(back.max_parallelism, 256);
  EXPECT_EQ(back.completed_ms, 1'700'000'000'000);
  EXPECT_EQ(back.SourcePositions("src"),
            (std::vector<std::string>{"", std::string("\0\1\2\xff", 4)}));
  ASSERT_NE(back.Find("sink", 0), nullptr);
  EXPECT_EQ(back.Find("sink", 0)->sink_state, "prepared");
  EXPECT_FALSE(back.Find("sink", 0)->source_position.has_value());
  ASSERT_NE(back.Find("per_user", 3), nullptr);
  EXPECT_FALSE(back.Find("per_user", 3)->source_position.has_value());
  EXPECT_FALSE(back.Find("per_user", 3)->sink_state.has_value());
  EXPECT_EQ(back.Find("sink", 1), nullptr);
  ASSERT_EQ(back.db_parts.size(), 2u);
  EXPECT_EQ(back.db_parts[0].name, "");
  EXPECT_EQ(back.db_parts[0].manifest, "manifest");
  EXPECT_EQ(back.db_parts[0].key_groups, (std::vector<KeyGroupRange>{{0, 127}}));
  EXPECT_EQ(back.db_parts[1].name, "w2");
  EXPECT_EQ(back.db_parts[1].key_groups, (std::vector<KeyGroupRange>{{128, 200}, {210, 255}}));
}

// A message of format `major`.`minor` with the sample's id, and a field this
// weir does not know (as a newer weir's would have).
std::string MessageOfFormat(uint32_t major, uint32_t minor) {
  v1::CheckpointMetadata m;
  m.mutable_format_version()->set_major(major);
  m.mutable_format_version()->set_minor(minor);
  m.set_id(42);
  m.set_job("orders");
  m.set_max_parallelism(128);
  std::string bytes = m.SerializeAsString();
  bytes += std::string("\xa2\x06\x03new", 6);  // field 100, length-delimited "new"
  return bytes;
}

TEST(CheckpointMetadata, MessageRoundTrips) {
  auto back = CheckpointMetadata::Decode(Sample().Encode());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSample(*back);
  // It is this weir's format, stated in the message.
  v1::CheckpointMetadata m;
  ASSERT_TRUE(m.ParseFromString(Sample().Encode()));
  EXPECT_EQ(m.format_version().major(), kMetadataMajor);
  EXPECT_EQ(m.format_version().minor(), kMetadataMinor);
}

TEST(CheckpointMetadata, NewerMinorIsReadAndNewerMajorRefused) {
  // A newer minor version only adds fields: read, the new field ignored.
  auto minor = CheckpointMetadata::Decode(MessageOfFormat(kMetadataMajor, kMetadataMinor + 1));
  ASSERT_TRUE(minor.ok()) << minor.status().ToString();
  EXPECT_EQ(minor->id, 42);

  auto major = CheckpointMetadata::Decode(MessageOfFormat(kMetadataMajor + 1, 4));
  ASSERT_EQ(major.status().code(), StatusCode::kFailedPrecondition) << major.status().ToString();
  const std::string& msg = major.status().message();
  EXPECT_NE(msg.find("format 3.4 is newer than this weir's (2.0)"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("checkpoint metadata format"), 0u) << msg;  // no path: a share has none

  EXPECT_EQ(CheckpointMetadata::Decode("not a message").status().code(), StatusCode::kDataLoss);
  // No version at all (not something weir wrote), or 1, which was never a message.
  EXPECT_EQ(CheckpointMetadata::Decode("").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(CheckpointMetadata::Decode(MessageOfFormat(1, 0)).status().code(),
            StatusCode::kDataLoss);
}

// Subtasks and key groups index arrays on restore: a message whose numbers
// are out of range is refused, not used.
TEST(CheckpointMetadata, IndexesOutsideMaxParallelismAreDataLoss) {
  CheckpointMetadata m = Sample();  // max_parallelism 256
  m.tasks[0].subtask = 256;
  EXPECT_EQ(CheckpointMetadata::Decode(m.Encode()).status().code(), StatusCode::kDataLoss);
  m.tasks[0].subtask = -1;
  EXPECT_EQ(CheckpointMetadata::Decode(m.Encode()).status().code(), StatusCode::kDataLoss);
  m = Sample();
  m.db_parts[1].key_groups[1].end = 256;
  auto r = CheckpointMetadata::Decode(m.Encode());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("key groups 210..256 in part 'w2'"), std::string::npos)
      << r.status().message();
  m = Sample();
  m.max_parallelism = 0;
  EXPECT_EQ(CheckpointMetadata::Decode(m.Encode()).status().code(), StatusCode::kDataLoss);
  m = Sample();
  m.db_parts[0].key_groups = {{5, 4}};  // empty: allowed
  EXPECT_TRUE(CheckpointMetadata::Decode(m.Encode()).ok());
}

TEST(MetadataFile, RoundTripsWithItsHeader) {
  v1::CheckpointMetadata m;
  ASSERT_TRUE(m.ParseFromString(Sample().Encode()));
  m.set_files_bytes(12345);
  const std::string file = EncodeMetadataFile(m);
  EXPECT_EQ(file.substr(0, 12), std::string("WEIRMETA\x02\0\0\0", 12));
  EXPECT_EQ(file, Frame(2, file.substr(12, file.size() - 16)));  // the CRC32C is the trailer

  auto back = DecodeMetadataFile(file, "/x/_metadata");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->files_bytes(), 12345u);
  auto decoded = CheckpointMetadata::Decode(back->SerializeAsString());
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ExpectSample(*decoded);
}

TEST(MetadataFile, AnyDamagedByteOrCutIsDataLossNamingTheFile) {
  v1::CheckpointMetadata m;
  ASSERT_TRUE(m.ParseFromString(Sample().Encode()));
  const std::string file = EncodeMetadataFile(m);
  for (size_t i = 0; i < file.size(); ++i) {
    std::string bad = file;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    auto r = DecodeMetadataFile(bad, "/x/_metadata");
    ASSERT_EQ(r.status().code(), StatusCode::kDataLoss) << i << " " << r.status().ToString();
    const std::string& msg = r.status().message();
    EXPECT_NE(msg.find("corrupt checkpoint metadata /x/_metadata: "), std::string::npos) << msg;
    if (i < 8)
      EXPECT_NE(msg.find("bad magic number"), std::string::npos) << i << " " << msg;
    else
      EXPECT_NE(msg.find("checksum mismatch"), std::string::npos) << i << " " << msg;
  }
  for (size_t cut = 0; cut < file.size(); ++cut)
    EXPECT_EQ(DecodeMetadataFile(file.substr(0, cut), "/x/_metadata").status().code(),
              StatusCode::kDataLoss)
        << cut;
}

TEST(MetadataFile, NewerMajorIsRefusedWithBothVersions) {
  // Written by a weir of format 3: its header says so; refused unparsed.
  auto r = DecodeMetadataFile(Frame(3, MessageOfFormat(3, 0)), "/x/_metadata");
  ASSERT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
  std::string msg = r.status().message();
  EXPECT_EQ(msg,
            "/x/_metadata: checkpoint metadata format 3.x is newer than this weir's (2.0): "
            "restore it with a weir that reads format 3, or restore the job with this weir from "
            "a savepoint of format 2 or older");
  // Even when a newer weir frames it differently (here: no message at all).
  EXPECT_EQ(DecodeMetadataFile(Frame(7, ""), "/x/_metadata").status().code(),
            StatusCode::kFailedPrecondition);
  // A message that says it is newer than its header: still refused, never misread.
  r = DecodeMetadataFile(Frame(2, MessageOfFormat(3, 1)), "/x/_metadata");
  ASSERT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
  EXPECT_NE(r.status().message().find("format 3.1"), std::string::npos) << r.status().message();
  // A newer minor is read.
  auto minor = DecodeMetadataFile(Frame(2, MessageOfFormat(2, 7)), "/x/_metadata");
  ASSERT_TRUE(minor.ok()) << minor.status().ToString();
  EXPECT_EQ(minor->id(), 42);
}

// Storage with a newer weir's checkpoint in the job's directory (weir
// downgraded): `latest` must not quietly become an older checkpoint, or
// none, and retention must not delete what it cannot read.
TEST(MetadataFile, StorageNeitherListsNorDeletesANewerCheckpoint) {
  TempDir tmp;
  auto s = CheckpointStorage::Open("file://" + tmp.Sub("chk"), "orders", /*retain=*/1);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  CheckpointMetadata m = Sample();
  ASSERT_TRUE((*s)->Complete(1, false, m.Encode(), 1001).ok());
  const std::string newer = (*s)->job_dir() + "/chk-2";
  fs::create_directories(newer);
  WriteFile(newer + "/_metadata", Frame(3, MessageOfFormat(3, 0)));

  auto list = (*s)->List();
  EXPECT_EQ(list.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(list.status().message().find(newer + "/_metadata"), std::string::npos)
      << list.status().message();
  EXPECT_EQ((*s)->Latest().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(CheckpointStorage::ReadMetadata(newer).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ((*s)->Abort(2, false).code(), StatusCode::kFailedPrecondition);

  // Retention (retain 1) after checkpoint 3 deletes 1, never the newer 2.
  ASSERT_TRUE((*s)->Complete(3, false, m.Encode(), 1003).ok());
  EXPECT_FALSE(fs::exists((*s)->job_dir() + "/chk-1"));
  EXPECT_TRUE(fs::exists(newer + "/_metadata"));
}

TEST(MetadataFile, CompleteTakesOnlyAMessageAndRecordsWhereItIs) {
  TempDir tmp;
  auto s = CheckpointStorage::Open("file://" + tmp.Sub("chk"), "orders", 3);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)->Complete(1, false, "not a message", 1001).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists((*s)->job_dir() + "/chk-1"));
  // Storage records the id, kind and time of where it stored it.
  ASSERT_TRUE((*s)->Complete(5, false, Sample().Encode(), 1005).ok());
  auto bytes = CheckpointStorage::ReadMetadata((*s)->job_dir() + "/chk-5");
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto back = CheckpointMetadata::Decode(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->id, 5);
  EXPECT_FALSE(back->savepoint);
  EXPECT_EQ(back->completed_ms, 1005);
  EXPECT_EQ(back->tasks.size(), 3u);
}

// ---- format 1: weir up to baa98f9 ------------------------------------------

// The savepoint that weir baa98f9 took (tests/fixtures/savepoint-baa98f9).
TEST(LegacyMetadata, SavepointOfBaa98f9ReadsBack) {
  const std::string raw = ReadFile(kFixture + "/_metadata");
  ASSERT_EQ(raw.substr(0, 12), std::string("WEIRMETA\x01\0\0\0", 12)) << "not the fixture";

  auto id = CheckpointStorage::ReadId(kFixture);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, 3);
  auto bytes = CheckpointStorage::ReadMetadata(kFixture);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto m = CheckpointMetadata::Decode(*bytes);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->id, 3);
  EXPECT_TRUE(m->savepoint);
  EXPECT_EQ(m->job, "meta-fixture");
  EXPECT_EQ(m->max_parallelism, 128);
  EXPECT_EQ(m->completed_ms, 1'796'683'537'207);
  ASSERT_EQ(m->tasks.size(), 4u);
  // The two Nexmark subtasks' positions (GeneratorPosition: u8 version 1,
  // varint subtask, ...); the windows' chain ends in the stdout sink, whose
  // state is empty, but there.
  const std::vector<std::string> pos = m->SourcePositions("bids");
  ASSERT_EQ(pos.size(), 2u);
  for (size_t i = 0; i < pos.size(); ++i) {
    ASSERT_GE(pos[i].size(), 2u);
    EXPECT_EQ(pos[i][0], 1) << i;
    EXPECT_EQ(pos[i][1], static_cast<char>(i)) << i;
  }
  for (int sub : {0, 1}) {
    const TaskSnapshot* t = m->Find("per_channel", sub);
    ASSERT_NE(t, nullptr) << sub;
    EXPECT_FALSE(t->source_position.has_value());
    EXPECT_EQ(t->sink_state, "");
  }
  // One database (weir local) holding every key group, its manifest the one
  // stored beside it.
  ASSERT_EQ(m->db_parts.size(), 1u);
  EXPECT_EQ(m->db_parts[0].name, "");
  EXPECT_EQ(m->db_parts[0].key_groups, (std::vector<KeyGroupRange>{{0, 127}}));
  EXPECT_EQ(m->db_parts[0].manifest, ReadFile(kFixture + "/_db_manifest"));

  // Restore checks it against the job, and its database comes back.
  spec::JobSpec job;
  job.name = "meta-fixture";
  job.max_parallelism = 128;
  auto restore = ReadRestorePoint(kFixture, job);
  ASSERT_TRUE(restore.ok()) << restore.status().ToString();
  job.name = "other";
  EXPECT_EQ(ReadRestorePoint(kFixture, job).status().code(), StatusCode::kInvalidArgument);
  TempDir tmp;
  Status st = CheckpointStorage::DownloadDb(kFixture, m->db_parts[0].manifest, tmp.Sub("db"));
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(fs::exists(tmp.Sub("db/CURRENT")));
  EXPECT_EQ(ReadFile(tmp.Sub("db/000008.sst")), ReadFile(kFixture + "/db/000008.sst"));
}

// Storage lists a format-1 checkpoint (it may be the latest after an
// upgrade), and a damaged one is still found out by its CRC32C.
TEST(LegacyMetadata, StorageListsItAndItsChecksumHolds) {
  TempDir tmp;
  auto s = CheckpointStorage::Open("file://" + tmp.Sub("chk"), "meta-fixture", 3);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  fs::copy(kFixture, (*s)->job_dir() + "/savepoint-3", fs::copy_options::recursive);
  auto list = (*s)->List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, 3);
  EXPECT_TRUE((*list)[0].savepoint);
  EXPECT_EQ((*list)[0].completed_ms, 1'796'683'537'207);
  // The metadata file plus the files its manifest lists.
  EXPECT_EQ((*list)[0].bytes, 404u + 1809 + 1672 + 1572 + 16 + 465 + 6922);

  const std::string meta = (*s)->job_dir() + "/savepoint-3/_metadata";
  std::string bytes = ReadFile(meta);
  bytes[100] = static_cast<char>(bytes[100] ^ 1);
  WriteFile(meta, bytes);
  auto r = CheckpointStorage::ReadMetadata((*s)->job_dir() + "/savepoint-3");
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("checksum mismatch"), std::string::npos)
      << r.status().message();
}

// Payload version 1 (a single manifest), the other one format 1 had, written
// by hand as its writer did: one database over every key group.
TEST(LegacyMetadata, PayloadVersion1IsOneDatabaseOverEveryKeyGroup) {
  std::string payload;
  ByteWriter w(&payload);
  w.PutU8(1);
  w.PutSigned(7);  // id
  w.PutU8(0);      // not a savepoint
  w.PutBytes("orders");
  w.PutVarint(64);    // max_parallelism
  w.PutSigned(1234);  // completed_ms
  w.PutVarint(1);     // one task
  w.PutBytes("src");
  w.PutVarint(0);
  w.PutU8(1);
  w.PutBytes("pos");
  w.PutU8(0);
  w.PutBytes("the manifest");
  std::string body;
  PutLE(0, 4, &body);     // flags
  PutLE(7, 8, &body);     // id
  PutLE(1234, 8, &body);  // completed_ms
  PutLE(99, 8, &body);    // files_bytes
  PutLE(payload.size(), 8, &body);
  body += payload;

  auto m = DecodeMetadataFile(Frame(1, body), "/x/_metadata");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->format_version().major(), kMetadataMajor);  // now a message of this format
  EXPECT_EQ(m->id(), 7);
  EXPECT_EQ(m->files_bytes(), 99u);
  auto back = CheckpointMetadata::Decode(m->SerializeAsString());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->job, "orders");
  EXPECT_EQ(back->SourcePositions("src"), (std::vector<std::string>{"pos"}));
  ASSERT_EQ(back->db_parts.size(), 1u);
  EXPECT_EQ(back->db_parts[0].manifest, "the manifest");
  EXPECT_EQ(back->db_parts[0].key_groups, (std::vector<KeyGroupRange>{{0, 63}}));

  // A damaged payload under a good CRC (a bug, not the disk) is DataLoss too.
  body.back() = 'X';
  body += "trailing";
  EXPECT_EQ(DecodeMetadataFile(Frame(1, body), "/x/_metadata").status().code(),
            StatusCode::kDataLoss);
}

}  // namespace
}  // namespace weir::checkpoint
