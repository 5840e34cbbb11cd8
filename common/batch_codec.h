// The exchange's encoding of a RecordBatch: column by column, fixed-width
// values copied as they lie in memory (little-endian, as every platform weir
// builds for), strings as offsets plus bytes. The schema is not sent: both
// ends know it from the plan, and DecodeBatch checks the bytes against it, so
// a damaged or hostile frame is an error, never a crash or an overread.
#pragma once

#include <string>
#include <string_view>

#include "common/batch.h"
#include "common/status.h"

namespace weir {

// Appends the encoding of `batch` to *out.
void EncodeBatch(const RecordBatch& batch, std::string* out);
// Replaces *batch (whose schema is set) with the decoded rows.
Status DecodeBatch(std::string_view bytes, RecordBatch* batch);

}  // namespace weir
