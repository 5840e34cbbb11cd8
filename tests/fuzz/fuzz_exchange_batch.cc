// libFuzzer target: the exchange's batch decoder (common/batch_codec.h), the
// bytes another worker sends.
//
// The first input byte picks the schema the receiver expects (every type,
// strings only, numbers only, or no columns); the rest is decoded. Checked:
// no crash, overread or sanitizer report; a decoded batch has aligned
// columns of the schema's types; and its encoding decodes to a batch that
// encodes to the same bytes again (varints may come in non-minimal forms, so
// the input itself need not come back), so nothing decoded is altered.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/batch.h"
#include "common/batch_codec.h"
#include "common/types.h"

namespace {

using weir::Field;
using weir::RecordBatch;
using weir::Schema;
using weir::TypeId;

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_exchange_batch: %s\n", what);
  std::abort();
}

const std::vector<std::shared_ptr<const Schema>>& Schemas() {
  static const auto* schemas = new std::vector<std::shared_ptr<const Schema>>{
      std::make_shared<const Schema>(std::vector<Field>{{"b", TypeId::kBoolean},
                                                        {"n", TypeId::kBigint},
                                                        {"d", TypeId::kDouble},
                                                        {"s", TypeId::kString},
                                                        {"y", TypeId::kBytes},
                                                        {"t", TypeId::kTimestamp}}),
      std::make_shared<const Schema>(
          std::vector<Field>{{"s", TypeId::kString}, {"y", TypeId::kBytes}}),
      std::make_shared<const Schema>(
          std::vector<Field>{{"n", TypeId::kBigint}, {"d", TypeId::kDouble}}),
      std::make_shared<const Schema>(std::vector<Field>{}),
  };
  return *schemas;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto& schemas = Schemas();
  const auto& schema = schemas[data[0] % schemas.size()];
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  RecordBatch batch(schema);
  weir::Status st = weir::DecodeBatch(bytes, &batch);
  if (!st.ok()) {
    Check(st.code() == weir::StatusCode::kDataLoss, "an error that is not DataLoss");
    return 0;
  }
  Check(batch.columns.size() == schema->size(), "column count");
  for (size_t c = 0; c < batch.columns.size(); ++c) {
    Check(batch.columns[c].type() == schema->field(c).type, "column type");
    Check(batch.columns[c].size() == batch.num_rows(), "columns not aligned");
  }
  std::string once;
  weir::EncodeBatch(batch, &once);
  RecordBatch back(schema);
  Check(weir::DecodeBatch(once, &back).ok(), "an encoded batch does not decode");
  std::string twice;
  weir::EncodeBatch(back, &twice);
  Check(once == twice, "encode(decode(encode(decode(x)))) != encode(decode(x))");
  return 0;
}
