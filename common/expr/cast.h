// cast(x as T) over a column: the conversions of docs/job-spec.md's cast
// table (a value that does not convert is null). Internal to common/expr.
#pragma once

#include <cstddef>

#include "common/batch.h"

namespace weir::expr {

// Fills `out` (of type `to`) with n rows: a's rows converted. The evaluator
// calls it only for a cast the binder allowed and whose types differ.
void CastColumn(const Column& a, TypeId to, size_t n, Column* out);

}  // namespace weir::expr
