// The json format: simdjson decodes, a hand-written writer encodes.
//
// simdjson's DOM parser, not On-Demand: the DOM kernels live in libsimdjson
// and pick the CPU's best SIMD implementation at run time, whereas On-Demand
// is compiled inline for the build's target (the scalar fallback without
// -march flags); and DOM validates the whole document, including values of
// fields the schema does not use, so every invalid payload is reported. One
// parser per decoder, reused; each payload is copied into a reusable buffer
// with SIMDJSON_PADDING bytes after it. Steady state: no allocation per
// payload; values go straight into the batch's columns.
//
// Decoding choices on top of format.h:
//   * Aliases: the names of a field are tried in order (its name, then its
//     aliases as declared); the first of them present in the object wins,
//     wherever it appears in the object. For a repeated key the first
//     occurrence wins.
//   * bigint takes integer literals only: 1.0, 1e3 and 1.5 are errors, as is
//     an integer outside int64. Integer strings ("42") are accepted.
//   * double takes any number and numeric strings ("1.5", "-2e3"); "NaN" and
//     "Infinity" strings are errors.
//   * timestamp takes an integer (epoch millis) or a string that
//     weir::ParseTimestamp reads (ISO-8601 or epoch-millis digits); a
//     fractional number is an error.
//   * string takes strings as is, numbers and booleans as their JSON text
//     (integers exactly; other numbers in the shortest form that reads back
//     equal, e.g. 1.50 -> "1.5", 1e3 -> "1000.0", since the parser keeps the
//     value, not the text), and objects/arrays as their minified JSON text
//     (keys in input order), as Flink's JSON format does.
//   * bytes takes strings only (their unescaped UTF-8 bytes).
//   * A default that does not fit its field's type is reported when it is
//     needed: "field 'x': missing, and its default ... is not a valid bigint".
//   * The payload must be one JSON object (an array or scalar is an error) in
//     valid UTF-8, nested at most kMaxDepth (128) levels. Numbers outside the int64, uint64 and
//     double ranges make the whole payload invalid (simdjson rejects them),
//     even in fields that are not in the schema.
//
// Encoding: {"name":value,...} in schema order; null, true/false, integers,
// doubles in the shortest round-trip form (NaN and infinities as null),
// timestamps as weir::FormatTimestamp writes them, as a string
// ("2024-05-01T12:00:00.000Z"; outside years 0000..9999, where it gives epoch
// millis, as a number),
// strings and bytes as JSON strings (invalid UTF-8 bytes as \ufffd).
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "common/format/format_internal.h"
#include "common/status.h"
#include "common/time.h"

namespace weir::format::internal {
namespace {

namespace dom = simdjson::dom;

// Nesting limit of a payload (objects and arrays, the top-level object included).
constexpr size_t kMaxDepth = 128;
// The parser's capacity at construction; it grows to the largest payload seen.
constexpr size_t kInitialCapacity = 16 * 1024;
// Buffers grown past this by one payload are released after its batch.
constexpr size_t kShrinkAbove = 8 * 1024 * 1024;
constexpr uint32_t kNotFound = std::numeric_limits<uint32_t>::max();

// Maps an input key to the schema fields it names, with the rank of that name
// among the field's names (0 = the field's own name). Open addressing over a
// power-of-two table of indices into entries_; built once per decoder.
class NameTable {
 public:
  struct Entry {
    std::string name;
    uint32_t field;
    uint32_t rank;
  };

  void Add(std::string name, uint32_t field, uint32_t rank) {
    entries_.push_back({std::move(name), field, rank});
  }

  void Build() {
    size_t cap = 8;
    while (cap < entries_.size() * 2) cap *= 2;
    slots_.assign(cap, -1);
    mask_ = cap - 1;
    for (size_t e = 0; e < entries_.size(); ++e) {
      size_t s = Hash(entries_[e].name) & mask_;
      while (slots_[s] >= 0) s = (s + 1) & mask_;
      slots_[s] = static_cast<int32_t>(e);
    }
  }

  // Calls fn(entry) for every entry named `key` (several fields may share a name).
  template <typename Fn>
  void ForEach(std::string_view key, Fn&& fn) const {
    size_t s = Hash(key) & mask_;
    while (slots_[s] >= 0) {
      const Entry& e = entries_[static_cast<size_t>(slots_[s])];
      if (e.name.size() == key.size() && std::memcmp(e.name.data(), key.data(), key.size()) == 0)
        fn(e);
      s = (s + 1) & mask_;
    }
  }

 private:
  static size_t Hash(std::string_view s) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return static_cast<size_t>(h ^ (h >> 29));
  }

  std::vector<Entry> entries_;
  std::vector<int32_t> slots_;
  size_t mask_ = 0;
};

// "an object", "12", "\"abc\"" ... for error messages.
std::string Describe(dom::element v) {
  std::string out;
  switch (v.type()) {
    case dom::element_type::ARRAY:
      return "an array";
    case dom::element_type::OBJECT:
      return "an object";
    case dom::element_type::INT64:
      AppendInt64(v.get_int64().value_unsafe(), &out);
      return out;
    case dom::element_type::UINT64:
      return std::to_string(v.get_uint64().value_unsafe());
    case dom::element_type::DOUBLE:
      AppendDouble(v.get_double().value_unsafe(), &out);
      return out;
    case dom::element_type::STRING:
      return QuoteForMessage(v.get_string().value_unsafe());
    case dom::element_type::BOOL:
      return v.get_bool().value_unsafe() ? "true" : "false";
    case dom::element_type::NULL_VALUE:
      return "null";
  }
  return "a value";
}

// Appends the minified JSON text of v (depth is bounded by the parser's limit).
void Render(dom::element v, std::string* out) {
  switch (v.type()) {
    case dom::element_type::ARRAY: {
      out->push_back('[');
      bool first = true;
      const dom::array array = v.get_array().value_unsafe();  // not a temporary in the loop
      for (dom::element e : array) {
        if (!first) out->push_back(',');
        first = false;
        Render(e, out);
      }
      out->push_back(']');
      return;
    }
    case dom::element_type::OBJECT: {
      out->push_back('{');
      bool first = true;
      const dom::object object = v.get_object().value_unsafe();
      for (dom::key_value_pair kv : object) {
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(kv.key, out);
        out->push_back(':');
        Render(kv.value, out);
      }
      out->push_back('}');
      return;
    }
    case dom::element_type::INT64:
      AppendInt64(v.get_int64().value_unsafe(), out);
      return;
    case dom::element_type::UINT64: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, v.get_uint64().value_unsafe());
      out->append(buf, static_cast<size_t>(r.ptr - buf));
      return;
    }
    case dom::element_type::DOUBLE:
      AppendDouble(v.get_double().value_unsafe(), out);
      return;
    case dom::element_type::STRING:
      AppendJsonString(v.get_string().value_unsafe(), out);
      return;
    case dom::element_type::BOOL:
      out->append(v.get_bool().value_unsafe() ? "true" : "false");
      return;
    case dom::element_type::NULL_VALUE:
      out->append("null");
      return;
  }
}

std::string_view TypeArticle(dom::element_type t) {
  switch (t) {
    case dom::element_type::ARRAY:
      return "an array";
    case dom::element_type::OBJECT:
      return "an object";
    case dom::element_type::STRING:
      return "a string";
    case dom::element_type::BOOL:
      return "a boolean";
    case dom::element_type::NULL_VALUE:
      return "null";
    default:
      return "a number";
  }
}

class JsonDecoder final : public Decoder {
 public:
  JsonDecoder(const Schema& schema, const std::vector<spec::FieldSpec>& fields) {
    const size_t n = schema.size();
    plan_.resize(n);
    for (size_t f = 0; f < n; ++f) {
      FieldPlan& p = plan_[f];
      p.name = schema.field(f).name;
      p.type = schema.field(f).type;
      names_.Add(p.name, static_cast<uint32_t>(f), 0);
      const spec::FieldSpec* fs = nullptr;
      for (const auto& candidate : fields) {
        if (candidate.name == p.name) {
          fs = &candidate;
          break;
        }
      }
      if (fs == nullptr) continue;
      for (size_t a = 0; a < fs->aliases.size(); ++a)
        names_.Add(fs->aliases[a], static_cast<uint32_t>(f), static_cast<uint32_t>(a + 1));
      if (fs->default_value) {
        p.has_default = true;
        p.default_text = *fs->default_value;
        std::string why;
        Staged probe;
        if (!StageText(p.type, p.default_text, /*empty_is_null=*/false, &probe, &why)) {
          p.default_error = "field '" + p.name + "': missing, and its default " +
                            QuoteForMessage(p.default_text) + " is not a valid " +
                            std::string(TypeName(p.type)) + " (" + why + ")";
        }
      }
    }
    names_.Build();
    rank_.resize(n);
    found_.resize(n);
    staged_.resize(n);
    // On failure parse() allocates on demand (and reports MEMALLOC itself).
    simdjson::error_code err = parser_.allocate(kInitialCapacity, kMaxDepth);
    (void)err;
  }

  void Decode(const std::vector<std::string_view>& payloads, RecordBatch* batch,
              std::vector<DecodeError>* errors, std::vector<uint32_t>* rows_of) override {
    WEIR_ASSERT(batch->columns.size() == plan_.size(),
                "json decoder: the batch's schema is not the decoder's");
    for (size_t i = 0; i < payloads.size(); ++i) {
      if (!DecodeOne(payloads[i])) {
        errors->push_back({i, reason_});
        continue;
      }
      AppendStagedRow(staged_.data(), scratch_.data(), batch);
      if (rows_of != nullptr) rows_of->push_back(static_cast<uint32_t>(i));
    }
    ShrinkAfterHugePayload();
  }

 private:
  struct FieldPlan {
    std::string name;
    TypeId type = TypeId::kNull;
    bool has_default = false;
    std::string default_text;
    std::string default_error;  // set when the default does not fit the type
  };

  // One huge message must not pin its memory for the decoder's life: the
  // parser holds several bytes per input byte. Checked once per batch.
  void ShrinkAfterHugePayload() {
    if (parser_.capacity() <= kShrinkAbove && padded_.capacity() <= kShrinkAbove &&
        scratch_.capacity() <= kShrinkAbove)
      return;
    parser_ = dom::parser();
    simdjson::error_code err = parser_.allocate(kInitialCapacity, kMaxDepth);
    (void)err;
    std::string().swap(padded_);
    std::string().swap(scratch_);
  }

  // Parses one payload into staged_ (true) or sets reason_ (false).
  bool DecodeOne(std::string_view payload) {
    const size_t len = payload.size();
    if (padded_.size() < len + simdjson::SIMDJSON_PADDING) {
      padded_.resize(len + simdjson::SIMDJSON_PADDING);
    }
    if (len != 0) std::memcpy(padded_.data(), payload.data(), len);
    dom::element root;
    if (auto err = parser_.parse(padded_.data(), len, false).get(root); err != simdjson::SUCCESS) {
      reason_.assign("invalid JSON: ");
      reason_.append(len == 0 ? "empty payload" : simdjson::error_message(err));
      return false;
    }
    dom::object obj;
    if (root.get_object().get(obj) != simdjson::SUCCESS) {
      reason_.assign("expected a JSON object, got ");
      reason_.append(TypeArticle(root.type()));
      return false;
    }
    const size_t n = plan_.size();
    std::fill(rank_.begin(), rank_.end(), kNotFound);
    for (dom::key_value_pair kv : obj) {
      names_.ForEach(kv.key, [&](const NameTable::Entry& e) {
        if (e.rank < rank_[e.field]) {
          rank_[e.field] = e.rank;
          found_[e.field] = kv.value;
        }
      });
    }
    scratch_.clear();
    for (size_t f = 0; f < n; ++f) {
      if (rank_[f] != kNotFound) {
        if (!StageElement(f, found_[f])) return false;
        continue;
      }
      const FieldPlan& p = plan_[f];
      if (!p.has_default) {
        staged_[f] = Staged::Null();
      } else if (!p.default_error.empty()) {
        reason_ = p.default_error;
        return false;
      } else {
        (void)StageText(p.type, p.default_text, false, &staged_[f], &reason_);
      }
    }
    return true;
  }

  bool TypeError(size_t f, dom::element v) {
    reason_.assign("field '");
    reason_.append(plan_[f].name);
    reason_.append("': ");
    reason_.append(ExpectedFor(plan_[f].type));
    reason_.append(", got ");
    reason_.append(Describe(v));
    return false;
  }

  bool RangeError(size_t f, dom::element v) {
    reason_.assign("field '");
    reason_.append(plan_[f].name);
    reason_.append("': ");
    reason_.append(Describe(v));
    reason_.append(" is out of range for ");
    reason_.append(TypeName(plan_[f].type));
    return false;
  }

  // A string value converted by the text rules (bigint, double, timestamp).
  bool StageStringAs(size_t f, std::string_view s) {
    std::string why;
    if (StageText(plan_[f].type, s, false, &staged_[f], &why)) return true;
    reason_.assign("field '");
    reason_.append(plan_[f].name);
    reason_.append("': ");
    reason_.append(why);
    return false;
  }

  bool StageElement(size_t f, dom::element v) {
    const dom::element_type t = v.type();
    Staged& out = staged_[f];
    if (t == dom::element_type::NULL_VALUE || plan_[f].type == TypeId::kNull) {
      out = Staged::Null();
      return true;
    }
    switch (plan_[f].type) {
      case TypeId::kBoolean:
        if (t != dom::element_type::BOOL) return TypeError(f, v);
        out = Staged::Int(v.get_bool().value_unsafe() ? 1 : 0);
        return true;
      case TypeId::kBigint:
      case TypeId::kTimestamp:
        if (t == dom::element_type::INT64) {
          out = Staged::Int(v.get_int64().value_unsafe());
          return true;
        }
        if (t == dom::element_type::UINT64) return RangeError(f, v);
        if (t == dom::element_type::STRING) return StageStringAs(f, v.get_string().value_unsafe());
        return TypeError(f, v);
      case TypeId::kDouble:
        if (t == dom::element_type::DOUBLE) {
          out = Staged::Double(v.get_double().value_unsafe());
        } else if (t == dom::element_type::INT64) {
          out = Staged::Double(static_cast<double>(v.get_int64().value_unsafe()));
        } else if (t == dom::element_type::UINT64) {
          out = Staged::Double(static_cast<double>(v.get_uint64().value_unsafe()));
        } else if (t == dom::element_type::STRING) {
          return StageStringAs(f, v.get_string().value_unsafe());
        } else {
          return TypeError(f, v);
        }
        return true;
      case TypeId::kString:
        if (t == dom::element_type::STRING) {
          out = Staged::String(v.get_string().value_unsafe());
        } else {
          const size_t off = scratch_.size();
          if (t == dom::element_type::BOOL) {
            scratch_.append(v.get_bool().value_unsafe() ? "true" : "false");
          } else {
            Render(v, &scratch_);
          }
          out = Staged::Scratch(off, scratch_.size() - off);
        }
        return true;
      case TypeId::kBytes:
        if (t != dom::element_type::STRING) return TypeError(f, v);
        out = Staged::String(v.get_string().value_unsafe());
        return true;
      case TypeId::kNull:
        break;
    }
    out = Staged::Null();
    return true;
  }

  NameTable names_;
  std::vector<FieldPlan> plan_;
  std::vector<uint32_t> rank_;       // per field: rank of the name found, kNotFound if none
  std::vector<dom::element> found_;  // per field: its value when found
  std::vector<Staged> staged_;       // per field: the value to append
  std::string padded_;               // the payload plus SIMDJSON_PADDING bytes
  std::string scratch_;              // rendered text of non-string values for string fields
  std::string reason_;               // the last error
  dom::parser parser_;
};

class JsonEncoder final : public Encoder {
 public:
  explicit JsonEncoder(const Schema& schema) {
    for (size_t f = 0; f < schema.size(); ++f) {
      std::string prefix = f == 0 ? "{" : ",";
      AppendJsonString(schema.field(f).name, &prefix);
      prefix.push_back(':');
      prefixes_.push_back(std::move(prefix));
    }
  }

  void Encode(const RecordBatch& batch, size_t row, std::string* out) override {
    const size_t n = std::min(prefixes_.size(), batch.columns.size());
    if (n == 0) {
      out->append("{}");
      return;
    }
    for (size_t f = 0; f < n; ++f) {
      out->append(prefixes_[f]);
      const Column& col = batch.columns[f];
      if (col.IsNull(row)) {
        out->append("null");
        continue;
      }
      switch (col.type()) {
        case TypeId::kNull:
          out->append("null");
          break;
        case TypeId::kBoolean:
          out->append(col.GetBool(row) ? "true" : "false");
          break;
        case TypeId::kBigint:
          AppendInt64(col.GetInt(row), out);
          break;
        case TypeId::kDouble: {
          const double d = col.GetDouble(row);
          if (std::isfinite(d))
            AppendDouble(d, out);
          else
            out->append("null");
          break;
        }
        case TypeId::kString:
        case TypeId::kBytes:
          AppendJsonString(col.GetString(row), out);
          break;
        case TypeId::kTimestamp: {
          const size_t at = out->size();
          out->push_back('"');
          if (AppendTimestamp(col.GetInt(row), out))
            out->push_back('"');
          else
            out->erase(at, 1);  // epoch millis: a bare number
          break;
        }
      }
    }
    out->push_back('}');
  }

 private:
  std::vector<std::string> prefixes_;  // {"name":  or  ,"name":
};

}  // namespace

std::unique_ptr<Decoder> MakeJsonDecoder(const Schema& schema,
                                         const std::vector<spec::FieldSpec>& fields) {
  return std::make_unique<JsonDecoder>(schema, fields);
}

std::unique_ptr<Encoder> MakeJsonEncoder(const Schema& schema) {
  return std::make_unique<JsonEncoder>(schema);
}

}  // namespace weir::format::internal
