// Value, list and map state (worker/state/typed_state.h) and the backend
// primitives under them (Append, AppendFramed, ScanPrefix), on the memory
// backend and on RocksDbStore: the same behaviour from both, list appends
// that survive flushes, compactions and checkpoints, and prefix scans that
// stay inside their prefix and key group.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "worker/state/list_state.h"
#include "worker/state/rocksdb_store.h"
#include "worker/state/state_backend.h"
#include "worker/state/typed_state.h"

namespace weir::state {
namespace {

namespace fs = std::filesystem;

// A fresh directory under /tmp, removed with its content at the end.
class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/weir-typed-state-XXXXXX";
    char* p = ::mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path_ = p ? p : "/tmp";
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// task_cache_bytes 0 (write-through) unless a test is about the views' cache.
std::unique_ptr<RocksDbStore> OpenDb(const std::string& dir, uint64_t task_cache_bytes = 0) {
  RocksDbOptions o;
  o.dir = dir;
  o.block_cache_bytes = 4 << 20;
  o.write_buffer_bytes = 1 << 20;
  o.task_cache_bytes = task_cache_bytes;
  auto r = RocksDbStore::Open(o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

using Strings = std::vector<std::string>;
using Entry = std::tuple<int, std::string, std::string>;
using Entries = std::vector<Entry>;

Strings ToStrings(const std::vector<std::string_view>& v) {
  return Strings(v.begin(), v.end());
}

// The elements of a list state entry; {"<absent>"} when there is none.
Strings ListOf(ListState& list, int kg, std::string_view key) {
  std::vector<std::string_view> elements;
  auto r = list.Get(kg, key, &elements);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok() || !*r) return {"<absent>"};
  return ToStrings(elements);
}

std::string Framed(const Strings& elements) {
  std::string out;
  EncodeList(elements.begin(), elements.end(), &out);
  return out;
}

Entries PrefixScan(KeyedStateBackend& b, StateId id, int kg, std::string_view prefix) {
  Entries out;
  Status st = b.ScanPrefix(id, kg, prefix, [&](int g, std::string_view k, std::string_view v) {
    out.emplace_back(g, std::string(k), std::string(v));
    return true;
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

std::map<std::string, std::string> MapOf(MapState& map, int kg, std::string_view key) {
  std::map<std::string, std::string> out;
  std::string last;
  bool first = true;
  Status st = map.Iterate(kg, key, [&](std::string_view mk, std::string_view v) {
    EXPECT_TRUE(first || std::string(mk) > last) << "map keys out of order";
    first = false;
    last = std::string(mk);
    out.emplace(std::string(mk), std::string(v));
    return true;
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

// ---- list format ----

TEST(ListFormat, EncodeAndRead) {
  const Strings elements = {"a", "", std::string("b\0c", 3), std::string(300, 'x')};
  std::string v = Framed(elements);
  EXPECT_EQ(ListLength(v), 4);
  ListReader rd(v);
  std::string_view e;
  Strings back;
  while (rd.Next(&e)) back.emplace_back(e);
  EXPECT_TRUE(rd.ok());
  EXPECT_EQ(back, elements);
  // Concatenated lists are a list.
  EXPECT_EQ(ListLength(v + v), 8);
  EXPECT_EQ(ListLength(""), 0);
  EXPECT_TRUE(IsValidList(""));
  // Truncated: the last frame claims more bytes than there are.
  EXPECT_FALSE(IsValidList(v.substr(0, v.size() - 1)));
  EXPECT_FALSE(
      IsValidList(std::string("\x05"
                              "ab",
                              3)));
  EXPECT_FALSE(IsValidList(std::string("\x80", 1)));  // unfinished varint
}

// ---- both backends ----

enum class Kind { kMemory, kRocksDb };

class TypedStateTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    if (GetParam() == Kind::kMemory) {
      backend_ = MakeMemoryStateBackend();
    } else {
      store_ = OpenDb(dir_.Sub("db"));
      ASSERT_NE(store_, nullptr);
      backend_ = store_->NewBackend();
    }
  }
  // RocksDB: flushes and compacts (merge operands folded); memory: nothing.
  void Compact() {
    if (store_) {
      ASSERT_TRUE(store_->Compact().ok());
    }
  }

  ScratchDir dir_;
  std::unique_ptr<RocksDbStore> store_;
  std::unique_ptr<KeyedStateBackend> backend_;
};

TEST_P(TypedStateTest, ValueState) {
  ValueState v(backend_.get(), "op", "value");
  std::string out;
  auto r = v.Get(3, "k", &out);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  ASSERT_TRUE(v.Put(3, "k", "one").ok());
  ASSERT_TRUE(v.Put(4, "k", "other group").ok());
  r = v.Get(3, "k", &out);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ(out, "one");
  ASSERT_TRUE(v.Put(3, "k", "").ok());  // an empty value is a value
  r = v.Get(3, "k", &out);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ(out, "");
  ASSERT_TRUE(v.Clear(3, "k").ok());
  r = v.Get(3, "k", &out);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  r = v.Get(4, "k", &out);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ(out, "other group");
  // The same names, the same state.
  ValueState again(backend_.get(), "op", "value");
  EXPECT_EQ(again.id(), v.id());
}

TEST_P(TypedStateTest, ListAddGetUpdateClear) {
  ListState list(backend_.get(), "op", "list");
  EXPECT_EQ(ListOf(list, 7, "k"), Strings{"<absent>"});
  ASSERT_TRUE(list.Add(7, "k", "a").ok());
  ASSERT_TRUE(list.Add(7, "k", "").ok());
  ASSERT_TRUE(list.Add(7, "k", std::string("\0\xff", 2)).ok());
  EXPECT_EQ(ListOf(list, 7, "k"), (Strings{"a", "", std::string("\0\xff", 2)}));
  EXPECT_EQ(ListOf(list, 8, "k"), Strings{"<absent>"});  // another key group
  EXPECT_EQ(ListOf(list, 7, "k2"), Strings{"<absent>"});

  // The raw value is the framed elements.
  std::string raw;
  auto r = list.GetRaw(7, "k", &raw);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ(raw, Framed({"a", "", std::string("\0\xff", 2)}));

  // Several elements in one write.
  ASSERT_TRUE(list.AddFramed(7, "k", Framed({"b", "c"})).ok());
  EXPECT_EQ(ListOf(list, 7, "k"), (Strings{"a", "", std::string("\0\xff", 2), "b", "c"}));
  // A malformed batch writes nothing.
  EXPECT_EQ(list.AddFramed(7, "k", "\x09xy").code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(list.AddFramed(7, "k", "").ok());
  EXPECT_EQ(ListOf(list, 7, "k").size(), 5u);

  // Update replaces; appends go on from the new list.
  ASSERT_TRUE(list.Update(7, "k", Strings{"x", "y"}).ok());
  EXPECT_EQ(ListOf(list, 7, "k"), (Strings{"x", "y"}));
  ASSERT_TRUE(list.Add(7, "k", "z").ok());
  EXPECT_EQ(ListOf(list, 7, "k"), (Strings{"x", "y", "z"}));
  // An empty update clears.
  ASSERT_TRUE(list.Update(7, "k", Strings{}).ok());
  EXPECT_EQ(ListOf(list, 7, "k"), Strings{"<absent>"});
  ASSERT_TRUE(list.Add(7, "k", "fresh").ok());
  EXPECT_EQ(ListOf(list, 7, "k"), Strings{"fresh"});
  ASSERT_TRUE(list.Clear(7, "k").ok());
  EXPECT_EQ(ListOf(list, 7, "k"), Strings{"<absent>"});
  // Clear then Add: the deleted elements stay deleted.
  ASSERT_TRUE(list.Add(7, "k", "after").ok());
  EXPECT_EQ(ListOf(list, 7, "k"), Strings{"after"});
}

TEST_P(TypedStateTest, AppendAfterPut) {
  StateId id = backend_->Register("op", "raw");
  ASSERT_TRUE(backend_->Put(id, 1, "k", Framed({"p1", "p2"})).ok());
  ASSERT_TRUE(backend_->Append(id, 1, "k", "a1").ok());
  ListState list(backend_.get(), id);
  EXPECT_EQ(ListOf(list, 1, "k"), (Strings{"p1", "p2", "a1"}));
  // A Put after appends replaces everything before it.
  ASSERT_TRUE(backend_->Put(id, 1, "k", Framed({"q"})).ok());
  ASSERT_TRUE(backend_->Append(id, 1, "k", "a2").ok());
  EXPECT_EQ(ListOf(list, 1, "k"), (Strings{"q", "a2"}));
  Compact();
  EXPECT_EQ(ListOf(list, 1, "k"), (Strings{"q", "a2"}));
  ASSERT_TRUE(backend_->Append(id, 1, "k", "a3").ok());
  EXPECT_EQ(ListOf(list, 1, "k"), (Strings{"q", "a2", "a3"}));
}

TEST_P(TypedStateTest, ListOfAMalformedValueIsDataLoss) {
  StateId id = backend_->Register("op", "raw");
  ASSERT_TRUE(backend_->Put(id, 1, "k", "\x07short").ok());
  ListState list(backend_.get(), id);
  std::vector<std::string_view> elements;
  auto r = list.Get(1, "k", &elements);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_TRUE(elements.empty());
}

TEST_P(TypedStateTest, MapPutGetRemoveIterate) {
  MapState map(backend_.get(), "op", "map");
  ASSERT_TRUE(map.Put(2, "user", "b", "2").ok());
  ASSERT_TRUE(map.Put(2, "user", "a", "1").ok());
  ASSERT_TRUE(map.Put(2, "user", "", "empty map key").ok());
  ASSERT_TRUE(map.Put(2, "user", std::string("c\0", 2), "3").ok());
  // Keys of which "user" is a prefix, or that are a prefix of it, and the
  // concatenation that would collide without the length in front.
  ASSERT_TRUE(map.Put(2, "users", "a", "other key").ok());
  ASSERT_TRUE(map.Put(2, "use", "ra", "collision?").ok());
  ASSERT_TRUE(map.Put(3, "user", "a", "other group").ok());

  std::string v;
  auto r = map.Get(2, "user", "a", &v);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ(v, "1");
  r = map.Get(2, "user", "zz", &v);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  r = map.Get(2, "use", "ra", &v);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ(v, "collision?");

  using M = std::map<std::string, std::string>;
  EXPECT_EQ(MapOf(map, 2, "user"),
            (M{{"", "empty map key"}, {"a", "1"}, {"b", "2"}, {std::string("c\0", 2), "3"}}));
  EXPECT_EQ(MapOf(map, 2, "users"), (M{{"a", "other key"}}));
  EXPECT_EQ(MapOf(map, 2, "use"), (M{{"ra", "collision?"}}));
  EXPECT_EQ(MapOf(map, 3, "user"), (M{{"a", "other group"}}));
  EXPECT_EQ(MapOf(map, 2, "nobody"), M{});

  ASSERT_TRUE(map.Put(2, "user", "a", "1b").ok());  // overwrite
  ASSERT_TRUE(map.Remove(2, "user", "b").ok());
  ASSERT_TRUE(map.Remove(2, "user", "not there").ok());
  EXPECT_EQ(MapOf(map, 2, "user"),
            (M{{"", "empty map key"}, {"a", "1b"}, {std::string("c\0", 2), "3"}}));

  // Iterate stops when fn returns false.
  int seen = 0;
  ASSERT_TRUE(
      map.Iterate(2, "user", [&](std::string_view, std::string_view) { return ++seen < 2; }).ok());
  EXPECT_EQ(seen, 2);

  ASSERT_TRUE(map.Clear(2, "user").ok());
  EXPECT_EQ(MapOf(map, 2, "user"), M{});
  EXPECT_EQ(MapOf(map, 2, "users"), (M{{"a", "other key"}}));
  EXPECT_EQ(MapOf(map, 3, "user"), (M{{"a", "other group"}}));
}

TEST_P(TypedStateTest, ScanPrefixBounds) {
  StateId id = backend_->Register("op", "scan");
  StateId other = backend_->Register("op", "other");
  const Strings keys = {"a",  "ab", "ab\x01", "abc",      "ab\xff", "ab\xff\xff",
                        "ac", "b",  "\xff",   "\xff\xff", ""};
  const int groups[] = {0, 4, 5, 6, 255, 256, 65535};
  for (int kg : groups)
    for (const std::string& k : keys)
      ASSERT_TRUE(backend_->Put(id, kg, k, std::to_string(kg) + ":" + k).ok());
  for (const std::string& k : keys) ASSERT_TRUE(backend_->Put(other, 5, k, "other").ok());
  Compact();

  auto keys_of = [](const Entries& es) {
    Strings out;
    for (const auto& [kg, k, v] : es) out.push_back(k);
    return out;
  };
  for (int kg : groups) {
    SCOPED_TRACE(kg);
    Entries ab = PrefixScan(*backend_, id, kg, "ab");
    EXPECT_EQ(keys_of(ab), (Strings{"ab", "ab\x01", "abc", "ab\xff", "ab\xff\xff"}));
    for (const auto& [g, k, v] : ab) {
      EXPECT_EQ(g, kg);
      EXPECT_EQ(v, std::to_string(kg) + ":" + k);
    }
    // "a" is a prefix of "ab": its scan is wider.
    EXPECT_EQ(keys_of(PrefixScan(*backend_, id, kg, "a")),
              (Strings{"a", "ab", "ab\x01", "abc", "ab\xff", "ab\xff\xff", "ac"}));
    EXPECT_EQ(keys_of(PrefixScan(*backend_, id, kg, "abc")), Strings{"abc"});
    EXPECT_EQ(keys_of(PrefixScan(*backend_, id, kg, "ab\xff")), (Strings{"ab\xff", "ab\xff\xff"}));
    EXPECT_EQ(keys_of(PrefixScan(*backend_, id, kg, "abcd")), Strings{});
    EXPECT_EQ(keys_of(PrefixScan(*backend_, id, kg, "aa")), Strings{});
    // Prefixes of 0xff bytes: the successor carries into the key group (and
    // for 65535 into the state id), never into the next group's keys.
    EXPECT_EQ(keys_of(PrefixScan(*backend_, id, kg, "\xff")), (Strings{"\xff", "\xff\xff"}));
    EXPECT_EQ(keys_of(PrefixScan(*backend_, id, kg, "\xff\xff")), Strings{"\xff\xff"});
    // Empty prefix: the whole key group, in key order.
    Entries all = PrefixScan(*backend_, id, kg, "");
    Strings sorted = keys;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(keys_of(all), sorted);
  }
  // Other states and empty key groups show nothing.
  EXPECT_EQ(PrefixScan(*backend_, other, 4, "").size(), 0u);
  EXPECT_EQ(PrefixScan(*backend_, other, 5, "ab").size(), 5u);
  EXPECT_EQ(PrefixScan(*backend_, id, 1, "").size(), 0u);
  EXPECT_EQ(PrefixScan(*backend_, id, 65534, "").size(), 0u);

  // fn returning false stops the scan.
  int seen = 0;
  ASSERT_TRUE(backend_
                  ->ScanPrefix(id, 5, "a",
                               [&](int, std::string_view, std::string_view) { return ++seen < 3; })
                  .ok());
  EXPECT_EQ(seen, 3);
  // fn may read the backend.
  int reads = 0;
  ASSERT_TRUE(backend_
                  ->ScanPrefix(id, 6, "ab",
                               [&](int kg, std::string_view k, std::string_view v) {
                                 std::string got;
                                 auto r = backend_->Get(id, kg, k, &got);
                                 EXPECT_TRUE(r.ok() && *r);
                                 EXPECT_EQ(got, v);
                                 ++reads;
                                 return true;
                               })
                  .ok());
  EXPECT_EQ(reads, 5);
}

// Both backends, the same random operations, the same answers; RocksDB with
// its views' cache off (write-through), small (evicted every few calls) and
// big (never evicted), flushed at random moments.
class TypedStateEquivalence : public ::testing::TestWithParam<uint64_t> {};

TEST_P(TypedStateEquivalence, RandomOperations) {
  ScratchDir dir;
  auto store = OpenDb(dir.Sub("db"), GetParam());
  ASSERT_NE(store, nullptr);
  std::unique_ptr<KeyedStateBackend> b[2] = {MakeMemoryStateBackend(), store->NewBackend()};
  StateId ids[2][2];
  for (int i = 0; i < 2; ++i) {
    ids[i][0] = b[i]->Register("op", "s0");
    ids[i][1] = b[i]->Register("op", "s1");
  }
  std::mt19937 rng(42);
  const Strings keys = {"", "a", "ab", "abc", "ab\xff", "b", "\xff", std::string("a\0", 2)};
  const int groups[] = {0, 1, 255, 256, 65535};
  auto pick_key = [&] { return keys[rng() % keys.size()]; };
  auto pick_group = [&] { return groups[rng() % std::size(groups)]; };
  auto element = [&] { return std::string(rng() % 4, static_cast<char>('a' + rng() % 26)); };

  for (int step = 0; step < 3000; ++step) {
    SCOPED_TRACE(step);
    const int s = static_cast<int>(rng() % 2);
    const int kg = pick_group();
    const std::string key = pick_key();
    const int op = static_cast<int>(rng() % 100);
    if (op < 10) {
      Strings list;
      for (int n = static_cast<int>(rng() % 3); n > 0; --n) list.push_back(element());
      const std::string v = Framed(list);
      for (int i = 0; i < 2; ++i) ASSERT_TRUE(b[i]->Put(ids[i][s], kg, key, v).ok());
    } else if (op < 40) {
      const std::string e = element();
      for (int i = 0; i < 2; ++i) ASSERT_TRUE(b[i]->Append(ids[i][s], kg, key, e).ok());
    } else if (op < 50) {
      Strings list;
      for (int n = static_cast<int>(rng() % 4); n > 0; --n) list.push_back(element());
      const std::string v = Framed(list);
      for (int i = 0; i < 2; ++i) ASSERT_TRUE(b[i]->AppendFramed(ids[i][s], kg, key, v).ok());
    } else if (op < 58) {
      for (int i = 0; i < 2; ++i) ASSERT_TRUE(b[i]->Delete(ids[i][s], kg, key).ok());
    } else if (op < 80) {
      std::string v[2];
      bool found[2];
      for (int i = 0; i < 2; ++i) {
        auto r = b[i]->Get(ids[i][s], kg, key, &v[i]);
        ASSERT_TRUE(r.ok());
        found[i] = *r;
      }
      EXPECT_EQ(found[0], found[1]);
      if (found[0] && found[1]) {
        EXPECT_EQ(v[0], v[1]);
      }
    } else if (op < 92) {
      const std::string prefix = key.substr(0, rng() % (key.size() + 1));
      EXPECT_EQ(PrefixScan(*b[0], ids[0][s], kg, prefix), PrefixScan(*b[1], ids[1][s], kg, prefix));
    } else if (op < 98) {
      Entries e[2];
      for (int i = 0; i < 2; ++i)
        ASSERT_TRUE(b[i]->Scan(ids[i][s], {0, 65535},
                               [&](int g, std::string_view k, std::string_view v) {
                                 e[i].emplace_back(g, std::string(k), std::string(v));
                                 return true;
                               })
                        .ok());
      EXPECT_EQ(e[0], e[1]);
    } else if (op < 99) {
      ASSERT_TRUE(b[1]->Flush().ok());
    } else {
      ASSERT_TRUE(store->Compact().ok());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(TaskCache, TypedStateEquivalence,
                         ::testing::Values(uint64_t{0}, uint64_t{2048}, uint64_t{64} << 20),
                         [](const ::testing::TestParamInfo<uint64_t>& info) {
                           return "Bytes" + std::to_string(info.param);
                         });

INSTANTIATE_TEST_SUITE_P(Backends, TypedStateTest, ::testing::Values(Kind::kMemory, Kind::kRocksDb),
                         [](const ::testing::TestParamInfo<Kind>& info) {
                           return info.param == Kind::kMemory ? "Memory" : "RocksDb";
                         });

// ---- RocksDB only: appends and the life of the database ----

TEST(RocksDbListState, AppendAcrossFlushAndCompaction) {
  ScratchDir dir;
  auto store = OpenDb(dir.Sub("db"));
  ASSERT_NE(store, nullptr);
  auto b = store->NewBackend();
  ListState list(b.get(), "op", "list");
  Strings want;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 50; ++i) {
      std::string e = "r" + std::to_string(round) + "-" + std::to_string(i);
      ASSERT_TRUE(list.Add(9, "k", e).ok());
      want.push_back(e);
    }
    if (round == 1) {
      // Flush only: operands in an L0 file under the ones in the memtable.
      ASSERT_TRUE(store->CreateLocalCheckpoint(dir.Sub("chk-flush")).ok());
    } else {
      ASSERT_TRUE(store->Compact().ok());
    }
    EXPECT_EQ(ListOf(list, 9, "k"), want);
  }
  // A Delete tombstone under later appends.
  ASSERT_TRUE(list.Clear(9, "k").ok());
  ASSERT_TRUE(store->Compact().ok());
  ASSERT_TRUE(list.Add(9, "k", "new").ok());
  ASSERT_TRUE(store->Compact().ok());
  EXPECT_EQ(ListOf(list, 9, "k"), Strings{"new"});
}

TEST(RocksDbListState, AppendsSurviveACheckpointAndAReopen) {
  ScratchDir dir;
  auto store = OpenDb(dir.Sub("db"));
  ASSERT_NE(store, nullptr);
  auto b = store->NewBackend();
  ListState list(b.get(), "op", "list");
  MapState map(b.get(), "op", "map");
  ASSERT_TRUE(list.Update(3, "k", Strings{"base"}).ok());
  ASSERT_TRUE(store->Compact().ok());
  ASSERT_TRUE(list.Add(3, "k", "a1").ok());  // merge operands over a base value
  ASSERT_TRUE(list.Add(3, "k", "a2").ok());
  ASSERT_TRUE(list.Add(4, "only-appends", "x").ok());
  ASSERT_TRUE(map.Put(3, "k", "m", "v").ok());
  ASSERT_TRUE(store->CreateLocalCheckpoint(dir.Sub("chk")).ok());
  // After the checkpoint: not in it.
  ASSERT_TRUE(list.Add(3, "k", "after").ok());

  {
    auto restored = OpenDb(dir.Sub("chk"));
    ASSERT_NE(restored, nullptr);
    auto rb = restored->NewBackend();
    ListState rlist(rb.get(), "op", "list");
    MapState rmap(rb.get(), "op", "map");
    EXPECT_EQ(rlist.id(), list.id());
    EXPECT_EQ(ListOf(rlist, 3, "k"), (Strings{"base", "a1", "a2"}));
    EXPECT_EQ(ListOf(rlist, 4, "only-appends"), Strings{"x"});
    std::string v;
    auto r = rmap.Get(3, "k", "m", &v);
    ASSERT_TRUE(r.ok() && *r);
    EXPECT_EQ(v, "v");
    // The restored database appends and compacts with the operator too.
    ASSERT_TRUE(rlist.Add(3, "k", "a3").ok());
    ASSERT_TRUE(restored->Compact().ok());
    EXPECT_EQ(ListOf(rlist, 3, "k"), (Strings{"base", "a1", "a2", "a3"}));
  }

  // Closing the original and opening its directory again.
  b.reset();
  store.reset();
  store = OpenDb(dir.Sub("db"));
  ASSERT_NE(store, nullptr);
  b = store->NewBackend();
  ListState again(b.get(), "op", "list");
  EXPECT_EQ(ListOf(again, 3, "k"), (Strings{"base", "a1", "a2", "after"}));
  ASSERT_TRUE(store->Compact().ok());
  EXPECT_EQ(ListOf(again, 3, "k"), (Strings{"base", "a1", "a2", "after"}));
}

// The views' write-back cache: writes reach the database (and so a local
// checkpoint) when the view flushes, appends over a stored value read back
// whole, and a second view sees the first one's writes once flushed.
TEST(RocksDbTaskCache, CheckpointHoldsWritesFlushedBeforeIt) {
  ScratchDir dir;
  auto store = OpenDb(dir.Sub("db"), 1 << 20);
  ASSERT_NE(store, nullptr);
  auto b = store->NewBackend();
  ValueState value(b.get(), "op", "value");
  ListState list(b.get(), "op", "list");
  ASSERT_TRUE(list.Update(5, "k", Strings{"base"}).ok());
  ASSERT_TRUE(b->Flush().ok());
  auto other = store->NewBackend();
  ListState other_list(other.get(), "op", "list");
  EXPECT_EQ(ListOf(other_list, 5, "k"), Strings{"base"});
  // Appends to a value the cache has not read, then to one it has.
  auto b2 = store->NewBackend();
  ListState list2(b2.get(), "op", "list");
  ASSERT_TRUE(list2.Add(5, "k", "a1").ok());
  ASSERT_TRUE(list2.Add(5, "k", "a2").ok());
  EXPECT_EQ(ListOf(list2, 5, "k"), (Strings{"base", "a1", "a2"}));
  ASSERT_TRUE(list2.Add(5, "k", "a3").ok());
  ASSERT_TRUE(value.Put(5, "v", "unflushed").ok());
  ASSERT_TRUE(store->CreateLocalCheckpoint(dir.Sub("chk-1")).ok());
  ASSERT_TRUE(b2->Flush().ok());
  ASSERT_TRUE(b->Flush().ok());
  ASSERT_TRUE(value.Put(5, "v", "after").ok());
  ASSERT_TRUE(store->CreateLocalCheckpoint(dir.Sub("chk-2")).ok());

  auto read = [&](const std::string& chk, Strings* elements, std::string* v) {
    auto restored = OpenDb(dir.Sub(chk));
    ASSERT_NE(restored, nullptr);
    auto rb = restored->NewBackend();
    ListState rlist(rb.get(), "op", "list");
    ValueState rvalue(rb.get(), "op", "value");
    *elements = ListOf(rlist, 5, "k");
    auto r = rvalue.Get(5, "v", v);
    ASSERT_TRUE(r.ok());
    if (!*r) *v = "<absent>";
  };
  Strings elements;
  std::string v;
  read("chk-1", &elements, &v);  // nothing flushed since "base"
  EXPECT_EQ(elements, Strings{"base"});
  EXPECT_EQ(v, "<absent>");
  read("chk-2", &elements, &v);
  EXPECT_EQ(elements, (Strings{"base", "a1", "a2", "a3"}));
  EXPECT_EQ(v, "unflushed");
}

TEST(RocksDbListState, KeyGroupOutOfRangeIsRejected) {
  ScratchDir dir;
  auto store = OpenDb(dir.Sub("db"));
  ASSERT_NE(store, nullptr);
  auto b = store->NewBackend();
  StateId id = b->Register("op", "s");
  EXPECT_EQ(b->Append(id, 65536, "k", "e").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b->AppendFramed(id, -1, "k", Framed({"e"})).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(
      b->ScanPrefix(id, 70000, "", [](int, std::string_view, std::string_view) { return true; })
          .code(),
      StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace weir::state
