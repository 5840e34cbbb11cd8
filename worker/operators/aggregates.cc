// Accumulators of window aggregates and reduce (aggregates_internal.h), and
// the helpers shared by the keyed operators (stateful_internal.h): key
// grouping, the row and key codecs.
#include <algorithm>
#include <cstring>

#include "worker/operators/aggregates_internal.h"
#include "worker/operators/stateful_internal.h"

namespace weir::operators {

// ---- Row and key codecs ----

void EncodeRow(const std::vector<Column>& columns, size_t row, std::string* out) {
  ByteWriter w(out);
  for (const Column& c : columns) {
    if (c.IsNull(row) || c.type() == TypeId::kNull) {
      w.PutU8(0);
      continue;
    }
    w.PutU8(1);
    if (IsIntStored(c.type()))
      w.PutSigned(c.GetInt(row));
    else if (c.type() == TypeId::kDouble)
      w.PutDouble(c.GetDouble(row));
    else
      w.PutBytes(c.GetString(row));
  }
}

bool DecodeRowInto(ByteReader* r, size_t n, std::vector<Column>* out, size_t first) {
  for (size_t k = 0; k < n; ++k) {
    Column& c = (*out)[first + k];
    if (r->GetU8() == 0) {
      c.AppendNull();
      continue;
    }
    if (IsIntStored(c.type()) || c.type() == TypeId::kNull)
      c.AppendInt(r->GetSigned());
    else if (c.type() == TypeId::kDouble)
      c.AppendDouble(r->GetDouble());
    else
      c.AppendString(r->GetBytes());
  }
  return r->ok();
}

bool DecodeKeyInto(std::string_view key, size_t n, std::vector<Column>* out, size_t first) {
  size_t pos = 0;
  for (size_t k = 0; k < n; ++k) {
    Column& c = (*out)[first + k];
    if (pos >= key.size()) return false;
    uint8_t tag = static_cast<uint8_t>(key[pos++]);
    if (tag == 0) {
      c.AppendNull();
      continue;
    }
    TypeId t = static_cast<TypeId>(tag - 1);
    if (IsStringStored(t)) {
      uint32_t len;
      if (key.size() - pos < 4) return false;
      std::memcpy(&len, key.data() + pos, 4);
      pos += 4;
      if (key.size() - pos < len) return false;
      c.AppendString(key.substr(pos, len));
      pos += len;
      continue;
    }
    if (key.size() - pos < 8) return false;
    if (t == TypeId::kDouble) {
      double d;
      std::memcpy(&d, key.data() + pos, 8);
      if (c.type() == TypeId::kDouble)
        c.AppendDouble(d);
      else
        c.AppendInt(static_cast<int64_t>(d));
    } else {
      int64_t v;
      std::memcpy(&v, key.data() + pos, 8);
      if (c.type() == TypeId::kDouble)
        c.AppendDouble(static_cast<double>(v));
      else
        c.AppendInt(v);
    }
    pos += 8;
  }
  return true;
}

// ---- KeyGrouper ----

KeyGrouper::KeyGrouper(const std::vector<spec::NamedExpr>& keys, std::vector<TypeId> as_types)
    : as_types_(std::move(as_types)) {
  for (const auto& k : keys) evals_.push_back(std::make_unique<expr::Evaluator>(k.expr.get()));
  cols_.resize(evals_.size());
  converted_.resize(evals_.size(), Column(TypeId::kDouble));
}

void KeyGrouper::Group(const RecordBatch& batch, int max_parallelism, int64_t now_ms) {
  const size_t n = batch.num_rows();
  for (size_t k = 0; k < evals_.size(); ++k) {
    const Column* c = &evals_[k]->Evaluate(batch, now_ms);
    if (k < as_types_.size() && as_types_[k] == TypeId::kDouble && c->type() == TypeId::kBigint) {
      Column& d = converted_[k];
      d.Clear();
      d.Reserve(n);
      for (size_t r = 0; r < n; ++r) {
        if (c->IsNull(r))
          d.AppendNull();
        else
          d.AppendDouble(static_cast<double>(c->GetInt(r)));
      }
      c = &d;
    }
    cols_[k] = c;
  }
  // Encode every row's key into one buffer.
  key_bytes_.clear();
  key_offsets_.resize(n + 1);
  hashes_.resize(n);
  key_offsets_[0] = 0;
  for (size_t r = 0; r < n; ++r) {
    EncodeKey(cols_, r, &key_bytes_);
    key_offsets_[r + 1] = static_cast<uint32_t>(key_bytes_.size());
  }
  for (size_t r = 0; r < n; ++r)
    hashes_[r] = HashKey(std::string_view(key_bytes_)
                             .substr(key_offsets_[r], key_offsets_[r + 1] - key_offsets_[r]));
  // Open addressing over the hashes: group index per slot.
  size_t cap = 16;
  while (cap < 2 * n) cap <<= 1;
  slots_.assign(cap, -1);
  row_group_.resize(n);
  group_first_.clear();
  group_kg_.clear();
  group_null_.clear();
  auto row_key = [&](uint32_t r) {
    return std::string_view(key_bytes_)
        .substr(key_offsets_[r], key_offsets_[r + 1] - key_offsets_[r]);
  };
  for (size_t r = 0; r < n; ++r) {
    size_t s = hashes_[r] & (cap - 1);
    std::string_view key = row_key(static_cast<uint32_t>(r));
    while (true) {
      int32_t g = slots_[s];
      if (g < 0) {
        g = static_cast<int32_t>(group_first_.size());
        slots_[s] = g;
        group_first_.push_back(static_cast<uint32_t>(r));
        group_kg_.push_back(static_cast<int>(hashes_[r] % static_cast<uint64_t>(max_parallelism)));
        uint8_t has_null = 0;
        for (const Column* c : cols_) has_null |= c->IsNull(r) ? 1 : 0;
        group_null_.push_back(has_null);
        row_group_[r] = static_cast<uint32_t>(g);
        break;
      }
      uint32_t first = group_first_[static_cast<size_t>(g)];
      if (hashes_[first] == hashes_[r] && row_key(first) == key) {
        row_group_[r] = static_cast<uint32_t>(g);
        break;
      }
      s = (s + 1) & (cap - 1);
    }
  }
  // Counting sort of the rows by group (stable: arrival order within a group).
  const size_t groups = group_first_.size();
  group_start_.assign(groups + 1, 0);
  for (size_t r = 0; r < n; ++r) ++group_start_[row_group_[r] + 1];
  for (size_t g = 0; g < groups; ++g) group_start_[g + 1] += group_start_[g];
  order_.resize(n);
  // Use slots_ as the per-group write cursor (it is no longer needed).
  slots_.resize(groups);
  for (size_t g = 0; g < groups; ++g) slots_[g] = static_cast<int32_t>(group_start_[g]);
  for (size_t r = 0; r < n; ++r)
    order_[static_cast<size_t>(slots_[row_group_[r]]++)] = static_cast<uint32_t>(r);
}

// ---- Aggregates ----

Aggregates::Aggregates(const std::vector<spec::AggregateSpec>& specs) {
  for (const auto& s : specs) {
    Agg a;
    a.kind = s.aggregate.kind;
    a.result_type = s.aggregate.result_type;
    if (s.aggregate.arg) {
      a.arg_type = s.aggregate.arg->type;
      a.eval = std::make_unique<expr::Evaluator>(s.aggregate.arg.get());
    }
    a.storage = a.arg_type == TypeId::kDouble ? Storage::kDouble
                : IsStringStored(a.arg_type)  ? Storage::kString
                                              : Storage::kInt;
    aggs_.push_back(std::move(a));
  }
}

Aggregates::~Aggregates() = default;

void Aggregates::EvaluateArgs(const RecordBatch& batch, int64_t now_ms) {
  for (Agg& a : aggs_)
    if (a.eval) a.arg = &a.eval->Evaluate(batch, now_ms);
}

void Aggregates::Reset(Accumulators* accs) const {
  accs->resize(aggs_.size());
  for (Accumulator& acc : *accs) {
    acc.n = 0;
    acc.i = 0;
    acc.d = 0;
    acc.s.clear();
    acc.seq = 0;
    acc.distinct_size = 0;
  }
}

void Aggregates::InsertDistinct(Accumulator* acc, std::string_view v) {
  auto begin = acc->distinct.begin();
  auto end = begin + static_cast<ptrdiff_t>(acc->distinct_size);
  auto it = std::lower_bound(begin, end, v,
                             [](const std::string& a, std::string_view b) { return a < b; });
  if (it != end && *it == v) return;
  size_t pos = static_cast<size_t>(it - begin);
  if (acc->distinct_size == acc->distinct.size()) acc->distinct.emplace_back();
  acc->distinct[acc->distinct_size].assign(v);
  std::rotate(acc->distinct.begin() + static_cast<ptrdiff_t>(pos),
              acc->distinct.begin() + static_cast<ptrdiff_t>(acc->distinct_size),
              acc->distinct.begin() + static_cast<ptrdiff_t>(acc->distinct_size + 1));
  ++acc->distinct_size;
}

void Aggregates::UpdateOne(const Agg& a, Accumulator* acc, const uint32_t* rows, size_t n,
                           int64_t seq_base) const {
  using expr::AggKind;
  if (a.kind == AggKind::kCountAll) {
    acc->n += static_cast<int64_t>(n);
    return;
  }
  const Column& c = *a.arg;
  const uint8_t* nulls = c.nulls();
  if (a.arg_type == TypeId::kNull) return;  // every value is null
  switch (a.kind) {
    case AggKind::kCountAll:
      break;
    case AggKind::kCount:
      for (size_t k = 0; k < n; ++k) acc->n += nulls[rows[k]] ? 0 : 1;
      break;
    case AggKind::kSum:
      if (a.storage == Storage::kDouble) {
        const double* v = c.doubles();
        for (size_t k = 0; k < n; ++k) {
          uint32_t r = rows[k];
          if (nulls[r]) continue;
          acc->d += v[r];
          ++acc->n;
        }
      } else {
        const int64_t* v = c.ints();
        uint64_t sum = static_cast<uint64_t>(acc->i);
        for (size_t k = 0; k < n; ++k) {
          uint32_t r = rows[k];
          if (nulls[r]) continue;
          sum += static_cast<uint64_t>(v[r]);  // wraps, as Java/Flink
          ++acc->n;
        }
        acc->i = static_cast<int64_t>(sum);
      }
      break;
    case AggKind::kAvg:
      if (a.storage == Storage::kDouble) {
        const double* v = c.doubles();
        for (size_t k = 0; k < n; ++k) {
          if (nulls[rows[k]]) continue;
          acc->d += v[rows[k]];
          ++acc->n;
        }
      } else {
        const int64_t* v = c.ints();
        for (size_t k = 0; k < n; ++k) {
          if (nulls[rows[k]]) continue;
          acc->d += static_cast<double>(v[rows[k]]);
          ++acc->n;
        }
      }
      break;
    case AggKind::kMin:
    case AggKind::kMax: {
      const bool is_min = a.kind == AggKind::kMin;
      if (a.storage == Storage::kInt) {
        const int64_t* v = c.ints();
        for (size_t k = 0; k < n; ++k) {
          uint32_t r = rows[k];
          if (nulls[r]) continue;
          if (acc->n == 0 || (is_min ? v[r] < acc->i : v[r] > acc->i)) acc->i = v[r];
          ++acc->n;
        }
      } else if (a.storage == Storage::kDouble) {
        const double* v = c.doubles();
        for (size_t k = 0; k < n; ++k) {
          uint32_t r = rows[k];
          if (nulls[r]) continue;
          if (acc->n == 0 || (is_min ? v[r] < acc->d : v[r] > acc->d)) acc->d = v[r];
          ++acc->n;
        }
      } else {
        for (size_t k = 0; k < n; ++k) {
          uint32_t r = rows[k];
          if (nulls[r]) continue;
          std::string_view v = c.GetString(r);
          if (acc->n == 0 || (is_min ? v < std::string_view(acc->s) : v > std::string_view(acc->s)))
            acc->s.assign(v);
          ++acc->n;
        }
      }
      break;
    }
    case AggKind::kFirst:
    case AggKind::kLast: {
      const bool first = a.kind == AggKind::kFirst;
      // The row whose value is kept: the first / last non-null one.
      size_t pick = n;
      if (first) {
        if (acc->n > 0) break;
        for (size_t k = 0; k < n; ++k)
          if (!nulls[rows[k]]) {
            pick = k;
            break;
          }
      } else {
        for (size_t k = n; k-- > 0;)
          if (!nulls[rows[k]]) {
            pick = k;
            break;
          }
      }
      if (pick == n) break;
      uint32_t r = rows[pick];
      if (a.storage == Storage::kInt)
        acc->i = c.GetInt(r);
      else if (a.storage == Storage::kDouble)
        acc->d = c.GetDouble(r);
      else
        acc->s.assign(c.GetString(r));
      acc->n = 1;
      acc->seq = seq_base + static_cast<int64_t>(r);
      break;
    }
    case AggKind::kCountDistinct:
      for (size_t k = 0; k < n; ++k) {
        uint32_t r = rows[k];
        if (nulls[r]) continue;
        scratch_.clear();
        if (a.storage == Storage::kInt) {
          ByteWriter(&scratch_).PutSigned(c.GetInt(r));
        } else if (a.storage == Storage::kDouble) {
          double d = c.GetDouble(r);
          if (d == 0) d = 0;  // -0.0 and 0.0 are one value
          ByteWriter(&scratch_).PutDouble(d);
        } else {
          scratch_.assign(c.GetString(r));
        }
        InsertDistinct(acc, scratch_);
      }
      break;
  }
}

void Aggregates::Update(Accumulators* accs, const uint32_t* rows, size_t n,
                        int64_t seq_base) const {
  if (n == 0) return;
  for (size_t i = 0; i < aggs_.size(); ++i) UpdateOne(aggs_[i], &(*accs)[i], rows, n, seq_base);
}

void Aggregates::Merge(Accumulators* into, const Accumulators& from) const {
  using expr::AggKind;
  for (size_t i = 0; i < aggs_.size(); ++i) {
    const Agg& a = aggs_[i];
    Accumulator& x = (*into)[i];
    const Accumulator& y = from[i];
    switch (a.kind) {
      case AggKind::kCountAll:
      case AggKind::kCount:
        x.n += y.n;
        break;
      case AggKind::kSum:
        x.i = static_cast<int64_t>(static_cast<uint64_t>(x.i) + static_cast<uint64_t>(y.i));
        x.d += y.d;
        x.n += y.n;
        break;
      case AggKind::kAvg:
        x.d += y.d;
        x.n += y.n;
        break;
      case AggKind::kMin:
      case AggKind::kMax: {
        if (y.n == 0) break;
        bool take = x.n == 0;
        if (!take) {
          bool is_min = a.kind == AggKind::kMin;
          if (a.storage == Storage::kInt)
            take = is_min ? y.i < x.i : y.i > x.i;
          else if (a.storage == Storage::kDouble)
            take = is_min ? y.d < x.d : y.d > x.d;
          else
            take = is_min ? y.s < x.s : y.s > x.s;
        }
        if (take) {
          x.i = y.i;
          x.d = y.d;
          x.s = y.s;
        }
        x.n += y.n;
        break;
      }
      case AggKind::kFirst:
      case AggKind::kLast:
        if (y.n == 0) break;
        if (x.n == 0 || (a.kind == AggKind::kFirst ? y.seq < x.seq : y.seq > x.seq)) {
          x.i = y.i;
          x.d = y.d;
          x.s = y.s;
          x.seq = y.seq;
          x.n = 1;
        }
        break;
      case AggKind::kCountDistinct:
        for (size_t k = 0; k < y.distinct_size; ++k) InsertDistinct(&x, y.distinct[k]);
        break;
    }
  }
}

void Aggregates::Encode(const Accumulators& accs, ByteWriter* w) const {
  using expr::AggKind;
  for (size_t i = 0; i < aggs_.size(); ++i) {
    const Agg& a = aggs_[i];
    const Accumulator& acc = accs[i];
    auto put_value = [&] {
      if (a.storage == Storage::kInt)
        w->PutSigned(acc.i);
      else if (a.storage == Storage::kDouble)
        w->PutDouble(acc.d);
      else
        w->PutBytes(acc.s);
    };
    switch (a.kind) {
      case AggKind::kCountAll:
      case AggKind::kCount:
        w->PutVarint(static_cast<uint64_t>(acc.n));
        break;
      case AggKind::kSum:
        w->PutVarint(static_cast<uint64_t>(acc.n));
        if (a.storage == Storage::kDouble)
          w->PutDouble(acc.d);
        else
          w->PutSigned(acc.i);
        break;
      case AggKind::kAvg:
        w->PutVarint(static_cast<uint64_t>(acc.n));
        w->PutDouble(acc.d);
        break;
      case AggKind::kMin:
      case AggKind::kMax:
        w->PutVarint(static_cast<uint64_t>(acc.n));
        if (acc.n > 0) put_value();
        break;
      case AggKind::kFirst:
      case AggKind::kLast:
        w->PutVarint(static_cast<uint64_t>(acc.n));
        if (acc.n > 0) {
          put_value();
          w->PutSigned(acc.seq);
        }
        break;
      case AggKind::kCountDistinct:
        w->PutVarint(acc.distinct_size);
        for (size_t k = 0; k < acc.distinct_size; ++k) w->PutBytes(acc.distinct[k]);
        break;
    }
  }
}

bool Aggregates::Decode(ByteReader* r, Accumulators* accs) const {
  using expr::AggKind;
  Reset(accs);
  for (size_t i = 0; i < aggs_.size(); ++i) {
    const Agg& a = aggs_[i];
    Accumulator& acc = (*accs)[i];
    auto get_value = [&] {
      if (a.storage == Storage::kInt)
        acc.i = r->GetSigned();
      else if (a.storage == Storage::kDouble)
        acc.d = r->GetDouble();
      else
        acc.s.assign(r->GetBytes());
    };
    switch (a.kind) {
      case AggKind::kCountAll:
      case AggKind::kCount:
        acc.n = static_cast<int64_t>(r->GetVarint());
        break;
      case AggKind::kSum:
        acc.n = static_cast<int64_t>(r->GetVarint());
        if (a.storage == Storage::kDouble)
          acc.d = r->GetDouble();
        else
          acc.i = r->GetSigned();
        break;
      case AggKind::kAvg:
        acc.n = static_cast<int64_t>(r->GetVarint());
        acc.d = r->GetDouble();
        break;
      case AggKind::kMin:
      case AggKind::kMax:
        acc.n = static_cast<int64_t>(r->GetVarint());
        if (acc.n > 0) get_value();
        break;
      case AggKind::kFirst:
      case AggKind::kLast:
        acc.n = static_cast<int64_t>(r->GetVarint());
        if (acc.n > 0) {
          get_value();
          acc.seq = r->GetSigned();
        }
        break;
      case AggKind::kCountDistinct: {
        uint64_t k = r->GetVarint();
        if (!r->ok() || k > r->rest().size()) return false;
        if (acc.distinct.size() < k) acc.distinct.resize(k);
        for (size_t j = 0; j < k; ++j) acc.distinct[j].assign(r->GetBytes());
        acc.distinct_size = k;
        break;
      }
    }
    if (!r->ok()) return false;
  }
  return true;
}

void Aggregates::AppendResults(const Accumulators& accs, std::vector<Column>* columns,
                               size_t first) const {
  using expr::AggKind;
  for (size_t i = 0; i < aggs_.size(); ++i) {
    const Agg& a = aggs_[i];
    const Accumulator& acc = accs[i];
    Column& out = (*columns)[first + i];
    switch (a.kind) {
      case AggKind::kCountAll:
      case AggKind::kCount:
        out.AppendInt(acc.n);
        break;
      case AggKind::kCountDistinct:
        out.AppendInt(static_cast<int64_t>(acc.distinct_size));
        break;
      case AggKind::kAvg:
        if (acc.n == 0)
          out.AppendNull();
        else
          out.AppendDouble(acc.d / static_cast<double>(acc.n));
        break;
      case AggKind::kSum:
      case AggKind::kMin:
      case AggKind::kMax:
      case AggKind::kFirst:
      case AggKind::kLast:
        if (acc.n == 0 || out.type() == TypeId::kNull)
          out.AppendNull();
        else if (a.storage == Storage::kInt)
          out.AppendInt(acc.i);
        else if (a.storage == Storage::kDouble)
          out.AppendDouble(acc.d);
        else
          out.AppendString(acc.s);
        break;
    }
  }
}

}  // namespace weir::operators
