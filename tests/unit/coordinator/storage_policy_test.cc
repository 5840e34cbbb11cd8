// The paths a job may make the coordinator open: under its checkpoint
// storage or an --allow-storage root, with ".." and symbolic links resolved
// first, so neither can lead outside.
#include "coordinator/storage_policy.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace weir::coordinator {
namespace {

namespace fs = std::filesystem;

class StoragePolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("weir-policy-" + std::to_string(::getpid()));
    fs::create_directories(root_ / "checkpoints" / "job");
    fs::create_directories(root_ / "other");
    roots_ = {"file://" + (root_ / "checkpoints").string()};
  }
  void TearDown() override { fs::remove_all(root_); }
  Status Check(const std::string& uri) { return CheckUnderRoots("the savepoint", uri, roots_); }
  fs::path root_;
  std::vector<std::string> roots_;
};

TEST_F(StoragePolicyTest, PathsUnderARootAreAllowed) {
  EXPECT_TRUE(Check((root_ / "checkpoints").string()).ok());
  EXPECT_TRUE(Check("file://" + (root_ / "checkpoints/job/savepoint-3").string()).ok());
  EXPECT_TRUE(Check((root_ / "checkpoints/not/yet/there").string()).ok());
}

TEST_F(StoragePolicyTest, PathsOutsideEveryRootAreRefusedWithTheReason) {
  for (const std::string& uri :
       {std::string("/etc"), (root_ / "other").string(), (root_ / "checkpoints-2").string(),
        (root_ / "checkpoints/../other").string(), "file://" + (root_ / "other").string()}) {
    Status st = Check(uri);
    EXPECT_EQ(st.code(), StatusCode::kPermissionDenied) << uri;
    EXPECT_NE(st.message().find("is outside the coordinator's checkpoint storage"),
              std::string::npos)
        << st.message();
  }
  EXPECT_EQ(Check("relative/path").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Check("s3://bucket/x").code(), StatusCode::kUnimplemented);
}

TEST_F(StoragePolicyTest, ASymbolicLinkCannotLeadOutOfARoot) {
  fs::create_directory_symlink(root_ / "other", root_ / "checkpoints" / "escape");
  EXPECT_EQ(Check((root_ / "checkpoints/escape/savepoint-1").string()).code(),
            StatusCode::kPermissionDenied);
}

TEST_F(StoragePolicyTest, AllowStorageAddsRoots) {
  roots_.push_back((root_ / "other").string());
  EXPECT_TRUE(Check((root_ / "other/savepoint-1").string()).ok());
}

}  // namespace
}  // namespace weir::coordinator
