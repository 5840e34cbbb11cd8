// RocksDbStore: the keyed state backend on RocksDB, its registry of state ids,
// local checkpoints, key-group dropping and importing.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "tests/unit/worker/test_util.h"
#include "worker/state/rocksdb_store.h"
#include "worker/state/state_backend.h"
#include "worker/state/typed_state.h"

namespace weir::state {
namespace {

namespace fs = std::filesystem;

using testutil::TempDir;

std::unique_ptr<RocksDbStore> OpenStore(const std::string& dir, uint64_t cache = 8 << 20,
                                        uint64_t write_buffer = 4 << 20) {
  RocksDbOptions o;
  o.dir = dir;
  o.block_cache_bytes = cache;
  o.write_buffer_bytes = write_buffer;
  o.task_cache_bytes = 0;  // write-through: these tests look at the database itself
  auto r = RocksDbStore::Open(o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

std::string GetOr(KeyedStateBackend& b, StateId id, int kg, const std::string& key,
                  const std::string& missing = "<absent>") {
  std::string v;
  auto r = b.Get(id, kg, key, &v);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() && *r ? v : missing;
}

using Entry = std::tuple<int, std::string, std::string>;

std::vector<Entry> ScanAll(KeyedStateBackend& b, StateId id, KeyGroupRange range) {
  std::vector<Entry> out;
  Status st = b.Scan(id, range, [&](int kg, std::string_view k, std::string_view v) {
    out.emplace_back(kg, std::string(k), std::string(v));
    return true;
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

TEST(RocksDbStore, PutGetDeleteAndScanOrder) {
  TempDir tmp;
  auto store = OpenStore(tmp.Sub("db"));
  ASSERT_NE(store, nullptr);
  auto b = store->NewBackend();
  StateId a = b->Register("op", "a");
  StateId other = b->Register("op", "other");
  ASSERT_NE(a, other);

  ASSERT_TRUE(b->Put(a, 5, "k2", "v52").ok());
  ASSERT_TRUE(b->Put(a, 5, "k1", "v51").ok());
  ASSERT_TRUE(b->Put(a, 3, "zz", "v3").ok());
  ASSERT_TRUE(b->Put(a, 300, "a", "v300").ok());  // key group > 255: both bytes matter
  ASSERT_TRUE(b->Put(a, 0, "first", "v0").ok());
  ASSERT_TRUE(b->Put(a, 65535, "last", "vmax").ok());
  ASSERT_TRUE(b->Put(a, 5, std::string("k\0x", 3), "binary").ok());
  ASSERT_TRUE(b->Put(other, 5, "k1", "other").ok());

  EXPECT_EQ(GetOr(*b, a, 5, "k1"), "v51");
  EXPECT_EQ(GetOr(*b, other, 5, "k1"), "other");
  EXPECT_EQ(GetOr(*b, a, 6, "k1"), "<absent>");
  EXPECT_EQ(GetOr(*b, a, 5, std::string("k\0x", 3)), "binary");
  ASSERT_TRUE(b->Put(a, 5, "k1", "v51b").ok());  // overwrite
  EXPECT_EQ(GetOr(*b, a, 5, "k1"), "v51b");

  // Ordered by key group, then key bytes; other states never appear.
  std::vector<Entry> all = ScanAll(*b, a, {0, 65535});
  std::vector<Entry> want = {
      {0, "first", "v0"},     {3, "zz", "v3"},  {5, std::string("k\0x", 3), "binary"},
      {5, "k1", "v51b"},      {5, "k2", "v52"}, {300, "a", "v300"},
      {65535, "last", "vmax"}};
  EXPECT_EQ(all, want);

  // Range bounds are inclusive on both ends.
  EXPECT_EQ(ScanAll(*b, a, {3, 5}).size(), 4u);
  EXPECT_EQ(ScanAll(*b, a, {4, 5}).size(), 3u);
  EXPECT_EQ(ScanAll(*b, a, {5, 5}).size(), 3u);
  EXPECT_EQ(ScanAll(*b, a, {6, 299}).size(), 0u);
  EXPECT_EQ(ScanAll(*b, a, {300, 300}).size(), 1u);
  EXPECT_EQ(ScanAll(*b, a, {301, 65535}), (std::vector<Entry>{{65535, "last", "vmax"}}));
  EXPECT_EQ(ScanAll(*b, a, {7, 6}).size(), 0u);  // empty range
  EXPECT_EQ(ScanAll(*b, other, {0, 65535}), (std::vector<Entry>{{5, "k1", "other"}}));

  // fn returning false stops the scan.
  int visited = 0;
  ASSERT_TRUE(b->Scan(a, {0, 65535}, [&](int, std::string_view, std::string_view) {
                 return ++visited < 2;
               }).ok());
  EXPECT_EQ(visited, 2);

  // Get inside a scan is allowed (it does not disturb the scan's bounds).
  std::vector<std::string> seen;
  ASSERT_TRUE(b->Scan(a, {5, 5}, [&](int kg, std::string_view k, std::string_view) {
                 seen.push_back(GetOr(*b, other, kg, std::string(k), "-"));
                 return true;
               }).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"-", "other", "-"}));

  ASSERT_TRUE(b->Delete(a, 5, "k1").ok());
  ASSERT_TRUE(b->Delete(a, 5, "never-there").ok());
  EXPECT_EQ(GetOr(*b, a, 5, "k1"), "<absent>");
  EXPECT_EQ(ScanAll(*b, a, {5, 5}).size(), 2u);

  // Key groups outside what 2 bytes can hold are rejected, not wrapped.
  std::string v;
  EXPECT_EQ(b->Put(a, 65536, "x", "y").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b->Get(a, -1, "x", &v).status().code(), StatusCode::kInvalidArgument);
}

// Random operations give the same results as the in-memory backend.
TEST(RocksDbStore, AgreesWithMemoryBackend) {
  TempDir tmp;
  auto store = OpenStore(tmp.Sub("db"));
  ASSERT_NE(store, nullptr);
  auto rocks = store->NewBackend();
  auto mem = MakeMemoryStateBackend();
  std::vector<StateId> ids;
  for (const char* name : {"s1", "s2", "s3"}) {
    StateId r = rocks->Register("op", name);
    StateId m = mem->Register("op", name);
    ASSERT_EQ(r, m);
    ids.push_back(r);
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 5000; ++i) {
    StateId id = ids[rng() % ids.size()];
    int kg = static_cast<int>(rng() % 600);
    std::string key = "key" + std::to_string(rng() % 50);
    if (rng() % 4 == 0) {
      ASSERT_TRUE(rocks->Delete(id, kg, key).ok());
      ASSERT_TRUE(mem->Delete(id, kg, key).ok());
    } else {
      std::string value = std::to_string(i);
      ASSERT_TRUE(rocks->Put(id, kg, key, value).ok());
      ASSERT_TRUE(mem->Put(id, kg, key, value).ok());
    }
  }
  for (StateId id : ids) {
    for (KeyGroupRange r : {KeyGroupRange{0, 65535}, KeyGroupRange{10, 20}, KeyGroupRange{255, 256},
                            KeyGroupRange{599, 599}}) {
      EXPECT_EQ(ScanAll(*rocks, id, r), ScanAll(*mem, id, r));
    }
  }
}

TEST(RocksDbStore, IdsAndDataStableAcrossReopen) {
  TempDir tmp;
  StateId a, b;
  {
    auto store = OpenStore(tmp.Sub("db"));
    ASSERT_NE(store, nullptr);
    auto view = store->NewBackend();
    a = view->Register("per_user", "windows");
    b = view->Register("per_user", "counts");
    // Names are not ambiguous when they contain the separator of the other.
    StateId c = view->Register("per_user/counts", "");
    EXPECT_NE(c, b);
    EXPECT_EQ(view->Register("per_user", "windows"), a);
    EXPECT_EQ(store->NewBackend()->Register("per_user", "windows"), a);
    ASSERT_TRUE(view->Put(b, 9, "k", "v").ok());
  }  // closed: the memtable is flushed even though the WAL is off
  auto store = OpenStore(tmp.Sub("db"));
  ASSERT_NE(store, nullptr);
  auto view = store->NewBackend();
  EXPECT_EQ(view->Register("per_user", "counts"), b);  // asked in another order
  EXPECT_EQ(view->Register("per_user", "windows"), a);
  StateId fresh = view->Register("dedupe", "seen");
  EXPECT_NE(fresh, a);
  EXPECT_NE(fresh, b);
  EXPECT_GT(fresh, std::max(a, b));
  EXPECT_EQ(GetOr(*view, b, 9, "k"), "v");
  // The registry is not visible as state of any id the views hand out.
  EXPECT_EQ(ScanAll(*view, a, {0, 65535}).size(), 0u);
}

TEST(RocksDbStore, ViewsOnTwoThreads) {
  TempDir tmp;
  auto store = OpenStore(tmp.Sub("db"), 1 << 20, 256 << 10);
  ASSERT_NE(store, nullptr);
  constexpr int kKeys = 20000;
  auto work = [&](int kg_base, bool* ok) {
    auto view = store->NewBackend();
    StateId id = view->Register("op", "shared");
    *ok = true;
    for (int i = 0; i < kKeys && *ok; ++i) {
      int kg = kg_base + i % 10;
      std::string key = "k" + std::to_string(i);
      *ok = view->Put(id, kg, key, std::to_string(i * 3)).ok();
      if (i % 7 == 0 && *ok) {
        std::string v;
        auto r = view->Get(id, kg, key, &v);
        *ok = r.ok() && *r && v == std::to_string(i * 3);
      }
    }
    if (*ok) {
      int n = 0;
      *ok = view->Scan(id, {kg_base, kg_base + 9},
                       [&](int kg, std::string_view, std::string_view) {
                         ++n;
                         return kg >= kg_base && kg <= kg_base + 9;
                       })
                .ok() &&
            n == kKeys;
    }
  };
  bool ok1 = false, ok2 = false;
  std::thread t1(work, 0, &ok1);
  std::thread t2(work, 100, &ok2);
  t1.join();
  t2.join();
  EXPECT_TRUE(ok1);
  EXPECT_TRUE(ok2);
  auto view = store->NewBackend();
  StateId id = view->Register("op", "shared");
  EXPECT_EQ(ScanAll(*view, id, {0, 9}).size(), static_cast<size_t>(kKeys));
  EXPECT_EQ(ScanAll(*view, id, {100, 109}).size(), static_cast<size_t>(kKeys));
  EXPECT_EQ(ScanAll(*view, id, {10, 99}).size(), 0u);
}

TEST(RocksDbStore, LocalCheckpointHoldsOnlyEarlierWrites) {
  TempDir tmp;
  auto store = OpenStore(tmp.Sub("db"));
  ASSERT_NE(store, nullptr);
  auto view = store->NewBackend();
  StateId id = view->Register("op", "s");
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(view->Put(id, i % 8, "k" + std::to_string(i), "before").ok());
  ASSERT_TRUE(store->CreateLocalCheckpoint(tmp.Sub("chk/1")).ok());
  EXPECT_EQ(store->CreateLocalCheckpoint(tmp.Sub("chk/1")).code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(fs::exists(tmp.Sub("chk/1/IDENTITY")));

  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(view->Put(id, i % 8, "k" + std::to_string(i), "after").ok());
  ASSERT_TRUE(view->Put(id, 1, "new", "after").ok());
  ASSERT_TRUE(view->Delete(id, 0, "k0").ok());
  StateId later = view->Register("op", "later");

  auto restored = OpenStore(tmp.Sub("chk/1"));
  ASSERT_NE(restored, nullptr);
  auto rview = restored->NewBackend();
  EXPECT_EQ(rview->Register("op", "s"), id);
  std::vector<Entry> entries = ScanAll(*rview, id, {0, 65535});
  EXPECT_EQ(entries.size(), 100u);
  for (const auto& [kg, k, v] : entries) EXPECT_EQ(v, "before") << k;
  EXPECT_EQ(GetOr(*rview, id, 0, "k0"), "before");
  EXPECT_EQ(GetOr(*rview, id, 1, "new"), "<absent>");
  // "later" was registered after the checkpoint: the restored store does not
  // know it, and gives the next new name an id of its own.
  StateId next = rview->Register("op", "another");
  EXPECT_NE(next, id);
  (void)later;

  // The live store is unaffected.
  EXPECT_EQ(GetOr(*view, id, 3, "k3"), "after");
  EXPECT_EQ(GetOr(*view, id, 0, "k0"), "<absent>");
}

TEST(RocksDbStore, DropKeyGroupsOutside) {
  TempDir tmp;
  auto store = OpenStore(tmp.Sub("db"));
  ASSERT_NE(store, nullptr);
  auto view = store->NewBackend();
  StateId s1 = view->Register("op", "s1");
  StateId s2 = view->Register("op2", "s2");
  for (int kg : {0, 5, 9, 10, 15, 20, 21, 29, 30, 40, 41, 1000, 65535}) {
    ASSERT_TRUE(view->Put(s1, kg, "a", "1").ok());
    ASSERT_TRUE(view->Put(s1, kg, "b", "2").ok());
    ASSERT_TRUE(view->Put(s2, kg, "c", "3").ok());
  }
  // Unsorted, overlapping and empty ranges are fine.
  ASSERT_TRUE(store->DropKeyGroupsOutside({{30, 40}, {10, 20}, {12, 14}, {50, 49}}).ok());
  auto kgs = [&](StateId id) {
    std::vector<int> out;
    for (const auto& [kg, k, v] : ScanAll(*view, id, {0, 65535})) out.push_back(kg);
    return out;
  };
  EXPECT_EQ(kgs(s1), (std::vector<int>{10, 10, 15, 15, 20, 20, 30, 30, 40, 40}));
  EXPECT_EQ(kgs(s2), (std::vector<int>{10, 15, 20, 30, 40}));
  EXPECT_EQ(GetOr(*view, s1, 9, "a"), "<absent>");
  EXPECT_EQ(GetOr(*view, s1, 10, "a"), "1");

  // The registry survives (it lives under a reserved id).
  EXPECT_EQ(view->Register("op2", "s2"), s2);
  view.reset();
  store.reset();
  store = OpenStore(tmp.Sub("db"));
  ASSERT_NE(store, nullptr);
  view = store->NewBackend();
  EXPECT_EQ(view->Register("op", "s1"), s1);
  EXPECT_EQ(view->Register("op2", "s2"), s2);
  EXPECT_EQ(kgs(s1).size(), 10u);

  // Keeping the whole range drops nothing; keeping nothing drops everything.
  ASSERT_TRUE(store->DropKeyGroupsOutside({{0, 65535}}).ok());
  EXPECT_EQ(kgs(s1).size(), 10u);
  ASSERT_TRUE(store->DropKeyGroupsOutside({}).ok());
  EXPECT_EQ(kgs(s1).size(), 0u);
  EXPECT_EQ(kgs(s2).size(), 0u);
}

// Every file under `dir`, relative path -> content.
std::map<std::string, std::string> DirContent(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    out[fs::relative(e.path(), dir).string()] = ss.str();
  }
  return out;
}

// Value, list and map state of one database, registered in the order given.
struct ImportSource {
  std::unique_ptr<RocksDbStore> store;
  std::unique_ptr<KeyedStateBackend> view;
  ValueState value;
  ListState list;
  MapState map;
};

// Writes value, list and map state for keys "a" and "b" in each of `kgs`
// (values name `tag`, the key group and the key). List "a" is appended to
// only (merge operands), list "b" is put, then appended to.
void FillSource(ImportSource& src, const std::string& tag, const std::vector<int>& kgs) {
  for (int kg : kgs) {
    const std::string g = std::to_string(kg);
    for (const char* k : {"a", "b"}) {
      const std::string key = k;
      const std::string v = tag + "-" + g + "-" + key;
      ASSERT_TRUE(src.value.Put(kg, key, v).ok());
      if (key == "b") {
        ASSERT_TRUE(src.list.Update(kg, key, std::vector<std::string>{v + "-0"}).ok());
      }
      for (int i = 1; i <= 3; ++i) {
        ASSERT_TRUE(src.list.Add(kg, key, v + "-" + std::to_string(i)).ok());
      }
      ASSERT_TRUE(src.map.Put(kg, key, "x", v + "-x").ok());
      ASSERT_TRUE(src.map.Put(kg, key, "y", v + "-y").ok());
    }
  }
}

std::vector<std::string> ListOf(ListState& list, int kg, std::string_view key) {
  std::vector<std::string_view> elements;
  auto r = list.Get(kg, key, &elements);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok() || !*r) return {"<absent>"};
  return std::vector<std::string>(elements.begin(), elements.end());
}

// Two databases that registered the same states in another order (so under
// other ids) checkpoint; a third imports parts of each.
TEST(RocksDbStore, ImportKeyGroupsFromTwoDatabases) {
  TempDir tmp;
  ImportSource a, b;
  a.store = OpenStore(tmp.Sub("a"));
  b.store = OpenStore(tmp.Sub("b"));
  ASSERT_NE(a.store, nullptr);
  ASSERT_NE(b.store, nullptr);
  a.view = a.store->NewBackend();
  b.view = b.store->NewBackend();
  a.value = ValueState(a.view.get(), "op", "value");
  a.list = ListState(a.view.get(), "op", "list");
  a.map = MapState(a.view.get(), "op2", "map");
  StateId b_only = b.view->Register("op3", "only-b");
  b.map = MapState(b.view.get(), "op2", "map");
  b.list = ListState(b.view.get(), "op", "list");
  b.value = ValueState(b.view.get(), "op", "value");
  ASSERT_NE(a.value.id(), b.value.id());
  ASSERT_NE(a.list.id(), b.list.id());
  ASSERT_NE(a.map.id(), b.map.id());

  // a owned key groups 0..9 and 300, b 10..19 and 65535.
  std::vector<int> a_kgs = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 300};
  std::vector<int> b_kgs = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 65535};
  FillSource(a, "A", a_kgs);
  FillSource(b, "B", b_kgs);
  for (int kg : b_kgs) ASSERT_TRUE(b.view->Put(b_only, kg, "k", "only-b").ok());
  ASSERT_TRUE(a.store->CreateLocalCheckpoint(tmp.Sub("chk-a")).ok());
  ASSERT_TRUE(b.store->CreateLocalCheckpoint(tmp.Sub("chk-b")).ok());
  // Written after the checkpoints: never imported.
  ASSERT_TRUE(a.value.Put(5, "late", "late").ok());

  // The importing database already has state of its own, some under names
  // the sources use too.
  auto c = OpenStore(tmp.Sub("c"));
  ASSERT_NE(c, nullptr);
  auto cview = c->NewBackend();
  ListState own_list(cview.get(), "op", "list");
  const StateId own_list_id = own_list.id();
  ValueState own(cview.get(), "mine", "own");
  ASSERT_TRUE(own.Put(5, "own", "kept").ok());

  // c owns key groups 3..5, 8..12 and 65535, given unsorted and overlapping.
  const std::vector<KeyGroupRange> keep = {{10, 12}, {3, 5}, {8, 11}, {65535, 70000}, {20, 19}};
  auto owned = [](int kg) { return (kg >= 3 && kg <= 5) || (kg >= 8 && kg <= 12) || kg == 65535; };
  const auto a_files = DirContent(tmp.Sub("chk-a"));
  const auto b_files = DirContent(tmp.Sub("chk-b"));
  Status st = c->ImportKeyGroups(tmp.Sub("chk-a"), keep);
  ASSERT_TRUE(st.ok()) << st.ToString();
  st = c->ImportKeyGroups(tmp.Sub("chk-b"), keep);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(DirContent(tmp.Sub("chk-a")), a_files) << "the source was modified";
  EXPECT_EQ(DirContent(tmp.Sub("chk-b")), b_files) << "the source was modified";

  auto check = [&](RocksDbStore& store) {
    auto view = store.NewBackend();
    ValueState value(view.get(), "op", "value");
    ListState list(view.get(), "op", "list");
    MapState map(view.get(), "op2", "map");
    StateId only_b = view->Register("op3", "only-b");
    EXPECT_EQ(list.id(), own_list_id);  // known before the import: same id
    EXPECT_EQ(GetOr(*view, view->Register("mine", "own"), 5, "own"), "kept");

    // Exactly the owned key groups' entries, from both sources.
    std::vector<Entry> want_values, want_only_b;
    std::vector<int> want_list_kgs, want_map_kgs;
    for (const auto* kgs : {&a_kgs, &b_kgs}) {
      const std::string tag = kgs == &a_kgs ? "A" : "B";
      for (int kg : *kgs) {
        if (!owned(kg)) continue;
        const std::string g = tag + "-" + std::to_string(kg);
        want_values.emplace_back(kg, "a", g + "-a");
        want_values.emplace_back(kg, "b", g + "-b");
        if (tag == "B") want_only_b.emplace_back(kg, "k", "only-b");
        for (int n = 0; n < 2; ++n) want_list_kgs.push_back(kg);
        for (int n = 0; n < 4; ++n) want_map_kgs.push_back(kg);
        EXPECT_EQ(ListOf(list, kg, "a"),
                  (std::vector<std::string>{g + "-a-1", g + "-a-2", g + "-a-3"}));
        EXPECT_EQ(ListOf(list, kg, "b"),
                  (std::vector<std::string>{g + "-b-0", g + "-b-1", g + "-b-2", g + "-b-3"}));
        std::map<std::string, std::string> entries;
        EXPECT_TRUE(map.Iterate(kg, "a",
                                [&](std::string_view mk, std::string_view v) {
                                  entries.emplace(mk, v);
                                  return true;
                                })
                        .ok());
        EXPECT_EQ(entries,
                  (std::map<std::string, std::string>{{"x", g + "-a-x"}, {"y", g + "-a-y"}}));
      }
    }
    std::sort(want_values.begin(), want_values.end());
    EXPECT_EQ(ScanAll(*view, value.id(), {0, 65535}), want_values);
    EXPECT_EQ(ScanAll(*view, only_b, {0, 65535}), want_only_b);
    auto kgs_of = [&](StateId id) {
      std::vector<int> out;
      for (const auto& [kg, k, v] : ScanAll(*view, id, {0, 65535})) out.push_back(kg);
      return out;
    };
    std::sort(want_list_kgs.begin(), want_list_kgs.end());
    std::sort(want_map_kgs.begin(), want_map_kgs.end());
    EXPECT_EQ(kgs_of(list.id()), want_list_kgs);
    EXPECT_EQ(kgs_of(map.id()), want_map_kgs);
    EXPECT_EQ(GetOr(*view, value.id(), 5, "late"), "<absent>");
  };
  check(*c);

  // Imported lists are plain values that appends extend.
  ASSERT_TRUE(own_list.Add(4, "a", "more").ok());
  EXPECT_EQ(ListOf(own_list, 4, "a"),
            (std::vector<std::string>{"A-4-a-1", "A-4-a-2", "A-4-a-3", "more"}));
  ASSERT_TRUE(
      own_list.Update(4, "a", std::vector<std::string>{"A-4-a-1", "A-4-a-2", "A-4-a-3"}).ok());

  // The merged registry and the entries are in the database: they survive
  // a reopen and a checkpoint.
  own_list = ListState();
  cview.reset();
  c.reset();
  c = OpenStore(tmp.Sub("c"));
  ASSERT_NE(c, nullptr);
  check(*c);
  ASSERT_TRUE(c->CreateLocalCheckpoint(tmp.Sub("chk-c")).ok());
  c.reset();
  auto restored = OpenStore(tmp.Sub("chk-c"));
  ASSERT_NE(restored, nullptr);
  check(*restored);
}

TEST(RocksDbStore, ImportKeyGroupsErrorsAndNothingToImport) {
  TempDir tmp;
  {
    auto src = OpenStore(tmp.Sub("src"));
    ASSERT_NE(src, nullptr);
    auto view = src->NewBackend();
    StateId id = view->Register("op", "s");
    for (int kg = 0; kg < 10; ++kg) ASSERT_TRUE(view->Put(id, kg, "k", "v").ok());
    ASSERT_TRUE(src->CreateLocalCheckpoint(tmp.Sub("chk")).ok());
  }
  auto store = OpenStore(tmp.Sub("db"));
  ASSERT_NE(store, nullptr);

  Status st = store->ImportKeyGroups(tmp.Sub("missing"), {{0, 9}});
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find(tmp.Sub("missing")), std::string::npos) << st.message();
  fs::create_directories(tmp.Sub("empty"));
  st = store->ImportKeyGroups(tmp.Sub("empty"), {{0, 9}});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(tmp.Sub("empty")), std::string::npos) << st.message();
  EXPECT_TRUE(fs::is_empty(tmp.Sub("empty")));

  // No key group to keep (none, an empty range, none a key can have): nothing
  // is imported.
  const auto files = DirContent(tmp.Sub("chk"));
  for (const std::vector<KeyGroupRange>& keep :
       {std::vector<KeyGroupRange>{}, std::vector<KeyGroupRange>{{5, 4}},
        std::vector<KeyGroupRange>{{65536, 70000}, {-5, -1}}})
    ASSERT_TRUE(store->ImportKeyGroups(tmp.Sub("chk"), keep).ok());
  EXPECT_EQ(DirContent(tmp.Sub("chk")), files);
  auto view = store->NewBackend();
  StateId id = view->Register("op", "s");
  EXPECT_EQ(id, 1u);  // nothing was registered either
  EXPECT_TRUE(ScanAll(*view, id, {0, 65535}).empty());
  // Key groups the source has none of: the registry is merged, no entry is.
  ASSERT_TRUE(store->ImportKeyGroups(tmp.Sub("chk"), {{10, 65535}}).ok());
  EXPECT_TRUE(ScanAll(*view, id, {0, 65535}).empty());
  ASSERT_TRUE(store->ImportKeyGroups(tmp.Sub("chk"), {{9, 9}}).ok());
  EXPECT_EQ(ScanAll(*view, id, {0, 65535}), (std::vector<Entry>{{9, "k", "v"}}));
}

// More state than the block cache and the write buffer together: flushed to
// SST files, compacted, and read back from disk.
TEST(RocksDbStore, StateLargerThanMemory) {
  TempDir tmp;
  const uint64_t cache = 1 << 20, write_buffer = 512 << 10;
  auto store = OpenStore(tmp.Sub("db"), cache, write_buffer);
  ASSERT_NE(store, nullptr);
  auto view = store->NewBackend();
  StateId id = view->Register("op", "big");
  constexpr int kKeys = 200000;
  auto value_of = [](int i) {
    return std::string(60, static_cast<char>('a' + i % 26)) + std::to_string(i);
  };
  for (int i = 0; i < kKeys; ++i)
    ASSERT_TRUE(view->Put(id, i % 1024, "key" + std::to_string(i), value_of(i)).ok());
  EXPECT_GT(store->ApproximateSizeBytes(), cache + write_buffer);

  std::mt19937 rng(11);
  std::string v;
  for (int n = 0; n < 20000; ++n) {
    int i = static_cast<int>(rng() % kKeys);
    auto r = view->Get(id, i % 1024, "key" + std::to_string(i), &v);
    ASSERT_TRUE(r.ok() && *r) << i;
    ASSERT_EQ(v, value_of(i));
  }
  size_t count = 0;
  int last_kg = -1;
  ASSERT_TRUE(view->Scan(id, {0, 65535},
                         [&](int kg, std::string_view, std::string_view) {
                           EXPECT_GE(kg, last_kg);
                           last_kg = kg;
                           ++count;
                           return true;
                         })
                  .ok());
  EXPECT_EQ(count, static_cast<size_t>(kKeys));
  EXPECT_EQ(store->dir(), tmp.Sub("db"));
}

}  // namespace
}  // namespace weir::state
