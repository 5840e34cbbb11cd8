// The value format of list state: how KeyedStateBackend::Append stores lists.
//
// A list value is the concatenation of its elements, each framed as
//   [varint length][element bytes]
// The empty string is the empty list. Appending an element therefore never
// needs the old value: the framed element is written after it (RocksDB: a
// Merge whose operator concatenates; memory: a string append), and
// concatenating two valid lists gives a valid list. A value written with Put
// must be framed the same way (EncodeList / AppendListElement) for a later
// Append or a ListReader to make sense of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.h"

namespace weir::state {

// Appends `element`, framed, to *out (which holds a list, or the elements
// already framed for one AppendFramed call).
inline void AppendListElement(std::string_view element, std::string* out) {
  ByteWriter w(out);
  w.PutBytes(element);
}

// *out = the list of elements [begin, end) (each convertible to
// std::string_view), ready for Put.
template <typename It>
void EncodeList(It begin, It end, std::string* out) {
  out->clear();
  for (; begin != end; ++begin) AppendListElement(std::string_view(*begin), out);
}

// Walks the elements of a list value without copying them:
//   ListReader rd(value);
//   std::string_view e;
//   while (rd.Next(&e)) ...;
//   if (!rd.ok()) ... malformed ...
class ListReader {
 public:
  explicit ListReader(std::string_view value) : rd_(value) {}

  // Sets *element to the next element and returns true; false at the end of
  // the list or when the rest is malformed (then ok() is false).
  bool Next(std::string_view* element) {
    if (rd_.done()) return false;
    std::string_view e = rd_.GetBytes();
    if (!rd_.ok()) return false;
    *element = e;
    return true;
  }

  bool ok() const { return rd_.ok(); }
  // Offset in the value of the next element's frame: the framed bytes of the
  // element last returned by Next are value.substr(start, pos() - start),
  // start being pos() before that Next.
  size_t pos() const { return rd_.pos(); }

 private:
  ByteReader rd_;
};

// The number of elements of a list value, or -1 when it is malformed.
inline int64_t ListLength(std::string_view value) {
  ListReader rd(value);
  std::string_view e;
  int64_t n = 0;
  while (rd.Next(&e)) ++n;
  return rd.ok() ? n : -1;
}

// Whether `value` is a well-formed list (possibly empty).
inline bool IsValidList(std::string_view value) {
  return ListLength(value) >= 0;
}

}  // namespace weir::state
