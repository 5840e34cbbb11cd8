// CompileProtoFile (protobuf.h): a .proto file and its imports, parsed by
// libprotoc's compiler::Importer, as a FileDescriptorSet. It runs where the
// job is resolved (the CLI, weir local), so the coordinator and the workers
// get descriptors, never a path to open.
//
// The source tree is weir's own rather than DiskSourceTree, so that every
// file read has a size limit and a path such as /dev/zero is refused.
#include <google/protobuf/compiler/importer.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/files.h"
#include "common/format/protobuf.h"

namespace weir::format {
namespace {

namespace pb = google::protobuf;

// Keeps the first error the .proto parser reports.
class FirstError final : public pb::compiler::MultiFileErrorCollector {
 public:
  void AddError(const std::string& filename, int line, int column,
                const std::string& message) override {
    if (!first.empty()) return;
    first = filename + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " +
            message;
  }
  std::string first;
};

// A stream that owns the bytes it hands out.
class OwnedInput final : public pb::io::ZeroCopyInputStream {
 public:
  explicit OwnedInput(std::string bytes)
      : bytes_(std::move(bytes)), in_(bytes_.data(), static_cast<int>(bytes_.size())) {}
  bool Next(const void** data, int* size) override { return in_.Next(data, size); }
  void BackUp(int count) override { in_.BackUp(count); }
  bool Skip(int count) override { return in_.Skip(count); }
  int64_t ByteCount() const override { return in_.ByteCount(); }

 private:
  std::string bytes_;
  pb::io::ArrayInputStream in_;
};

// Files under a list of roots, each read whole with a size limit.
class LimitedSourceTree final : public pb::compiler::SourceTree {
 public:
  LimitedSourceTree(std::vector<std::filesystem::path> roots, size_t max_bytes)
      : roots_(std::move(roots)), max_bytes_(max_bytes) {}

  pb::io::ZeroCopyInputStream* Open(const std::string& filename) override {
    // The importer's names are relative; ".." would leave the roots.
    if (filename.empty() || filename[0] == '/' || filename.find("..") != std::string::npos) {
      error_ = "'" + filename + "' is not a relative path inside the .proto file's directory";
      return nullptr;
    }
    for (const auto& root : roots_) {
      std::error_code ec;
      const auto path = root / filename;
      if (!std::filesystem::exists(path, ec)) continue;
      auto bytes = ReadFileLimited(path.string(), max_bytes_, "the .proto file");
      if (!bytes.ok()) {
        error_ = bytes.status().message();
        return nullptr;
      }
      return new OwnedInput(std::move(bytes).value());
    }
    error_ = "file not found";
    return nullptr;
  }
  std::string GetLastErrorMessage() override { return error_; }

 private:
  std::vector<std::filesystem::path> roots_;
  size_t max_bytes_;
  std::string error_;
};

// Adds `f` to `out` after its dependencies, each file once.
void AddWithImports(const pb::FileDescriptor* f, std::set<std::string>* seen,
                    pb::FileDescriptorSet* out) {
  if (!seen->insert(f->name()).second) return;
  for (int i = 0; i < f->dependency_count(); ++i) AddWithImports(f->dependency(i), seen, out);
  f->CopyTo(out->add_file());
}

}  // namespace

Result<std::string> CompileProtoFile(const std::string& path, size_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return Status::InvalidArgument("cannot read .proto file '" + path + "'");
  const std::filesystem::path p(path);
  std::vector<std::filesystem::path> roots{p.parent_path().empty() ? "." : p.parent_path()};
  if (std::filesystem::is_directory("/usr/include/google/protobuf", ec))
    roots.emplace_back("/usr/include");
  LimitedSourceTree tree(std::move(roots), max_bytes);
  FirstError errors;
  pb::compiler::Importer importer(&tree, &errors);
  const pb::FileDescriptor* file = importer.Import(p.filename().string());
  if (file == nullptr)
    return Status::InvalidArgument("cannot parse '" + path + "'" +
                                   (errors.first.empty() ? std::string() : ": " + errors.first));
  pb::FileDescriptorSet set;
  std::set<std::string> seen;
  AddWithImports(file, &seen, &set);
  std::string out;
  if (!set.SerializeToString(&out))
    return Status::Internal("cannot serialize the descriptors of '" + path + "'");
  if (out.size() > max_bytes)
    return Status::InvalidArgument("the descriptors of '" + path + "' are over " +
                                   SizeText(max_bytes));
  return out;
}

}  // namespace weir::format
