// The raw format: the payload is the record's one field.
//
// Decoding: each payload becomes one row whose first field holds the payload
// (for string/bytes as is, even when empty; for another type, converted by
// the csv text rules, the empty payload being null); other fields are null.
// The validator gives raw sources the schema (value bytes).
//
// Encoding: the first field's bytes as they are (the text of the value for
// other types, as csv writes it); a null field writes nothing.
#include <string>
#include <string_view>
#include <vector>

#include "common/format/format_internal.h"
#include "common/status.h"

namespace weir::format::internal {
namespace {

class RawDecoder final : public Decoder {
 public:
  explicit RawDecoder(const Schema& schema) : staged_(schema.size()) {
    if (schema.size() > 0) {
      type_ = schema.field(0).type;
      name_ = schema.field(0).name;
    }
  }

  void Decode(const std::vector<std::string_view>& payloads, RecordBatch* batch,
              std::vector<DecodeError>* errors, std::vector<uint32_t>* rows_of) override {
    WEIR_ASSERT(batch->columns.size() == staged_.size(),
                "raw decoder: the batch's schema is not the decoder's");
    for (size_t i = 0; i < payloads.size(); ++i) {
      if (!staged_.empty() &&
          !StageText(type_, payloads[i], !IsStringStored(type_), &staged_[0], &why_)) {
        errors->push_back({i, "field '" + name_ + "': " + why_});
        continue;
      }
      AppendStagedRow(staged_.data(), nullptr, batch);
      if (rows_of != nullptr) rows_of->push_back(static_cast<uint32_t>(i));
    }
  }

 private:
  TypeId type_ = TypeId::kBytes;
  std::string name_;
  std::vector<Staged> staged_;  // [0] the payload, the rest null
  std::string why_;
};

class RawEncoder final : public Encoder {
 public:
  explicit RawEncoder(const Schema& schema) : has_field_(schema.size() > 0) {}

  void Encode(const RecordBatch& batch, size_t row, std::string* out) override {
    if (!has_field_ || batch.columns.empty() || batch.columns[0].IsNull(row)) return;
    AppendPlainText(batch.columns[0], row, out);
  }

 private:
  const bool has_field_;
};

}  // namespace

std::unique_ptr<Decoder> MakeRawDecoder(const Schema& schema) {
  return std::make_unique<RawDecoder>(schema);
}

std::unique_ptr<Encoder> MakeRawEncoder(const Schema& schema) {
  return std::make_unique<RawEncoder>(schema);
}

}  // namespace weir::format::internal
