// The avro format: Avro binary datums read and written with libavro (avro-c).
//
// A writer schema is parsed twice: by libavro, which builds the generic value
// that datums are read into and written from, and here (simdjson), into a tree
// of AvroNode that carries what libavro ignores: logical types
// (timestamp-millis, timestamp-micros, decimal with its scale).
//
// Decoding a payload:
//   1. With registry_schemas, the payload must start with byte 0 and a 4-byte
//      big-endian schema id that names one of them.
//   2. Skim: a bounds-checking walk of the datum over the AvroNode tree. It
//      checks every length against the bytes left, union and enum indexes,
//      varint sizes, nesting (at most kMaxDepth levels) and the number of
//      array/map items (at most payload size + kSpareItems), and that the
//      datum ends exactly at the end of the payload. libavro trusts lengths
//      and counts (it allocates what a length says and loops as long as a
//      block count says), so it only ever sees datums that passed.
//   3. libavro reads the datum into the reused generic value.
//   4. Each weir field takes the value of the writer field its plan names
//      (found by the field's name, else its aliases in order; a dotted alias
//      "customer.id" walks into nested records), converted to its type, or
//      its default, or null.
//
// Plans are made once per writer schema. Every failure is a DecodeError whose
// reason names the field when there is one.
#include "common/format/avro.h"

#include <avro.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/format/format_internal.h"
#include "common/format/registry.h"
#include "common/status.h"

namespace weir::format {
namespace internal {
namespace {

namespace dom = simdjson::dom;

constexpr int kMaxDepth = 64;
constexpr uint64_t kSpareItems = 4096;

enum class AKind : uint8_t {
  kNull,
  kBoolean,
  kInt,
  kLong,
  kFloat,
  kDouble,
  kBytes,
  kString,
  kRecord,
  kEnum,
  kArray,
  kMap,
  kUnion,
  kFixed
};

enum class Logical : uint8_t { kNone, kTimestampMillis, kTimestampMicros, kDecimal };

std::string_view KindName(AKind k) {
  switch (k) {
    case AKind::kNull:
      return "null";
    case AKind::kBoolean:
      return "boolean";
    case AKind::kInt:
      return "int";
    case AKind::kLong:
      return "long";
    case AKind::kFloat:
      return "float";
    case AKind::kDouble:
      return "double";
    case AKind::kBytes:
      return "bytes";
    case AKind::kString:
      return "string";
    case AKind::kRecord:
      return "record";
    case AKind::kEnum:
      return "enum";
    case AKind::kArray:
      return "array";
    case AKind::kMap:
      return "map";
    case AKind::kUnion:
      return "union";
    case AKind::kFixed:
      return "fixed";
  }
  return "?";
}

struct AvroNode {
  AKind kind = AKind::kNull;
  Logical logical = Logical::kNone;
  int scale = 0;                         // decimal
  int64_t size = 0;                      // fixed
  std::string name;                      // full name of a named type
  std::vector<std::string> field_names;  // record
  std::vector<AvroNode*> children;       // record fields, union branches, [items], [values]
  std::vector<std::string> symbols;      // enum
};

// A writer schema: both parses, and a reusable libavro value of it.
class AvroSchema {
 public:
  ~AvroSchema() {
    if (iface_ != nullptr) {
      avro_value_decref(&value_);
      avro_value_iface_decref(iface_);
    }
    if (lib_ != nullptr) avro_schema_decref(lib_);
  }

  // Parses `json`; on failure returns the reason.
  static Result<std::unique_ptr<AvroSchema>> Parse(std::string_view json) {
    auto s = std::make_unique<AvroSchema>();
    if (avro_schema_from_json_length(json.data(), json.size(), &s->lib_) != 0) {
      s->lib_ = nullptr;
      std::string why = avro_strerror();
      while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
      return Status::InvalidArgument("invalid Avro schema: " +
                                     (why.empty() ? std::string("not a schema") : why));
    }
    dom::parser parser;
    dom::element root;
    if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS)
      return Status::InvalidArgument("invalid Avro schema: not valid JSON");
    std::string why;
    s->root_ = s->ParseNode(root, "", 0, &why);
    if (s->root_ == nullptr) return Status::InvalidArgument("invalid Avro schema: " + why);
    if (s->root_->kind != AKind::kRecord)
      return Status::InvalidArgument("the Avro schema must be a record, not " +
                                     std::string(KindName(s->root_->kind)));
    s->iface_ = avro_generic_class_from_schema(s->lib_);
    if (s->iface_ == nullptr || avro_generic_value_new(s->iface_, &s->value_) != 0) {
      if (s->iface_ != nullptr) avro_value_iface_decref(s->iface_);
      s->iface_ = nullptr;
      return Status::InvalidArgument(std::string("invalid Avro schema: ") + avro_strerror());
    }
    return s;
  }

  const AvroNode* root() const { return root_; }
  avro_value_t* value() { return &value_; }

 private:
  AvroNode* NewNode(AKind k) {
    nodes_.push_back(std::make_unique<AvroNode>());
    nodes_.back()->kind = k;
    return nodes_.back().get();
  }

  static bool Primitive(std::string_view t, AKind* k) {
    static const std::pair<std::string_view, AKind> kPrims[] = {
        {"null", AKind::kNull},   {"boolean", AKind::kBoolean}, {"int", AKind::kInt},
        {"long", AKind::kLong},   {"float", AKind::kFloat},     {"double", AKind::kDouble},
        {"bytes", AKind::kBytes}, {"string", AKind::kString}};
    for (const auto& [n, kind] : kPrims)
      if (t == n) {
        *k = kind;
        return true;
      }
    return false;
  }

  static std::string FullName(std::string_view name, std::string_view ns) {
    if (name.find('.') != std::string_view::npos || ns.empty()) return std::string(name);
    return std::string(ns) + "." + std::string(name);
  }

  AvroNode* Named(std::string_view ref, std::string_view ns) {
    auto it = named_.find(FullName(ref, ns));
    if (it == named_.end()) it = named_.find(std::string(ref));
    return it == named_.end() ? nullptr : it->second;
  }

  AvroNode* ParseNode(dom::element e, const std::string& ns, int depth, std::string* why) {
    if (depth > kMaxDepth) {
      *why = "nested too deeply";
      return nullptr;
    }
    if (e.is_string()) {
      std::string_view t = e.get_string().value_unsafe();
      AKind k;
      if (Primitive(t, &k)) return NewNode(k);
      if (AvroNode* n = Named(t, ns)) return n;
      *why = "unknown type '" + std::string(t) + "'";
      return nullptr;
    }
    if (e.is_array()) {
      AvroNode* u = NewNode(AKind::kUnion);
      const dom::array branches = e.get_array().value_unsafe();  // not a temporary in the loop
      for (dom::element b : branches) {
        AvroNode* c = ParseNode(b, ns, depth + 1, why);
        if (c == nullptr) return nullptr;
        u->children.push_back(c);
      }
      return u;
    }
    if (!e.is_object()) {
      *why = "a type must be a name, an object or an array";
      return nullptr;
    }
    dom::object o = e.get_object().value_unsafe();
    dom::element type;
    if (o["type"].get(type) != simdjson::SUCCESS) {
      *why = "an object type needs 'type'";
      return nullptr;
    }
    if (!type.is_string()) return ParseNode(type, ns, depth + 1, why);
    std::string_view t = type.get_string().value_unsafe();
    std::string_view logical;
    if (o["logicalType"].get(logical) != simdjson::SUCCESS) logical = {};
    AKind k;
    if (Primitive(t, &k)) {
      AvroNode* n = NewNode(k);
      SetLogical(n, o, logical);
      return n;
    }
    if (t == "array" || t == "map") {
      dom::element inner;
      if (o[t == "array" ? "items" : "values"].get(inner) != simdjson::SUCCESS) {
        *why = std::string(t) + " needs '" + (t == "array" ? "items" : "values") + "'";
        return nullptr;
      }
      AvroNode* n = NewNode(t == "array" ? AKind::kArray : AKind::kMap);
      AvroNode* c = ParseNode(inner, ns, depth + 1, why);
      if (c == nullptr) return nullptr;
      n->children.push_back(c);
      return n;
    }
    if (t != "record" && t != "error" && t != "enum" && t != "fixed") {
      if (AvroNode* n = Named(t, ns)) return n;
      *why = "unknown type '" + std::string(t) + "'";
      return nullptr;
    }
    std::string_view name, space;
    if (o["name"].get(name) != simdjson::SUCCESS) {
      *why = std::string(t) + " needs a 'name'";
      return nullptr;
    }
    if (o["namespace"].get(space) != simdjson::SUCCESS) space = ns;
    std::string full = FullName(name, space);
    std::string inner_ns =
        full.substr(0, full.rfind('.') == std::string::npos ? 0 : full.rfind('.'));
    AvroNode* n = NewNode(t == "enum"    ? AKind::kEnum
                          : t == "fixed" ? AKind::kFixed
                                         : AKind::kRecord);
    n->name = full;
    named_[full] = n;
    if (t == "enum") {
      dom::array syms;
      if (o["symbols"].get(syms) != simdjson::SUCCESS) {
        *why = "enum '" + full + "' needs 'symbols'";
        return nullptr;
      }
      for (dom::element s : syms) {
        std::string_view sv;
        if (s.get(sv) != simdjson::SUCCESS) {
          *why = "enum '" + full + "': symbols must be strings";
          return nullptr;
        }
        n->symbols.emplace_back(sv);
      }
      return n;
    }
    if (t == "fixed") {
      int64_t size = 0;
      if (o["size"].get(size) != simdjson::SUCCESS || size < 0) {
        *why = "fixed '" + full + "' needs a 'size'";
        return nullptr;
      }
      n->size = size;
      SetLogical(n, o, logical);
      return n;
    }
    dom::array fields;
    if (o["fields"].get(fields) != simdjson::SUCCESS) {
      *why = "record '" + full + "' needs 'fields'";
      return nullptr;
    }
    for (dom::element f : fields) {
      std::string_view fname;
      dom::element ftype;
      if (f["name"].get(fname) != simdjson::SUCCESS || f["type"].get(ftype) != simdjson::SUCCESS) {
        *why = "record '" + full + "': each field needs 'name' and 'type'";
        return nullptr;
      }
      AvroNode* c = ParseNode(ftype, inner_ns, depth + 1, why);
      if (c == nullptr) return nullptr;
      n->field_names.emplace_back(fname);
      n->children.push_back(c);
    }
    return n;
  }

  static void SetLogical(AvroNode* n, dom::object o, std::string_view logical) {
    if (logical == "timestamp-millis" && n->kind == AKind::kLong) {
      n->logical = Logical::kTimestampMillis;
    } else if (logical == "timestamp-micros" && n->kind == AKind::kLong) {
      n->logical = Logical::kTimestampMicros;
    } else if (logical == "decimal" && (n->kind == AKind::kBytes || n->kind == AKind::kFixed)) {
      int64_t scale = 0;
      if (o["scale"].get(scale) != simdjson::SUCCESS) scale = 0;
      n->logical = Logical::kDecimal;
      n->scale = static_cast<int>(std::clamp<int64_t>(scale, 0, 400));
    }
  }

  avro_schema_t lib_ = nullptr;
  avro_value_iface_t* iface_ = nullptr;
  avro_value_t value_{};
  std::vector<std::unique_ptr<AvroNode>> nodes_;
  std::map<std::string, AvroNode*> named_;
  AvroNode* root_ = nullptr;
};

// ---- Skim: the bounds check before libavro reads ----

class Skimmer {
 public:
  Skimmer(const uint8_t* p, size_t n) : p_(p), end_(p + n), budget_(n + kSpareItems) {}

  bool Datum(const AvroNode* n, int depth) {
    if (depth > kMaxDepth) return Fail("the datum is nested more than 64 levels deep");
    switch (n->kind) {
      case AKind::kNull:
        return true;
      case AKind::kBoolean:
        return Take(1, "boolean");
      case AKind::kInt: {
        int64_t v;
        if (!Varint(&v)) return false;
        if (v < INT32_MIN || v > INT32_MAX) return Fail("an int is out of range");
        return true;
      }
      case AKind::kLong: {
        int64_t v;
        return Varint(&v);
      }
      case AKind::kFloat:
        return Take(4, "float");
      case AKind::kDouble:
        return Take(8, "double");
      case AKind::kBytes:
      case AKind::kString: {
        int64_t len;
        if (!Varint(&len)) return false;
        if (len < 0) return Fail("a negative length");
        return Take(static_cast<uint64_t>(len), KindName(n->kind));
      }
      case AKind::kFixed:
        return Take(static_cast<uint64_t>(n->size), "fixed");
      case AKind::kEnum: {
        int64_t v;
        if (!Varint(&v)) return false;
        if (v < 0 || static_cast<uint64_t>(v) >= n->symbols.size())
          return Fail("enum index " + std::to_string(v) + " is out of range");
        return true;
      }
      case AKind::kUnion: {
        int64_t v;
        if (!Varint(&v)) return false;
        if (v < 0 || static_cast<uint64_t>(v) >= n->children.size())
          return Fail("union branch " + std::to_string(v) + " is out of range");
        return Datum(n->children[static_cast<size_t>(v)], depth + 1);
      }
      case AKind::kRecord:
        for (const AvroNode* c : n->children)
          if (!Datum(c, depth + 1)) return false;
        return true;
      case AKind::kArray:
      case AKind::kMap:
        while (true) {
          int64_t count;
          if (!Varint(&count)) return false;
          if (count == 0) return true;
          if (count == std::numeric_limits<int64_t>::min()) return Fail("a bad block count");
          if (count < 0) {
            count = -count;
            int64_t bytes;
            if (!Varint(&bytes)) return false;
            if (bytes < 0) return Fail("a negative block size");
          }
          if (static_cast<uint64_t>(count) > budget_) return Fail("too many array or map items");
          budget_ -= static_cast<uint64_t>(count);
          for (int64_t i = 0; i < count; ++i) {
            if (n->kind == AKind::kMap) {
              int64_t len;
              if (!Varint(&len)) return false;
              if (len < 0) return Fail("a negative length");
              if (!Take(static_cast<uint64_t>(len), "map key")) return false;
            }
            if (!Datum(n->children[0], depth + 1)) return false;
          }
        }
    }
    return Fail("unknown type");
  }

  size_t left() const { return static_cast<size_t>(end_ - p_); }
  const std::string& reason() const { return reason_; }

 private:
  bool Fail(std::string why) {
    reason_ = std::move(why);
    return false;
  }

  bool Take(uint64_t n, std::string_view what) {
    if (n > left()) {
      return Fail("truncated datum: " + std::string(what) + " needs " + std::to_string(n) +
                  " bytes, " + std::to_string(left()) + " left");
    }
    p_ += n;
    return true;
  }

  bool Varint(int64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return Fail("truncated datum: the payload ends inside a number");
      const uint8_t b = *p_++;
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        *out = static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
        return true;
      }
    }
    return Fail("a varint longer than 10 bytes");
  }

  const uint8_t* p_;
  const uint8_t* end_;
  uint64_t budget_;
  std::string reason_;
};

// ---- Values ----

// Follows union branches down to the value they hold.
void Deunion(avro_value_t* v, const AvroNode** n) {
  while ((*n)->kind == AKind::kUnion) {
    int d = 0;
    avro_value_t branch;
    avro_value_get_discriminant(v, &d);
    avro_value_get_current_branch(v, &branch);
    *v = branch;
    *n = (*n)->children[static_cast<size_t>(d)];
  }
}

double DecimalToDouble(const uint8_t* b, size_t len, int scale) {
  if (len == 0) return 0;
  double v = static_cast<int8_t>(b[0]);
  for (size_t i = 1; i < len; ++i) v = v * 256 + b[i];
  return v / std::pow(10.0, scale);
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Bytes as a JSON string, one \u00XX escape per byte that is not printable ASCII.
void AppendJsonBytes(const uint8_t* b, size_t len, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < len; ++i) {
    const uint8_t c = b[i];
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      out->push_back(static_cast<char>(c));
    } else {
      const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
      out->append(esc, sizeof esc);
    }
  }
  out->push_back('"');
}

// The JSON text of a value (records and maps as objects, arrays as arrays,
// unions as their branch's value, enums as their symbol, bytes and fixed as
// strings of \u00XX escapes, decimals as numbers, timestamps as epoch
// millis, NaN and infinities as null).
void RenderJson(avro_value_t v, const AvroNode* n, std::string* out) {
  Deunion(&v, &n);
  switch (n->kind) {
    case AKind::kNull:
      out->append("null");
      return;
    case AKind::kBoolean: {
      int b = 0;
      avro_value_get_boolean(&v, &b);
      out->append(b ? "true" : "false");
      return;
    }
    case AKind::kInt: {
      int32_t i = 0;
      avro_value_get_int(&v, &i);
      AppendInt64(i, out);
      return;
    }
    case AKind::kLong: {
      int64_t i = 0;
      avro_value_get_long(&v, &i);
      if (n->logical == Logical::kTimestampMicros) i = FloorDiv(i, 1000);
      AppendInt64(i, out);
      return;
    }
    case AKind::kFloat:
    case AKind::kDouble: {
      double d = 0;
      if (n->kind == AKind::kFloat) {
        float f = 0;
        avro_value_get_float(&v, &f);
        d = f;
      } else {
        avro_value_get_double(&v, &d);
      }
      if (std::isfinite(d))
        AppendDouble(d, out);
      else
        out->append("null");
      return;
    }
    case AKind::kBytes:
    case AKind::kFixed: {
      const void* buf = nullptr;
      size_t size = 0;
      if (n->kind == AKind::kBytes)
        avro_value_get_bytes(&v, &buf, &size);
      else
        avro_value_get_fixed(&v, &buf, &size);
      const auto* b = static_cast<const uint8_t*>(buf);
      if (n->logical == Logical::kDecimal) {
        const double d = DecimalToDouble(b, size, n->scale);
        if (std::isfinite(d))
          AppendDouble(d, out);
        else
          out->append("null");
      } else {
        AppendJsonBytes(b, size, out);
      }
      return;
    }
    case AKind::kString: {
      const char* s = nullptr;
      size_t size = 0;
      avro_value_get_string(&v, &s, &size);
      AppendJsonString(std::string_view(s, size == 0 ? 0 : size - 1), out);
      return;
    }
    case AKind::kEnum: {
      int i = 0;
      avro_value_get_enum(&v, &i);
      AppendJsonString(n->symbols[static_cast<size_t>(i)], out);
      return;
    }
    case AKind::kRecord: {
      out->push_back('{');
      for (size_t i = 0; i < n->children.size(); ++i) {
        if (i > 0) out->push_back(',');
        AppendJsonString(n->field_names[i], out);
        out->push_back(':');
        avro_value_t c;
        avro_value_get_by_index(&v, i, &c, nullptr);
        RenderJson(c, n->children[i], out);
      }
      out->push_back('}');
      return;
    }
    case AKind::kArray:
    case AKind::kMap: {
      const bool map = n->kind == AKind::kMap;
      out->push_back(map ? '{' : '[');
      size_t count = 0;
      avro_value_get_size(&v, &count);
      for (size_t i = 0; i < count; ++i) {
        if (i > 0) out->push_back(',');
        avro_value_t c;
        const char* key = nullptr;
        avro_value_get_by_index(&v, i, &c, &key);
        if (map) {
          AppendJsonString(key == nullptr ? "" : key, out);
          out->push_back(':');
        }
        RenderJson(c, n->children[0], out);
      }
      out->push_back(map ? '}' : ']');
      return;
    }
    case AKind::kUnion:
      break;
  }
  out->append("null");
}

std::string Trimmed(std::string_view s) {
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return std::string(s.substr(b));
}

Result<std::unique_ptr<AvroSchema>> LoadSchema(const std::string& json) {
  return AvroSchema::Parse(json);
}

// ---- Decoder ----

class AvroDecoder final : public Decoder {
 public:
  struct FieldPlan {
    bool found = false;
    std::vector<size_t> path;  // record field indexes from the root
  };
  struct Writer {
    std::unique_ptr<AvroSchema> schema;
    std::vector<FieldPlan> plan;  // per weir field
  };

  AvroDecoder(const Schema& schema, const std::vector<spec::FieldSpec>& fields) {
    const size_t n = schema.size();
    fields_.resize(n);
    for (size_t f = 0; f < n; ++f) {
      Field& p = fields_[f];
      p.name = schema.field(f).name;
      p.type = schema.field(f).type;
      p.names.push_back(p.name);
      for (const auto& fs : fields) {
        if (fs.name != p.name) continue;
        p.names.insert(p.names.end(), fs.aliases.begin(), fs.aliases.end());
        if (fs.default_value) {
          p.has_default = true;
          p.default_text = *fs.default_value;
          std::string why;
          Staged probe;
          if (!StageText(p.type, p.default_text, false, &probe, &why))
            p.default_error = "field '" + p.name + "': missing, and its default " +
                              QuoteForMessage(p.default_text) + " is not a valid " +
                              std::string(TypeName(p.type)) + " (" + why + ")";
        }
        break;
      }
    }
    staged_.resize(n);
    reader_ = avro_reader_memory(nullptr, 0);
  }

  ~AvroDecoder() override {
    if (reader_ != nullptr) avro_reader_free(reader_);
  }

  Status AddWriter(int64_t id, std::unique_ptr<AvroSchema> s) {
    Writer w;
    w.plan.resize(fields_.size());
    for (size_t f = 0; f < fields_.size(); ++f) w.plan[f] = PlanField(*s->root(), fields_[f]);
    w.schema = std::move(s);
    if (id < 0)
      unframed_ = std::make_unique<Writer>(std::move(w));
    else
      registry_[id] = std::make_unique<Writer>(std::move(w));
    return Status::OK();
  }

  void SetRegistry(std::shared_ptr<SchemaRegistry> r) { client_ = std::move(r); }

  // Fetches the writer schemas of ids not seen yet from the registry.
  Status Prepare(const std::vector<std::string_view>& payloads) override {
    if (!client_) return Status::OK();
    WireHeader h;
    for (std::string_view p : payloads) {
      if (!ParseWireHeader(p, false, &h).empty()) continue;
      const int64_t id = h.id;
      if (registry_.count(id) != 0 || unknown_.count(id) != 0) continue;
      auto fetched = client_->Fetch(h.id);
      if (!fetched.ok()) {
        if (fetched.status().code() != StatusCode::kNotFound) return fetched.status();
        unknown_[id] = fetched.status().message();
        continue;
      }
      if (fetched->type != "AVRO") {
        unknown_[id] = "schema id " + std::to_string(id) + " in the registry is " + fetched->type +
                       ", not AVRO";
        continue;
      }
      auto s = AvroSchema::Parse(fetched->text);
      if (!s.ok()) {
        unknown_[id] =
            "schema id " + std::to_string(id) + " from the registry: " + s.status().message();
        continue;
      }
      WEIR_RETURN_IF_ERROR(AddWriter(id, std::move(*s)));
    }
    return Status::OK();
  }

  void Decode(const std::vector<std::string_view>& payloads, RecordBatch* batch,
              std::vector<DecodeError>* errors, std::vector<uint32_t>* rows_of) override {
    WEIR_ASSERT(batch->columns.size() == fields_.size(),
                "avro decoder: the batch's schema is not the decoder's");
    for (size_t i = 0; i < payloads.size(); ++i) {
      if (!DecodeOne(payloads[i])) {
        errors->push_back({i, reason_});
        continue;
      }
      AppendStagedRow(staged_.data(), scratch_.data(), batch);
      if (rows_of != nullptr) rows_of->push_back(static_cast<uint32_t>(i));
    }
    if (scratch_.capacity() > (size_t{1} << 22)) std::string().swap(scratch_);
  }

 private:
  struct Field {
    std::string name;
    TypeId type = TypeId::kNull;
    std::vector<std::string> names;  // its name, then its aliases
    bool has_default = false;
    std::string default_text;
    std::string default_error;
  };

  static FieldPlan PlanField(const AvroNode& root, const Field& f) {
    for (const std::string& name : f.names) {
      FieldPlan p;
      const AvroNode* n = &root;
      size_t start = 0;
      bool ok = true;
      while (ok) {
        const size_t dot = name.find('.', start);
        const std::string part = name.substr(start, dot == std::string::npos ? dot : dot - start);
        // Step through unions to their one record branch.
        while (n->kind == AKind::kUnion) {
          const AvroNode* rec = nullptr;
          for (const AvroNode* b : n->children)
            if (b->kind == AKind::kRecord) rec = rec == nullptr ? b : nullptr;
          if (rec == nullptr) break;
          n = rec;
        }
        if (n->kind != AKind::kRecord) {
          ok = false;
          break;
        }
        auto it = std::find(n->field_names.begin(), n->field_names.end(), part);
        if (it == n->field_names.end()) {
          ok = false;
          break;
        }
        const size_t idx = static_cast<size_t>(it - n->field_names.begin());
        p.path.push_back(idx);
        n = n->children[idx];
        if (dot == std::string::npos) break;
        start = dot + 1;
      }
      if (ok) {
        p.found = true;
        return p;
      }
    }
    return {};
  }

  bool Error(std::string why) {
    reason_ = std::move(why);
    return false;
  }

  bool DecodeOne(std::string_view payload) {
    Writer* w = unframed_.get();
    const auto* data = reinterpret_cast<const uint8_t*>(payload.data());
    size_t len = payload.size();
    if (w == nullptr) {
      if (len < 5 || data[0] != 0)
        return Error(len == 0 ? "empty payload"
                              : "not in the schema-registry wire format (byte 0, then a "
                                "4-byte schema id)");
      const int64_t id = (int64_t{data[1]} << 24) | (int64_t{data[2]} << 16) |
                         (int64_t{data[3]} << 8) | int64_t{data[4]};
      auto it = registry_.find(id);
      if (it == registry_.end()) {
        auto u = unknown_.find(id);
        return Error(u != unknown_.end()
                         ? u->second
                         : "schema id " + std::to_string(id) + " is not in registry_schemas");
      }
      w = it->second.get();
      data += 5;
      len -= 5;
    }
    Skimmer skim(data, len);
    if (!skim.Datum(w->schema->root(), 0)) return Error("invalid Avro datum: " + skim.reason());
    if (skim.left() != 0)
      return Error("invalid Avro datum: " + std::to_string(skim.left()) +
                   " bytes left after the record");
    avro_value_t* root = w->schema->value();
    avro_value_reset(root);
    avro_reader_memory_set_source(reader_, reinterpret_cast<const char*>(data),
                                  static_cast<int64_t>(len));
    if (avro_value_read(reader_, root) != 0)
      return Error(std::string("invalid Avro datum: ") + avro_strerror());
    scratch_.clear();
    for (size_t f = 0; f < fields_.size(); ++f) {
      const FieldPlan& p = w->plan[f];
      if (!p.found) {
        const Field& fd = fields_[f];
        if (!fd.has_default) {
          staged_[f] = Staged::Null();
        } else if (!fd.default_error.empty()) {
          return Error(fd.default_error);
        } else {
          (void)StageText(fd.type, fd.default_text, false, &staged_[f], &reason_);
        }
        continue;
      }
      avro_value_t v = *root;
      const AvroNode* n = w->schema->root();
      bool is_null = false;
      for (size_t step : p.path) {
        Deunion(&v, &n);
        if (n->kind == AKind::kNull) {
          is_null = true;
          break;
        }
        if (n->kind != AKind::kRecord)
          return Error("field '" + fields_[f].name + "': expected a record on its path, got avro " +
                       std::string(KindName(n->kind)));
        avro_value_t c;
        avro_value_get_by_index(&v, step, &c, nullptr);
        v = c;
        n = n->children[step];
      }
      if (is_null) {
        staged_[f] = Staged::Null();
        continue;
      }
      Deunion(&v, &n);
      if (!Stage(f, &v, n)) return false;
    }
    return true;
  }

  bool Mismatch(size_t f, const AvroNode* n) {
    return Error("field '" + fields_[f].name + "': " + std::string(ExpectedFor(fields_[f].type)) +
                 ", got avro " + std::string(KindName(n->kind)));
  }

  bool StageFromText(size_t f, std::string_view text) {
    std::string why;
    if (StageText(fields_[f].type, text, false, &staged_[f], &why)) return true;
    return Error("field '" + fields_[f].name + "': " + why);
  }

  bool Stage(size_t f, avro_value_t* v, const AvroNode* n) {
    const TypeId type = fields_[f].type;
    Staged& out = staged_[f];
    if (n->kind == AKind::kNull || type == TypeId::kNull) {
      out = Staged::Null();
      return true;
    }
    // Scalars first: integers, floating point, decimals, strings.
    int64_t i = 0;
    double d = 0;
    bool is_int = false;
    std::string_view text;
    bool is_text = false;
    switch (n->kind) {
      case AKind::kBoolean: {
        int b = 0;
        avro_value_get_boolean(v, &b);
        if (type == TypeId::kBoolean) {
          out = Staged::Int(b ? 1 : 0);
          return true;
        }
        if (type == TypeId::kString) {
          out = Staged::String(b ? "true" : "false");
          return true;
        }
        return Mismatch(f, n);
      }
      case AKind::kInt: {
        int32_t x = 0;
        avro_value_get_int(v, &x);
        i = x;
        is_int = true;
        break;
      }
      case AKind::kLong:
        avro_value_get_long(v, &i);
        if (n->logical == Logical::kTimestampMicros) i = FloorDiv(i, 1000);
        is_int = true;
        break;
      case AKind::kFloat: {
        float x = 0;
        avro_value_get_float(v, &x);
        d = x;
        break;
      }
      case AKind::kDouble:
        avro_value_get_double(v, &d);
        break;
      case AKind::kBytes:
      case AKind::kFixed: {
        const void* buf = nullptr;
        size_t size = 0;
        if (n->kind == AKind::kBytes)
          avro_value_get_bytes(v, &buf, &size);
        else
          avro_value_get_fixed(v, &buf, &size);
        if (n->logical == Logical::kDecimal) {
          d = DecimalToDouble(static_cast<const uint8_t*>(buf), size, n->scale);
          break;
        }
        text = std::string_view(static_cast<const char*>(buf), size);
        if (type == TypeId::kBytes || type == TypeId::kString) {
          out = Staged::String(text);
          return true;
        }
        return Mismatch(f, n);
      }
      case AKind::kString: {
        const char* s = nullptr;
        size_t size = 0;
        avro_value_get_string(v, &s, &size);
        text = std::string_view(s, size == 0 ? 0 : size - 1);
        is_text = true;
        break;
      }
      case AKind::kEnum: {
        int e = 0;
        avro_value_get_enum(v, &e);
        text = n->symbols[static_cast<size_t>(e)];
        is_text = true;
        break;
      }
      default: {  // record, array, map: JSON text for string fields
        if (type != TypeId::kString) return Mismatch(f, n);
        const size_t off = scratch_.size();
        RenderJson(*v, n, &scratch_);
        out = Staged::Scratch(off, scratch_.size() - off);
        return true;
      }
    }
    if (is_text) {
      if (type == TypeId::kString || type == TypeId::kBytes) {
        out = Staged::String(text);
        return true;
      }
      return StageFromText(f, text);
    }
    switch (type) {
      case TypeId::kBigint:
      case TypeId::kTimestamp:
        if (!is_int) return Mismatch(f, n);
        out = Staged::Int(i);
        return true;
      case TypeId::kDouble:
        out = Staged::Double(is_int ? static_cast<double>(i) : d);
        return true;
      case TypeId::kString: {
        const size_t off = scratch_.size();
        if (is_int) {
          AppendInt64(i, &scratch_);
        } else if (std::isfinite(d)) {
          AppendDouble(d, &scratch_);
        } else {
          scratch_.append(std::isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
        }
        out = Staged::Scratch(off, scratch_.size() - off);
        return true;
      }
      default:
        return Mismatch(f, n);
    }
  }

  std::vector<Field> fields_;
  std::unique_ptr<Writer> unframed_;
  std::map<int64_t, std::unique_ptr<Writer>> registry_;
  std::shared_ptr<SchemaRegistry> client_;  // registry: fetches writer schemas by id
  std::map<int64_t, std::string> unknown_;  // ids it has not, and why
  std::vector<Staged> staged_;
  std::string scratch_;
  std::string reason_;
  avro_reader_t reader_ = nullptr;
};

// ---- Encoder ----

// Whether a column of type t can be written to a non-union node n.
bool Writable(TypeId t, const AvroNode* n) {
  switch (n->kind) {
    case AKind::kBoolean:
      return t == TypeId::kBoolean;
    case AKind::kInt:
      return t == TypeId::kBigint;
    case AKind::kLong:
      return t == TypeId::kBigint || t == TypeId::kTimestamp;
    case AKind::kFloat:
    case AKind::kDouble:
      return t == TypeId::kDouble || t == TypeId::kBigint;
    case AKind::kString:
      return t != TypeId::kNull;
    case AKind::kBytes:
      if (n->logical == Logical::kDecimal) return t == TypeId::kDouble || t == TypeId::kBigint;
      return t == TypeId::kString || t == TypeId::kBytes;
    default:
      return false;
  }
}

int NullBranch(const AvroNode* n) {
  if (n->kind != AKind::kUnion) return -1;
  for (size_t b = 0; b < n->children.size(); ++b)
    if (n->children[b]->kind == AKind::kNull) return static_cast<int>(b);
  return -1;
}

struct SinkField {
  int column = -1;  // -1: absent from the stream
  int null_branch = -1;
  int value_branch = -1;           // for unions
  const AvroNode* node = nullptr;  // the (branch) node values go to
};

// Plans the fields of `root` against `stream`, or says what cannot be written.
Status PlanSink(const AvroNode& root, const Schema& stream, std::vector<SinkField>* out) {
  for (size_t i = 0; i < root.children.size(); ++i) {
    const std::string& name = root.field_names[i];
    const AvroNode* n = root.children[i];
    SinkField sf;
    sf.column = stream.IndexOf(name);
    sf.null_branch = NullBranch(n);
    if (sf.column < 0) {
      if (n->kind != AKind::kNull && sf.null_branch < 0)
        return Status::InvalidArgument("avro field '" + name +
                                       "' is not in the stream and cannot be null");
      out->push_back(sf);
      continue;
    }
    const TypeId t = stream.field(static_cast<size_t>(sf.column)).type;
    if (n->kind == AKind::kUnion) {
      for (size_t b = 0; b < n->children.size() && sf.value_branch < 0; ++b)
        if (Writable(t, n->children[b])) sf.value_branch = static_cast<int>(b);
      if (sf.value_branch >= 0) sf.node = n->children[static_cast<size_t>(sf.value_branch)];
    } else if (Writable(t, n) || n->kind == AKind::kNull) {
      sf.node = n;
    }
    if (sf.node == nullptr && !(t == TypeId::kNull && (sf.null_branch >= 0)))
      return Status::InvalidArgument("avro field '" + name + "' (" +
                                     std::string(KindName(n->kind)) + ") cannot be written from " +
                                     std::string(TypeName(t)) + " field '" + name + "'");
    out->push_back(sf);
  }
  return Status::OK();
}

class AvroEncoder final : public Encoder {
 public:
  AvroEncoder(std::unique_ptr<AvroSchema> s, std::vector<SinkField> plan, int64_t schema_id)
      : schema_(std::move(s)), plan_(std::move(plan)), schema_id_(schema_id) {
    writer_ = avro_writer_memory(nullptr, 0);
  }

  // With a registry: the writer schema is registered under `subject` and
  // its id framed into every message.
  void SetRegistry(std::shared_ptr<SchemaRegistry> r, std::string subject, std::string text) {
    client_ = std::move(r);
    subject_ = std::move(subject);
    text_schema_ = std::move(text);
  }

  Status Open() override {
    if (!client_) return Status::OK();
    WEIR_ASSIGN_OR_RETURN(uint32_t id, client_->Register(subject_, {"AVRO", text_schema_}));
    schema_id_ = id;
    return Status::OK();
  }
  ~AvroEncoder() override {
    if (writer_ != nullptr) avro_writer_free(writer_);
  }

  void Encode(const RecordBatch& batch, size_t row, std::string* out) override {
    avro_value_t* root = schema_->value();
    avro_value_reset(root);
    for (size_t i = 0; i < plan_.size(); ++i) {
      const SinkField& sf = plan_[i];
      avro_value_t fv;
      avro_value_get_by_index(root, i, &fv, nullptr);
      const Column* col = sf.column >= 0 && static_cast<size_t>(sf.column) < batch.columns.size()
                              ? &batch.columns[static_cast<size_t>(sf.column)]
                              : nullptr;
      const bool null = col == nullptr || col->IsNull(row) || sf.node == nullptr;
      if (null && sf.null_branch >= 0) {
        avro_value_t b;
        avro_value_set_branch(&fv, sf.null_branch, &b);
        avro_value_set_null(&b);
        continue;
      }
      avro_value_t target = fv;
      if (sf.value_branch >= 0) avro_value_set_branch(&fv, sf.value_branch, &target);
      if (sf.node == nullptr) continue;
      SetValue(&target, sf.node, null ? nullptr : col, row);
    }
    if (schema_id_ >= 0) {
      const uint32_t id = static_cast<uint32_t>(schema_id_);
      const char frame[5] = {0, static_cast<char>(id >> 24), static_cast<char>(id >> 16),
                             static_cast<char>(id >> 8), static_cast<char>(id)};
      out->append(frame, sizeof frame);
    }
    size_t size = 0;
    if (avro_value_sizeof(root, &size) != 0) return;
    const size_t at = out->size();
    out->resize(at + size);
    avro_writer_memory_set_dest(writer_, out->data() + at, static_cast<int64_t>(size));
    if (avro_value_write(writer_, root) != 0) out->resize(at);
  }

 private:
  // Writes the column's value (its zero value when col is null) to v of node n.
  void SetValue(avro_value_t* v, const AvroNode* n, const Column* col, size_t row) {
    switch (n->kind) {
      case AKind::kNull:
        avro_value_set_null(v);
        return;
      case AKind::kBoolean:
        avro_value_set_boolean(v, col != nullptr && col->GetBool(row) ? 1 : 0);
        return;
      case AKind::kInt: {
        const int64_t x = col == nullptr ? 0 : col->GetInt(row);
        avro_value_set_int(v, static_cast<int32_t>(std::clamp<int64_t>(x, INT32_MIN, INT32_MAX)));
        return;
      }
      case AKind::kLong: {
        int64_t x = col == nullptr ? 0 : col->GetInt(row);
        if (n->logical == Logical::kTimestampMicros)
          x = x > INT64_MAX / 1000 ? INT64_MAX : x < INT64_MIN / 1000 ? INT64_MIN : x * 1000;
        avro_value_set_long(v, x);
        return;
      }
      case AKind::kFloat:
        avro_value_set_float(v, static_cast<float>(Number(col, row)));
        return;
      case AKind::kDouble:
        avro_value_set_double(v, Number(col, row));
        return;
      case AKind::kString: {
        text_.clear();
        if (col != nullptr) AppendPlainText(*col, row, &text_);
        avro_value_set_string_len(v, text_.c_str(), text_.size() + 1);
        return;
      }
      case AKind::kBytes: {
        text_.clear();
        if (n->logical == Logical::kDecimal) {
          UnscaledDecimal(Number(col, row) * std::pow(10.0, n->scale), &text_);
        } else if (col != nullptr) {
          text_.append(col->GetString(row));
        }
        avro_value_set_bytes(v, text_.data(), text_.size());
        return;
      }
      default:
        return;
    }
  }

  // The unscaled value of a decimal, rounded to an integer, as Avro stores it:
  // big-endian two's complement in as few bytes as hold it. Exact for every
  // finite double (beyond 2^63 too: a double of that size is an integer
  // m * 2^e); NaN and infinities have no decimal and are written as 0.
  static void UnscaledDecimal(double scaled, std::string* out) {
    out->clear();
    if (!std::isfinite(scaled)) scaled = 0;
    const double rounded = std::round(scaled);
    const bool negative = rounded < 0;
    int exp = 0;
    const double frac = std::frexp(std::fabs(rounded), &exp);  // |rounded| = frac * 2^exp
    // Magnitude: a 53-bit integer mantissa shifted left by exp - 53 bits
    // (exp <= 53: the value is the mantissa shifted right, an integer).
    uint64_t mantissa = static_cast<uint64_t>(std::ldexp(frac, 53));
    int shift = exp - 53;
    if (shift < 0) {
      mantissa = shift <= -64 ? 0 : mantissa >> -shift;
      shift = 0;
    }
    std::string mag(1, '\0');  // a leading zero byte keeps room for the sign bit
    for (int k = 7; k >= 0; --k) mag.push_back(static_cast<char>(mantissa >> (8 * k)));
    const int bytes = shift / 8, bits = shift % 8;
    if (bits > 0) {
      unsigned carry = 0;
      for (size_t i = mag.size(); i-- > 0;) {
        const unsigned b = static_cast<uint8_t>(mag[i]);
        mag[i] = static_cast<char>(((b << bits) | carry) & 0xff);
        carry = b >> (8 - bits);
      }
    }
    mag.append(static_cast<size_t>(bytes), '\0');
    if (negative) {  // two's complement: invert, add one
      unsigned carry = 1;
      for (size_t i = mag.size(); i-- > 0;) {
        const unsigned b = (~static_cast<unsigned>(static_cast<uint8_t>(mag[i])) & 0xff) + carry;
        mag[i] = static_cast<char>(b & 0xff);
        carry = b >> 8;
      }
    }
    // Minimal two's complement: drop leading bytes that only repeat the sign.
    size_t s = 0;
    while (s + 1 < mag.size() && ((mag[s] == 0 && (mag[s + 1] & 0x80) == 0) ||
                                  (mag[s] == static_cast<char>(0xFF) && (mag[s + 1] & 0x80) != 0)))
      ++s;
    out->assign(mag, s, std::string::npos);
  }

  static double Number(const Column* col, size_t row) {
    if (col == nullptr) return 0;
    if (col->type() == TypeId::kDouble) return col->GetDouble(row);
    return static_cast<double>(col->GetInt(row));
  }

  std::unique_ptr<AvroSchema> schema_;
  std::vector<SinkField> plan_;
  int64_t schema_id_;
  std::shared_ptr<SchemaRegistry> client_;
  std::string subject_, text_schema_;
  std::string text_;
  avro_writer_t writer_ = nullptr;
};

constexpr std::string_view kRegistryPrefix = "registry_schemas.";

}  // namespace

Result<std::unique_ptr<Decoder>> MakeAvroDecoder(const spec::FormatSpec& format,
                                                 const Schema& schema,
                                                 const std::vector<spec::FieldSpec>& fields) {
  auto d = std::make_unique<AvroDecoder>(schema, fields);
  bool any = false;
  if (auto it = format.options.find("schema"); it != format.options.end()) {
    auto s = LoadSchema(it->second);
    if (!s.ok()) return s.status();
    WEIR_RETURN_IF_ERROR(d->AddWriter(-1, std::move(*s)));
    any = true;
  }
  for (const auto& [key, value] : format.options) {
    if (key.compare(0, kRegistryPrefix.size(), kRegistryPrefix) != 0) continue;
    int64_t id = 0;
    if (ParseInt64(std::string_view(key).substr(kRegistryPrefix.size()), &id) !=
            ParseOutcome::kOk ||
        id < 0 || id > 0xFFFFFFFFll)
      return Status::InvalidArgument("format avro: bad schema id in '" + key + "'");
    if (any && format.options.count("schema") != 0)
      return Status::InvalidArgument("format avro: give 'schema' or 'registry_schemas', not both");
    auto s = LoadSchema(value);
    if (!s.ok())
      return Status::InvalidArgument("schema id " + std::to_string(id) + ": " +
                                     s.status().message());
    WEIR_RETURN_IF_ERROR(d->AddWriter(id, std::move(*s)));
    any = true;
  }
  if (auto it = format.options.find("registry"); it != format.options.end()) {
    if (format.options.count("schema") != 0)
      return Status::InvalidArgument("format avro: give 'schema' or 'registry', not both");
    d->SetRegistry(SchemaRegistry::For(it->second));
    any = true;
  }
  if (!any)
    return Status::InvalidArgument(
        "format avro needs 'schema' (the writer schema), 'registry' or 'registry_schemas'");
  return std::unique_ptr<Decoder>(std::move(d));
}

Result<std::unique_ptr<Encoder>> MakeAvroEncoder(const spec::FormatSpec& format,
                                                 const Schema& schema) {
  std::string text;
  if (auto it = format.options.find("schema"); it != format.options.end()) {
    text = it->second;
  } else {
    text = DeriveAvroSchema(schema);
  }
  auto s = AvroSchema::Parse(text);
  if (!s.ok()) return s.status();
  std::vector<SinkField> plan;
  WEIR_RETURN_IF_ERROR(PlanSink(*(*s)->root(), schema, &plan));
  int64_t id = -1;
  if (auto it = format.options.find("schema_id"); it != format.options.end()) {
    if (ParseInt64(it->second, &id) != ParseOutcome::kOk || id < 0 || id > 0xFFFFFFFFll)
      return Status::InvalidArgument("format avro: schema_id must be 0..4294967295");
  }
  auto e = std::make_unique<AvroEncoder>(std::move(*s), std::move(plan), id);
  if (auto it = format.options.find("registry"); it != format.options.end() && id < 0) {
    auto subject = format.options.find("subject");
    if (subject == format.options.end())
      return Status::InvalidArgument("format avro: 'registry' on a sink needs a subject");
    e->SetRegistry(SchemaRegistry::For(it->second), subject->second, text);
  }
  return std::unique_ptr<Encoder>(std::move(e));
}

}  // namespace internal

bool IsInlineAvroSchema(std::string_view option) {
  std::string t = internal::Trimmed(option);
  return !t.empty() && (t[0] == '{' || t[0] == '[' || t[0] == '"');
}

Status CheckAvroSchema(std::string_view json) {
  auto s = internal::AvroSchema::Parse(json);
  return s.ok() ? Status::OK() : s.status();
}

Status CheckAvroSinkSchema(std::string_view json, const Schema& stream) {
  auto s = internal::AvroSchema::Parse(json);
  if (!s.ok()) return s.status();
  std::vector<internal::SinkField> plan;
  return internal::PlanSink(*(*s)->root(), stream, &plan);
}

std::string DeriveAvroSchema(const Schema& stream) {
  std::string out = R"({"type":"record","name":"Row","namespace":"weir","fields":[)";
  for (size_t f = 0; f < stream.size(); ++f) {
    if (f > 0) out.push_back(',');
    out += R"({"name":)";
    internal::AppendJsonString(stream.field(f).name, &out);
    out += R"(,"type":)";
    switch (stream.field(f).type) {
      case TypeId::kNull:
        out += R"("null")";
        break;
      case TypeId::kBoolean:
        out += R"(["null","boolean"])";
        break;
      case TypeId::kBigint:
        out += R"(["null","long"])";
        break;
      case TypeId::kDouble:
        out += R"(["null","double"])";
        break;
      case TypeId::kString:
        out += R"(["null","string"])";
        break;
      case TypeId::kBytes:
        out += R"(["null","bytes"])";
        break;
      case TypeId::kTimestamp:
        out += R"(["null",{"type":"long","logicalType":"timestamp-millis"}])";
        break;
    }
    out += R"(,"default":null})";
  }
  out += "]}";
  return out;
}

}  // namespace weir::format
