// The protobuf format: messages read and written with libprotobuf's
// DynamicMessage, from a FileDescriptorSet (a .proto file named in a job is
// compiled into one on the client: proto_compile.cc).
//
// Loading: the descriptor set is parsed and its files are put in a
// SimpleDescriptorDatabase, from which a DescriptorPool builds what the
// message needs. ProtoSchema keeps every object they own, and lives as long
// as the decoder or encoder.
//
// Field mapping: each weir field is looked up under its name, then its
// aliases; a dotted name "customer.id" walks into singular message fields.
// A field that the message does not have, or a field with presence that is
// unset (a message, a proto2/proto3 `optional` or oneof member), or a message
// on the path that is unset, takes the weir default or null. Fields without
// presence (plain proto3 scalars) read their value, zero when absent.
//
// Decoding is total: a payload ParseFromArray rejects, and each value that
// does not fit its column, is a DecodeError with a reason.
#include "common/format/protobuf.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/descriptor_database.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>
#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/format/format_internal.h"
#include "common/format/registry.h"
#include "common/status.h"

namespace weir::format {
namespace internal {
namespace {

namespace pb = google::protobuf;

constexpr int kMaxJsonDepth = 64;

class QuietPoolErrors final : public pb::DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& filename, const std::string& element_name, const pb::Message*,
                ErrorLocation, const std::string& message) override {
    if (first.empty()) first = filename + ": " + element_name + ": " + message;
  }
  std::string first;
};

std::string Opt(const std::map<std::string, std::string>& o, const std::string& key) {
  auto it = o.find(key);
  return it == o.end() ? std::string() : it->second;
}

}  // namespace

// A loaded descriptor file (or set) and, once found, the message.
class ProtoSchema {
 public:
  // From option "descriptors" (a serialized FileDescriptorSet, which the job
  // validator puts there); "descriptor_set" or "proto" name it in errors.
  static Result<std::unique_ptr<ProtoSchema>> Load(const std::map<std::string, std::string>& o) {
    auto s = std::make_unique<ProtoSchema>();
    auto found = o.find("descriptors");
    if (found == o.end())
      return Status::InvalidArgument("format protobuf needs 'descriptor_set' or 'proto'");
    std::string set = Opt(o, "descriptor_set");
    if (set.empty()) set = Opt(o, "proto");
    pb::FileDescriptorSet fds;
    if (!fds.ParseFromString(found->second))
      return Status::InvalidArgument("'" + set + "' is not a FileDescriptorSet");
    s->db_ = std::make_unique<pb::SimpleDescriptorDatabase>();
    for (const auto& f : fds.file())
      if (!s->db_->Add(f))
        return Status::InvalidArgument("descriptor set '" + set + "': file '" + f.name() +
                                       "' is defined twice");
    s->pool_ = std::make_unique<pb::DescriptorPool>(s->db_.get(), &s->pool_errors_);
    for (const auto& f : fds.file())
      if (s->pool_->FindFileByName(f.name()) == nullptr)
        return Status::InvalidArgument(
            "descriptor set '" + set + "': file '" + f.name() + "' does not build" +
            (s->pool_errors_.first.empty() ? std::string() : ": " + s->pool_errors_.first));
    s->from_proto_ = o.count("proto") > 0;
    return s;
  }

  const pb::DescriptorPool* pool() const { return pool_.get(); }

  Status FindMessage(const std::string& name) {
    if (name.empty()) return Status::InvalidArgument("format protobuf needs 'message'");
    message_ = pool()->FindMessageTypeByName(name);
    if (message_ == nullptr)
      return Status::InvalidArgument("message '" + name + "' is not defined in the " +
                                     (from_proto_ ? ".proto file" : "descriptor set"));
    prototype_ = factory_.GetPrototype(message_);
    if (prototype_ == nullptr)
      return Status::InvalidArgument("message '" + name + "': no dynamic prototype");
    return Status::OK();
  }

  const pb::Descriptor* message() const { return message_; }
  std::unique_ptr<pb::Message> New() const {
    return std::unique_ptr<pb::Message>(prototype_->New());
  }

 private:
  // Declaration order matters: the pool uses db_.
  std::unique_ptr<pb::SimpleDescriptorDatabase> db_;
  QuietPoolErrors pool_errors_;
  std::unique_ptr<pb::DescriptorPool> pool_;
  bool from_proto_ = false;
  pb::DynamicMessageFactory factory_;
  const pb::Descriptor* message_ = nullptr;
  const pb::Message* prototype_ = nullptr;
};

namespace {

bool IsTimestamp(const pb::Descriptor* d) {
  return d != nullptr && d->full_name() == "google.protobuf.Timestamp";
}

// The field path of a dotted name, or empty when any step is missing or is
// not a singular message before the last.
std::vector<const pb::FieldDescriptor*> Resolve(const pb::Descriptor* d, std::string_view name) {
  std::vector<const pb::FieldDescriptor*> path;
  while (true) {
    const size_t dot = name.find('.');
    const std::string part(name.substr(0, dot));
    const pb::FieldDescriptor* f = d->FindFieldByName(part);
    if (f == nullptr) return {};
    path.push_back(f);
    if (dot == std::string_view::npos) return path;
    if (f->is_repeated() || f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) return {};
    d = f->message_type();
    name.remove_prefix(dot + 1);
  }
}

// The instant of a google.protobuf.Timestamp in milliseconds, or nullopt when
// it is outside what a timestamp column holds (int64 milliseconds). Nanos
// outside [0, 1e9) are taken as they come (seconds + nanos), not refused.
std::optional<int64_t> TimestampMillis(const pb::Message& m) {
  const pb::Descriptor* d = m.GetDescriptor();
  const pb::Reflection* r = m.GetReflection();
  const pb::FieldDescriptor* sf = d->FindFieldByName("seconds");
  const pb::FieldDescriptor* nf = d->FindFieldByName("nanos");
  const int64_t sec = sf != nullptr ? r->GetInt64(m, sf) : 0;
  const int64_t nanos = nf != nullptr ? r->GetInt32(m, nf) : 0;
  // Floor division, so that instants before 1970 round down.
  int64_t ms = nanos / 1000000;
  if (nanos % 1000000 < 0) --ms;
  // Exact in 128 bits: clamping would make the encoder's (floor) split of an
  // instant near the edge decode to another instant.
  __extension__ typedef __int128 Int128;
  const Int128 total = static_cast<Int128>(sec) * 1000 + ms;
  if (total < std::numeric_limits<int64_t>::min() || total > std::numeric_limits<int64_t>::max())
    return std::nullopt;
  return static_cast<int64_t>(total);
}

void AppendBase64(std::string_view s, std::string* out) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    const uint32_t v =
        (uint32_t(uint8_t(s[i])) << 16) | (uint32_t(uint8_t(s[i + 1])) << 8) | uint8_t(s[i + 2]);
    out->push_back(kAlphabet[v >> 18]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(kAlphabet[(v >> 6) & 63]);
    out->push_back(kAlphabet[v & 63]);
  }
  if (i < s.size()) {
    uint32_t v = uint32_t(uint8_t(s[i])) << 16;
    if (i + 1 < s.size()) v |= uint32_t(uint8_t(s[i + 1])) << 8;
    out->push_back(kAlphabet[v >> 18]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(i + 1 < s.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out->push_back('=');
  }
}

void AppendJsonDouble(double d, std::string* out) {
  if (std::isfinite(d))
    AppendDouble(d, out);
  else
    out->append(std::isnan(d) ? "\"NaN\"" : d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
}

void RenderMessage(const pb::Message& m, int depth, std::string* out);

// One value of field f (element `index` when repeated, else index < 0) as JSON.
void RenderValue(const pb::Message& m, const pb::FieldDescriptor* f, int index, int depth,
                 std::string* out) {
  const pb::Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
      AppendInt64(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f), out);
      return;
    case pb::FieldDescriptor::CPPTYPE_INT64:
      AppendInt64(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f), out);
      return;
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      AppendInt64(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f), out);
      return;
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      out->append(std::to_string(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f)));
      return;
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      AppendJsonDouble(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f), out);
      return;
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      AppendJsonDouble(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f), out);
      return;
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      out->append((rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false");
      return;
    case pb::FieldDescriptor::CPPTYPE_ENUM: {
      const int v = rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f);
      const pb::EnumValueDescriptor* ev = f->enum_type()->FindValueByNumber(v);
      if (ev != nullptr)
        AppendJsonString(ev->name(), out);
      else
        AppendInt64(v, out);
      return;
    }
    case pb::FieldDescriptor::CPPTYPE_STRING: {
      std::string tmp;
      const std::string& s = rep ? r->GetRepeatedStringReference(m, f, index, &tmp)
                                 : r->GetStringReference(m, f, &tmp);
      if (f->type() == pb::FieldDescriptor::TYPE_BYTES) {
        out->push_back('"');
        AppendBase64(s, out);
        out->push_back('"');
      } else {
        AppendJsonString(s, out);
      }
      return;
    }
    case pb::FieldDescriptor::CPPTYPE_MESSAGE: {
      const pb::Message& sub = rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f);
      const std::optional<int64_t> ms =
          IsTimestamp(sub.GetDescriptor()) ? TimestampMillis(sub) : std::nullopt;
      if (ms) {
        out->push_back('"');
        AppendTimestamp(*ms, out);
        out->push_back('"');
      } else {  // a message, or a Timestamp beyond any date: {"seconds": ..., "nanos": ...}
        RenderMessage(sub, depth + 1, out);
      }
      return;
    }
  }
}

// A repeated field (a map field as an object) as JSON.
void RenderRepeated(const pb::Message& m, const pb::FieldDescriptor* f, int depth,
                    std::string* out) {
  const pb::Reflection* r = m.GetReflection();
  const int n = r->FieldSize(m, f);
  if (f->is_map()) {
    const pb::FieldDescriptor* kf = f->message_type()->map_key();
    const pb::FieldDescriptor* vf = f->message_type()->map_value();
    out->push_back('{');
    for (int i = 0; i < n; ++i) {
      if (i > 0) out->push_back(',');
      const pb::Message& entry = r->GetRepeatedMessage(m, f, i);
      if (kf->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) {
        RenderValue(entry, kf, -1, depth, out);
      } else {
        std::string key;
        RenderValue(entry, kf, -1, depth, &key);
        AppendJsonString(key, out);
      }
      out->push_back(':');
      RenderValue(entry, vf, -1, depth, out);
    }
    out->push_back('}');
    return;
  }
  out->push_back('[');
  for (int i = 0; i < n; ++i) {
    if (i > 0) out->push_back(',');
    RenderValue(m, f, i, depth, out);
  }
  out->push_back(']');
}

void RenderMessage(const pb::Message& m, int depth, std::string* out) {
  if (depth > kMaxJsonDepth) {
    out->append("null");
    return;
  }
  const pb::Reflection* r = m.GetReflection();
  std::vector<const pb::FieldDescriptor*> set;
  r->ListFields(m, &set);
  out->push_back('{');
  bool first = true;
  for (const pb::FieldDescriptor* f : set) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(f->name(), out);
    out->push_back(':');
    if (f->is_repeated())
      RenderRepeated(m, f, depth, out);
    else
      RenderValue(m, f, -1, depth, out);
  }
  out->push_back('}');
}

std::string_view ProtoTypeName(const pb::FieldDescriptor* f) {
  if (f->is_map()) return "map";
  if (f->is_repeated()) return "repeated field";
  if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) return "message";
  return f->type_name();
}

// The message-index path of `d` in its file, as the registry wire format
// writes it: its index among the file's top-level messages, then among each
// nested level's.
std::vector<int64_t> MessageIndexes(const pb::Descriptor* d) {
  std::vector<int64_t> path;
  for (; d != nullptr; d = d->containing_type()) path.insert(path.begin(), d->index());
  return path;
}

std::string IndexText(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

class ProtobufDecoder final : public Decoder {
 public:
  ProtobufDecoder(std::unique_ptr<ProtoSchema> s, const Schema& schema,
                  const std::vector<spec::FieldSpec>& fields)
      : schema_(std::move(s)), msg_(schema_->New()) {
    const size_t n = schema.size();
    fields_.resize(n);
    for (size_t c = 0; c < n; ++c) {
      Field& p = fields_[c];
      p.name = schema.field(c).name;
      p.type = schema.field(c).type;
      std::vector<std::string> names{p.name};
      for (const auto& fs : fields) {
        if (fs.name != p.name) continue;
        names.insert(names.end(), fs.aliases.begin(), fs.aliases.end());
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
      for (const auto& name : names) {
        p.path = Resolve(schema_->message(), name);
        if (!p.path.empty()) break;
      }
    }
    staged_.resize(n);
  }

  // Payloads in the registry wire format; `registry` (may be null) checks
  // that their schema ids exist.
  void SetFramed(std::shared_ptr<SchemaRegistry> registry) {
    framed_ = true;
    if (registry) ids_.emplace(std::move(registry), "PROTOBUF", true);
    indexes_ = MessageIndexes(schema_->message());
  }

  Status Prepare(const std::vector<std::string_view>& payloads) override {
    return ids_ ? ids_->Prepare(payloads) : Status::OK();
  }

  void Decode(const std::vector<std::string_view>& payloads, RecordBatch* batch,
              std::vector<DecodeError>* errors, std::vector<uint32_t>* rows_of) override {
    WEIR_ASSERT(batch->columns.size() == fields_.size(),
                "protobuf decoder: the batch's schema is not the decoder's");
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
    TypeId type = TypeId::kString;
    std::vector<const pb::FieldDescriptor*> path;  // empty: not in the message
    bool has_default = false;
    std::string default_text, default_error;
  };

  bool framed_ = false;
  std::vector<int64_t> indexes_;        // the message's index path
  std::optional<RegistryIdCheck> ids_;  // with a registry

  bool Error(std::string why) {
    reason_ = std::move(why);
    return false;
  }

  bool Missing(size_t c) {
    const Field& fd = fields_[c];
    if (!fd.has_default) {
      staged_[c] = Staged::Null();
      return true;
    }
    if (!fd.default_error.empty()) return Error(fd.default_error);
    std::string why;
    // The default's bytes live in fields_, which outlive the row.
    (void)StageText(fd.type, fd.default_text, false, &staged_[c], &why);
    return true;
  }

  bool DecodeOne(std::string_view payload) {
    if (framed_) {
      WireHeader h;
      if (std::string why = ParseWireHeader(payload, true, &h); !why.empty())
        return Error(std::move(why));
      if (ids_ && !ids_->Problem(h.id).empty()) return Error(ids_->Problem(h.id));
      if (h.message_indexes != indexes_)
        return Error("message indexes " + IndexText(h.message_indexes) + " after schema id " +
                     std::to_string(h.id) + " name another message than " +
                     schema_->message()->full_name() + " " + IndexText(indexes_));
      payload.remove_prefix(h.size);
    }
    msg_->Clear();
    if (payload.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
        !msg_->ParseFromArray(payload.data(), static_cast<int>(payload.size())))
      return Error("invalid protobuf message: " + schema_->message()->full_name() +
                   " does not parse from these " + std::to_string(payload.size()) + " bytes");
    scratch_.clear();
    for (size_t c = 0; c < fields_.size(); ++c) {
      const Field& fd = fields_[c];
      if (fd.path.empty()) {
        if (!Missing(c)) return false;
        continue;
      }
      const pb::Message* m = msg_.get();
      bool absent = false;
      for (size_t k = 0; k + 1 < fd.path.size(); ++k) {
        if (!m->GetReflection()->HasField(*m, fd.path[k])) {
          absent = true;
          break;
        }
        m = &m->GetReflection()->GetMessage(*m, fd.path[k]);
      }
      const pb::FieldDescriptor* f = fd.path.back();
      if (!absent && !f->is_repeated() && f->has_presence() && !m->GetReflection()->HasField(*m, f))
        absent = true;
      if (absent) {
        if (!Missing(c)) return false;
        continue;
      }
      if (fd.type == TypeId::kNull) {
        staged_[c] = Staged::Null();
        continue;
      }
      if (!Stage(c, *m, f)) return false;
    }
    return true;
  }

  bool Mismatch(size_t c, const pb::FieldDescriptor* f) {
    return Error("field '" + fields_[c].name + "': " + std::string(ExpectedFor(fields_[c].type)) +
                 ", got protobuf " + std::string(ProtoTypeName(f)));
  }

  // An integer of the message into column c.
  bool StageInt(size_t c, int64_t v) {
    Staged& out = staged_[c];
    switch (fields_[c].type) {
      case TypeId::kBigint:
      case TypeId::kTimestamp:
        out = Staged::Int(v);
        return true;
      case TypeId::kDouble:
        out = Staged::Double(static_cast<double>(v));
        return true;
      case TypeId::kString:
      case TypeId::kBytes: {
        const size_t off = scratch_.size();
        AppendInt64(v, &scratch_);
        out = Staged::Scratch(off, scratch_.size() - off);
        return true;
      }
      default:
        return false;
    }
  }

  bool StageJson(size_t c, const pb::Message& m, const pb::FieldDescriptor* f) {
    if (!IsStringStored(fields_[c].type)) return Mismatch(c, f);
    const size_t off = scratch_.size();
    if (f->is_repeated())
      RenderRepeated(m, f, 0, &scratch_);
    else
      RenderMessage(m.GetReflection()->GetMessage(m, f), 1, &scratch_);
    staged_[c] = Staged::Scratch(off, scratch_.size() - off);
    return true;
  }

  bool Stage(size_t c, const pb::Message& m, const pb::FieldDescriptor* f) {
    if (f->is_repeated()) return StageJson(c, m, f);
    const pb::Reflection* r = m.GetReflection();
    const TypeId type = fields_[c].type;
    Staged& out = staged_[c];
    switch (f->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_INT32:
        return StageInt(c, r->GetInt32(m, f)) || Mismatch(c, f);
      case pb::FieldDescriptor::CPPTYPE_INT64:
        return StageInt(c, r->GetInt64(m, f)) || Mismatch(c, f);
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        return StageInt(c, r->GetUInt32(m, f)) || Mismatch(c, f);
      case pb::FieldDescriptor::CPPTYPE_UINT64: {
        const uint64_t v = r->GetUInt64(m, f);
        if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) &&
            type != TypeId::kString && type != TypeId::kBytes && type != TypeId::kDouble)
          return Error("field '" + fields_[c].name + "': protobuf " + f->type_name() + " value " +
                       std::to_string(v) + " is above the bigint maximum");
        if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          if (type == TypeId::kDouble) {
            out = Staged::Double(static_cast<double>(v));
          } else {
            const size_t off = scratch_.size();
            scratch_.append(std::to_string(v));
            out = Staged::Scratch(off, scratch_.size() - off);
          }
          return true;
        }
        return StageInt(c, static_cast<int64_t>(v)) || Mismatch(c, f);
      }
      case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      case pb::FieldDescriptor::CPPTYPE_FLOAT: {
        const double d = f->cpp_type() == pb::FieldDescriptor::CPPTYPE_DOUBLE ? r->GetDouble(m, f)
                                                                              : r->GetFloat(m, f);
        if (type == TypeId::kDouble) {
          out = Staged::Double(d);
          return true;
        }
        if (IsStringStored(type)) {
          const size_t off = scratch_.size();
          AppendJsonDouble(d, &scratch_);
          if (!std::isfinite(d)) {  // drop the JSON quotes
            scratch_.erase(off, 1);
            scratch_.pop_back();
          }
          out = Staged::Scratch(off, scratch_.size() - off);
          return true;
        }
        return Mismatch(c, f);
      }
      case pb::FieldDescriptor::CPPTYPE_BOOL: {
        const bool b = r->GetBool(m, f);
        if (type == TypeId::kBoolean) {
          out = Staged::Int(b ? 1 : 0);
          return true;
        }
        if (IsStringStored(type)) {
          out = Staged::String(b ? "true" : "false");
          return true;
        }
        return Mismatch(c, f);
      }
      case pb::FieldDescriptor::CPPTYPE_ENUM: {
        const int v = r->GetEnumValue(m, f);
        if (IsStringStored(type)) {
          const pb::EnumValueDescriptor* ev = f->enum_type()->FindValueByNumber(v);
          const size_t off = scratch_.size();
          if (ev != nullptr)
            scratch_.append(ev->name());
          else
            AppendInt64(v, &scratch_);
          out = Staged::Scratch(off, scratch_.size() - off);
          return true;
        }
        if (type == TypeId::kBigint) {
          out = Staged::Int(v);
          return true;
        }
        return Mismatch(c, f);
      }
      case pb::FieldDescriptor::CPPTYPE_STRING: {
        std::string tmp;
        const std::string& s = r->GetStringReference(m, f, &tmp);
        if (IsStringStored(type)) {
          const size_t off = scratch_.size();
          scratch_.append(s);
          out = Staged::Scratch(off, s.size());
          return true;
        }
        if (f->type() == pb::FieldDescriptor::TYPE_BYTES) return Mismatch(c, f);
        // Text into a number, boolean or timestamp column, as json does.
        const size_t off = scratch_.size();
        scratch_.append(s);
        std::string why;
        if (!StageText(type, std::string_view(scratch_).substr(off), false, &out, &why))
          return Error("field '" + fields_[c].name + "': " + why);
        if (out.kind == Staged::Kind::kString) out = Staged::Scratch(off, s.size());
        return true;
      }
      case pb::FieldDescriptor::CPPTYPE_MESSAGE: {
        const pb::Message& sub = r->GetMessage(m, f);
        if (IsTimestamp(f->message_type()) &&
            (type == TypeId::kTimestamp || IsStringStored(type))) {
          const std::optional<int64_t> ms = TimestampMillis(sub);
          if (!ms)
            return Error("field '" + fields_[c].name +
                         "': the Timestamp is outside the range of a timestamp (int64 "
                         "milliseconds since 1970)");
          if (type == TypeId::kTimestamp) {
            out = Staged::Int(*ms);
          } else {
            const size_t off = scratch_.size();
            AppendTimestamp(*ms, &scratch_);
            out = Staged::Scratch(off, scratch_.size() - off);
          }
          return true;
        }
        return StageJson(c, m, f);
      }
    }
    return Mismatch(c, f);
  }

  std::unique_ptr<ProtoSchema> schema_;
  std::unique_ptr<pb::Message> msg_;
  std::vector<Field> fields_;
  std::vector<Staged> staged_;
  std::string scratch_;
  std::string reason_;
};

// Whether a column of `type` can be written into field f (singular).
std::string SinkProblem(TypeId type, const pb::FieldDescriptor* f) {
  if (f->is_repeated())
    return "is a protobuf " + std::string(ProtoTypeName(f)) + ", which weir does not write";
  if (type == TypeId::kNull) return "";
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
    case pb::FieldDescriptor::CPPTYPE_INT64:
    case pb::FieldDescriptor::CPPTYPE_UINT32:
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      if (type == TypeId::kBigint || type == TypeId::kTimestamp || type == TypeId::kBoolean)
        return "";
      break;
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      if (type == TypeId::kDouble || type == TypeId::kBigint) return "";
      break;
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      if (type == TypeId::kBoolean) return "";
      break;
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      if (type == TypeId::kString || type == TypeId::kBigint) return "";
      break;
    case pb::FieldDescriptor::CPPTYPE_STRING:
      if (IsStringStored(type)) return "";
      break;
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      if (IsTimestamp(f->message_type()) && type == TypeId::kTimestamp) return "";
      break;
  }
  return "is " + std::string(TypeName(type)) + " but the protobuf field is " +
         std::string(ProtoTypeName(f));
}

class ProtobufEncoder final : public Encoder {
 public:
  ProtobufEncoder(std::unique_ptr<ProtoSchema> s, const Schema& schema)
      : schema_(std::move(s)), msg_(schema_->New()) {
    for (size_t c = 0; c < schema.size(); ++c) {
      auto path = Resolve(schema_->message(), schema.field(c).name);
      if (!path.empty() && !SinkProblem(schema.field(c).type, path.back()).empty()) path.clear();
      paths_.push_back(std::move(path));
    }
  }

  void Encode(const RecordBatch& batch, size_t row, std::string* out) override {
    if (schema_id_ >= 0)
      AppendWireHeader(static_cast<uint32_t>(schema_id_), true, MessageIndexes(schema_->message()),
                       out);
    msg_->Clear();
    for (size_t c = 0; c < paths_.size() && c < batch.columns.size(); ++c) {
      const auto& path = paths_[c];
      const Column& col = batch.columns[c];
      if (path.empty() || col.IsNull(row) || col.type() == TypeId::kNull) continue;
      pb::Message* m = msg_.get();
      for (size_t k = 0; k + 1 < path.size(); ++k)
        m = m->GetReflection()->MutableMessage(m, path[k]);
      Set(m, path.back(), col, row);
    }
    msg_->AppendToString(out);
  }

 private:
  static void Set(pb::Message* m, const pb::FieldDescriptor* f, const Column& col, size_t row) {
    const pb::Reflection* r = m->GetReflection();
    const TypeId type = col.type();
    switch (f->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_INT32:
        r->SetInt32(
            m, f, static_cast<int32_t>(std::clamp<int64_t>(col.GetInt(row), INT32_MIN, INT32_MAX)));
        return;
      case pb::FieldDescriptor::CPPTYPE_INT64:
        r->SetInt64(m, f, col.GetInt(row));
        return;
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        r->SetUInt32(m, f,
                     static_cast<uint32_t>(std::clamp<int64_t>(col.GetInt(row), 0, UINT32_MAX)));
        return;
      case pb::FieldDescriptor::CPPTYPE_UINT64:
        r->SetUInt64(m, f, static_cast<uint64_t>(std::max<int64_t>(col.GetInt(row), 0)));
        return;
      case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      case pb::FieldDescriptor::CPPTYPE_FLOAT: {
        const double d =
            type == TypeId::kDouble ? col.GetDouble(row) : static_cast<double>(col.GetInt(row));
        if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_DOUBLE)
          r->SetDouble(m, f, d);
        else
          r->SetFloat(m, f, static_cast<float>(d));
        return;
      }
      case pb::FieldDescriptor::CPPTYPE_BOOL:
        r->SetBool(m, f, col.GetBool(row));
        return;
      case pb::FieldDescriptor::CPPTYPE_ENUM: {
        if (type == TypeId::kBigint) {
          const int64_t v = col.GetInt(row);
          if (v >= INT32_MIN && v <= INT32_MAX &&
              (f->enum_type()->FindValueByNumber(static_cast<int>(v)) != nullptr ||
               f->file()->syntax() == pb::FileDescriptor::SYNTAX_PROTO3))
            r->SetEnumValue(m, f, static_cast<int>(v));
          return;
        }
        const pb::EnumValueDescriptor* ev =
            f->enum_type()->FindValueByName(std::string(col.GetString(row)));
        if (ev != nullptr) r->SetEnum(m, f, ev);
        return;
      }
      case pb::FieldDescriptor::CPPTYPE_STRING:
        r->SetString(m, f, std::string(col.GetString(row)));
        return;
      case pb::FieldDescriptor::CPPTYPE_MESSAGE: {
        pb::Message* ts = r->MutableMessage(m, f);
        const int64_t ms = col.GetInt(row);
        int64_t sec = ms / 1000, rem = ms % 1000;
        if (rem < 0) {
          rem += 1000;
          --sec;
        }
        const pb::Descriptor* d = ts->GetDescriptor();
        const pb::Reflection* tr = ts->GetReflection();
        tr->SetInt64(ts, d->FindFieldByName("seconds"), sec);
        tr->SetInt32(ts, d->FindFieldByName("nanos"), static_cast<int32_t>(rem * 1000000));
        return;
      }
    }
  }

  std::unique_ptr<ProtoSchema> schema_;
  std::unique_ptr<pb::Message> msg_;
  std::vector<std::vector<const pb::FieldDescriptor*>> paths_;
  // Framing: the schema id (from `schema_id`, or registered at Open).
  int64_t schema_id_ = -1;
  std::shared_ptr<SchemaRegistry> client_;
  std::string subject_;

 public:
  void SetFraming(int64_t schema_id, std::shared_ptr<SchemaRegistry> registry,
                  std::string subject) {
    schema_id_ = schema_id;
    client_ = std::move(registry);
    subject_ = std::move(subject);
  }

  // Registers the message's file, as .proto text, under the subject.
  Status Open() override {
    if (!client_ || schema_id_ >= 0) return Status::OK();
    WEIR_ASSIGN_OR_RETURN(
        uint32_t id,
        client_->Register(subject_, {"PROTOBUF", schema_->message()->file()->DebugString()}));
    schema_id_ = id;
    return Status::OK();
  }
};

Result<std::unique_ptr<ProtoSchema>> LoadWithMessage(const std::map<std::string, std::string>& o) {
  auto s = ProtoSchema::Load(o);
  if (!s.ok()) return s.status();
  if (Status st = (*s)->FindMessage(Opt(o, "message")); !st.ok()) return st;
  return std::move(*s);
}

}  // namespace

Result<std::unique_ptr<Decoder>> MakeProtobufDecoder(const spec::FormatSpec& format,
                                                     const Schema& schema,
                                                     const std::vector<spec::FieldSpec>& fields) {
  // libprotobuf logs every malformed payload (invalid UTF-8...) to stderr;
  // weir reports them itself, through on_error, with their position.
  static std::once_flag quiet;
  std::call_once(quiet, [] { google::protobuf::SetLogHandler(nullptr); });
  auto s = LoadWithMessage(format.options);
  if (!s.ok()) return s.status();
  auto d = std::make_unique<ProtobufDecoder>(std::move(*s), schema, fields);
  const auto& o = format.options;
  if (auto it = o.find("registry"); it != o.end())
    d->SetFramed(SchemaRegistry::For(it->second));
  else if (Opt(o, "framing") == "registry")
    d->SetFramed(nullptr);
  return std::unique_ptr<Decoder>(std::move(d));
}

Result<std::unique_ptr<Encoder>> MakeProtobufEncoder(const spec::FormatSpec& format,
                                                     const Schema& schema) {
  auto s = LoadWithMessage(format.options);
  if (!s.ok()) return s.status();
  auto e = std::make_unique<ProtobufEncoder>(std::move(*s), schema);
  const auto& o = format.options;
  int64_t id = -1;
  if (auto it = o.find("schema_id"); it != o.end()) {
    if (ParseInt64(it->second, &id) != ParseOutcome::kOk || id < 0 || id > 0xFFFFFFFFll)
      return Status::InvalidArgument("format protobuf: schema_id must be 0..4294967295");
  }
  if (auto it = o.find("registry"); it != o.end())
    e->SetFraming(id, SchemaRegistry::For(it->second), Opt(o, "subject"));
  else if (id >= 0)
    e->SetFraming(id, nullptr, "");
  return std::unique_ptr<Encoder>(std::move(e));
}

}  // namespace internal

Status CheckProtobufFile(const std::map<std::string, std::string>& options) {
  auto s = internal::ProtoSchema::Load(options);
  return s.ok() ? Status::OK() : s.status();
}

Status CheckProtobufMessage(const std::map<std::string, std::string>& options) {
  auto s = internal::LoadWithMessage(options);
  return s.ok() ? Status::OK() : s.status();
}

Status CheckProtobufSinkSchema(const std::map<std::string, std::string>& options,
                               const Schema& stream) {
  auto s = internal::LoadWithMessage(options);
  if (!s.ok()) return s.status();
  const auto* d = (*s)->message();
  for (size_t c = 0; c < stream.size(); ++c) {
    const auto& field = stream.field(c);
    auto path = internal::Resolve(d, field.name);
    if (path.empty())
      return Status::InvalidArgument("field '" + field.name + "' is not a field of message " +
                                     d->full_name());
    if (std::string why = internal::SinkProblem(field.type, path.back()); !why.empty())
      return Status::InvalidArgument("field '" + field.name + "' " + why);
  }
  return Status::OK();
}

}  // namespace weir::format
