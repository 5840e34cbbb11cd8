// Compact byte encodings shared by state, checkpoints and connectors:
// varints, zigzag varints, fixed 64-bit values, length-prefixed bytes, and an
// order-preserving encoding of times for keys. ByteReader never reads past
// its input: a malformed or truncated encoding sets ok() to false.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace weir {

// Appends to a string: varints, zigzag varints, fixed 64-bit values and
// length-prefixed bytes.
class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}
  void PutU8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void PutVarint(uint64_t v) {
    while (v >= 0x80) {
      out_->push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<char>(v));
  }
  void PutSigned(int64_t v) {
    PutVarint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }
  void PutDouble(double d) {
    char b[8];
    std::memcpy(b, &d, 8);
    out_->append(b, 8);
  }
  void PutBytes(std::string_view s) {
    PutVarint(s.size());
    out_->append(s);
  }
  std::string* out() { return out_; }

 private:
  std::string* out_;
};

// Reads what ByteWriter wrote. A read past the end or a malformed varint sets
// ok() to false and returns zeros.
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return pos_ >= in_.size(); }
  size_t pos() const { return pos_; }
  std::string_view rest() const { return in_.substr(pos_); }
  uint8_t GetU8() {
    if (pos_ >= in_.size()) return Fail();
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint64_t GetVarint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return Fail();
      uint8_t b = static_cast<uint8_t>(in_[pos_++]);
      v |= uint64_t{b & 0x7fu} << shift;
      if (b < 0x80) return v;
    }
    return Fail();
  }
  int64_t GetSigned() {
    uint64_t u = GetVarint();
    return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  }
  double GetDouble() {
    if (in_.size() - pos_ < 8 || pos_ > in_.size()) return static_cast<double>(Fail());
    double d;
    std::memcpy(&d, in_.data() + pos_, 8);
    pos_ += 8;
    return d;
  }
  std::string_view GetBytes() {
    uint64_t n = GetVarint();
    if (!ok_ || n > in_.size() - pos_) {
      Fail();
      return {};
    }
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }

 private:
  uint8_t Fail() {
    ok_ = false;
    pos_ = in_.size();
    return 0;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Appends the 8-byte, order-preserving encoding of a time to a state key.
inline void AppendTimeSuffix(int64_t t, std::string* out) {
  uint64_t u = static_cast<uint64_t>(t) ^ (uint64_t{1} << 63);
  for (int s = 56; s >= 0; s -= 8) out->push_back(static_cast<char>((u >> s) & 0xff));
}

}  // namespace weir
