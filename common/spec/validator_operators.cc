// The job file validator: operators, their structure (pass 1) and their
// binding in dependency order (pass 2). See validator_internal.h.
#include "common/spec/validator_internal.h"

namespace weir::spec::internal {

void Validator::ReadOperators(const YAML::Node& node) {
  if (!node.IsSequence()) {
    operators_broken_ = true;
    r_.Error(node, "operators must be a list; start each operator with '- name: ...'");
    return;
  }
  for (const auto& entry : node) {
    YAML::Node item = entry;
    Draft d;
    d.node = item;
    d.spec.pos = Reader::Pos(item);
    ReadOperatorStructure(item, &d);
    drafts_.push_back(std::move(d));
    Draft& dr = drafts_.back();
    if (!dr.spec.name.empty()) {
      YAML::Node at = item.IsMap() && item["name"].IsDefined() ? item["name"] : item;
      if (!DefineStream(dr.spec.name, at, {Stream::kOperator, drafts_.size() - 1, dr.spec.pos}))
        dr.structure_ok = false;
    }
    if (dr.spec.window && !dr.spec.window->late.empty()) {
      YAML::Node w = item["window"].IsDefined() ? item["window"] : item["join"]["window"];
      YAML::Node at = w.IsMap() && w["late"].IsDefined() ? w["late"] : item;
      DefineStream(dr.spec.window->late, at, {Stream::kLate, drafts_.size() - 1, Reader::Pos(at)});
    }
  }
}

void Validator::ReadOperatorStructure(const YAML::Node& item, Draft* d) {
  OperatorSpec& op = d->spec;
  if (!item.IsMap()) {
    r_.Error(item, "an operator must be a map starting with 'name:'");
    d->structure_ok = false;
    return;
  }
  auto nn = item["name"];
  if (!nn.IsDefined()) {
    r_.Error(item, "operator has no 'name'");
    d->structure_ok = false;
  } else if (auto s = r_.String(nn, "operator name")) {
    op.name = *s;
  } else {
    d->structure_ok = false;
  }
  const std::string what = "operator '" + op.name + "'";
  // Which kind: exactly one of the kind keys.
  std::vector<std::string> kinds;
  for (const auto& k : kOperatorKindKeys)
    if (item[k].IsDefined()) kinds.push_back(k);
  std::vector<std::string> keys = {"name", "from", "parallelism"};
  if (kinds.empty()) {
    for (const char* keyed : {"window", "aggregate", "dedupe", "reduce"}) {
      if (item[keyed].IsDefined()) {
        YAML::Node at = item[keyed];
        for (const auto& kv : item)
          if (kv.first.Scalar() == keyed) at.reset(kv.first);
        r_.Error(at, what + ": '" + keyed + "' needs 'key_by' in the same operator (" + keyed +
                         " state is kept per key)");
        d->structure_ok = false;
        return;
      }
    }
    std::vector<std::string> all = kOperatorKindKeys;
    std::string hint;
    for (const auto& kv : item) {
      std::string k = kv.first.Scalar();
      if (k != "name" && k != "from" && k != "parallelism") {
        std::string m = ClosestMatch(k, all);
        if (!m.empty()) hint = " ('" + k + "' looks like '" + m + "')";
      }
    }
    r_.Error(item, what +
                       " does nothing: give it one of 'filter', 'map', 'key_by', 'join', "
                       "'union', 'udf', 'rename' or 'cast'" +
                       hint);
    d->structure_ok = false;
    return;
  }
  // rename and cast go together: one pass over the fields.
  if (kinds.size() == 2 && kinds[0] == "rename" && kinds[1] == "cast") kinds.pop_back();
  if (kinds.size() > 1) {
    r_.Error(item[kinds[1]], what + " has both '" + kinds[0] + "' and '" + kinds[1] +
                                 "': an operator does one thing; split it into two");
    d->structure_ok = false;
    return;
  }
  const std::string kind = kinds[0];
  if (kind == "filter") keys.push_back("filter");
  if (kind == "map") keys.push_back("map");
  if (kind == "key_by")
    keys.insert(keys.end(), {"key_by", "window", "aggregate", "dedupe", "reduce"});
  if (kind == "join") keys.push_back("join");
  if (kind == "union") keys.push_back("union");
  if (kind == "udf") keys.push_back("udf");
  if (kind == "rename" || kind == "cast") keys.insert(keys.end(), {"rename", "cast"});
  MapReader m(&r_, item, what, keys);
  if (auto p = m.Get("parallelism"); p.IsDefined()) {
    op.parallelism = int(r_.Int(p, "parallelism", 1, 32768).value_or(0));
    if (op.parallelism > job_.max_parallelism)
      r_.Error(p, what + ": parallelism " + std::to_string(op.parallelism) +
                      " is larger than max_parallelism " + std::to_string(job_.max_parallelism));
  }
  bool takes_from = kind != "join" && kind != "union";
  if (takes_from) {
    auto f = m.Get("from");
    if (!f.IsDefined()) {
      r_.Error(item, what + " has no 'from': name the stream it reads");
      d->structure_ok = false;
    } else if (f.IsSequence()) {
      r_.Error(f, what + " reads one stream; to read several, add a 'union' operator first");
      d->structure_ok = false;
    } else if (auto s = r_.String(f, "from")) {
      op.from.push_back(*s);
      d->from_nodes.push_back(f);
    } else {
      d->structure_ok = false;
    }
  } else if (m.Has("from")) {
    r_.Error(m.KeyNode("from"),
             what + ": a " + kind + " names its inputs in '" + kind + "'; remove 'from'");
  }

  if (kind == "filter") {
    op.kind = OperatorKind::kFilter;
    d->filter_node = m.Get("filter");
    op.filter.text = r_.String(d->filter_node, "filter").value_or("");
    op.filter.pos = Reader::Pos(d->filter_node);
  } else if (kind == "map") {
    op.kind = OperatorKind::kMap;
    ReadNamedExprs(m.Get("map"), "map", &op.map, &d->map_nodes);
  } else if (kind == "rename" || kind == "cast") {
    op.kind = OperatorKind::kMap;
    d->reshape = true;
    ReadReshape(m.Get("rename"), m.Get("cast"), what, d);
  } else if (kind == "key_by") {
    ReadKeyBy(m.Get("key_by"), d);
    bool w = m.Has("window"), a = m.Has("aggregate"), dd = m.Has("dedupe"), rd = m.Has("reduce");
    int n = (w || a ? 1 : 0) + (dd ? 1 : 0) + (rd ? 1 : 0);
    if (n == 0) {
      r_.Error(item["key_by"], what +
                                   ": key_by needs, in the same operator, 'window' with "
                                   "'aggregate', 'dedupe' or 'reduce'");
      d->structure_ok = false;
    } else if (n > 1) {
      r_.Error(item, what + " mixes " + std::string(w || a ? "window/aggregate, " : "") +
                         (dd ? "dedupe, " : "") + (rd ? "reduce" : "") +
                         ": a keyed operator does one of them");
      d->structure_ok = false;
    } else if (w || a) {
      op.kind = OperatorKind::kWindowAggregate;
      if (!w) {
        r_.Error(m.KeyNode("aggregate"), what +
                                             ": aggregate needs a 'window' (or use 'reduce' "
                                             "for a running aggregate per key)");
        d->structure_ok = false;
      } else {
        op.window = ReadWindow(m.Get("window"), false);
        if (!op.window) d->structure_ok = false;
      }
      if (!a) {
        r_.Error(m.KeyNode("window"), what +
                                          ": a window needs an 'aggregate' saying what to "
                                          "compute, e.g. {n: count()}");
        d->structure_ok = false;
      } else {
        ReadNamedExprs(m.Get("aggregate"), "aggregate", nullptr, &d->agg_nodes, &op.aggregates);
      }
    } else if (dd) {
      op.kind = OperatorKind::kDedupe;
      MapReader dm(&r_, m.Get("dedupe"), what + " dedupe", {"within"});
      if (auto w2 = dm.Get("within"); w2.IsDefined())
        op.dedupe_within_ms = r_.Duration(w2, "dedupe.within").value_or(0);
      else if (dm.ok())
        r_.Error(m.Get("dedupe"), "dedupe needs 'within', the time a key is remembered (e.g. 10m)");
      dm.Finish();
    } else {
      op.kind = OperatorKind::kReduce;
      ReadNamedExprs(m.Get("reduce"), "reduce", nullptr, &d->agg_nodes, &op.aggregates);
    }
  } else if (kind == "join") {
    op.kind = OperatorKind::kJoin;
    auto j = m.Get("join");
    MapReader jm(&r_, j, what + " join", {"left", "right", "on", "within", "window"});
    if (jm.ok()) {
      for (const char* side : {"left", "right"}) {
        auto s = jm.Get(side);
        if (!s.IsDefined()) {
          r_.Error(j, "join needs '" + std::string(side) + "', the name of a stream");
          d->structure_ok = false;
        } else if (auto v = r_.String(s, side)) {
          op.from.push_back(*v);
          d->from_nodes.push_back(s);
        } else {
          d->structure_ok = false;
        }
      }
      d->join_on_node = jm.Get("on");
      if (!d->join_on_node.IsDefined()) {
        r_.Error(j, "join needs 'on', a condition such as \"A.id = B.id\"");
        d->structure_ok = false;
      } else {
        op.join_on.text = r_.String(d->join_on_node, "join.on").value_or("");
      }
      bool has_within = jm.Has("within"), has_window = jm.Has("window");
      if (has_within && has_window) {
        r_.Error(jm.KeyNode("window"),
                 "a join has either 'within' (interval join) or 'window' "
                 "(window join), not both");
        d->structure_ok = false;
      } else if (has_within) {
        op.join_within_ms = r_.Duration(jm.Get("within"), "join.within").value_or(0);
      } else if (has_window) {
        op.window = ReadWindow(jm.Get("window"), true);
        if (!op.window) d->structure_ok = false;
      } else {
        r_.Error(j, "join needs 'within' (an interval join, e.g. within: 10s) or a 'window'");
        d->structure_ok = false;
      }
      if (op.from.size() == 2 && op.from[0] == op.from[1]) {
        r_.Error(jm.Get("right"), "a join's left and right must be different streams");
        d->structure_ok = false;
      }
    } else {
      d->structure_ok = false;
    }
    jm.Finish();
  } else if (kind == "union") {
    op.kind = OperatorKind::kUnion;
    auto u = m.Get("union");
    if (!u.IsSequence() || u.size() < 2) {
      r_.Error(u, "union needs a list of at least two streams, e.g. union: [a, b]");
      d->structure_ok = false;
    } else {
      // An input that is not a name leaves the union unbound, not short of
      // an input (a union of none would have nothing to bind against).
      for (const auto& s : u)
        if (auto v = r_.String(s, "union input")) {
          op.from.push_back(*v);
          d->from_nodes.push_back(s);
        } else {
          d->structure_ok = false;
        }
    }
  } else if (kind == "udf") {
    op.kind = OperatorKind::kUdf;
    r_.Error(m.KeyNode("udf"), "udf operators are not supported by this version of weir yet");
    d->structure_ok = false;
  }
  m.Finish();
}

// Reads {name: expr, ...}; aggregates go to `aggs` when given.
void Validator::ReadNamedExprs(const YAML::Node& n, const std::string& what,
                               std::vector<NamedExpr>* out, std::vector<YAML::Node>* nodes,
                               std::vector<AggregateSpec>* aggs) {
  if (!n.IsMap() || n.size() == 0) {
    r_.Error(n, what +
                    " must be a map of output field names to expressions, e.g. {total: "
                    "\"sum(amount)\"}");
    return;
  }
  for (const auto& kv : n) {
    std::string name = kv.first.Scalar();
    if (!IsIdentifier(name)) {
      r_.Error(kv.first, "output field name '" + name +
                             "' must start with a letter or '_' and "
                             "use only letters, digits and '_'");
      continue;
    }
    std::string text = r_.String(kv.second, what + " expression").value_or("");
    if (aggs) {
      AggregateSpec a;
      a.name = name;
      a.text = text;
      a.pos = Reader::Pos(kv.second);
      aggs->push_back(std::move(a));
    } else {
      NamedExpr e;
      e.name = name;
      e.text = text;
      e.pos = Reader::Pos(kv.second);
      out->push_back(std::move(e));
    }
    nodes->push_back(kv.second);
  }
}

// `rename: {old: new}` and `cast: {field: type}` (by the new names).
void Validator::ReadReshape(const YAML::Node& rename, const YAML::Node& cast,
                            const std::string& what, Draft* d) {
  if (rename.IsDefined()) {
    if (!rename.IsMap() || rename.size() == 0) {
      r_.Error(rename, what + ": rename must map input field names to new names");
      d->structure_ok = false;
    } else {
      for (const auto& kv : rename) {
        auto to = r_.String(kv.second, "new name of '" + kv.first.Scalar() + "'");
        if (!to) continue;
        if (!IsIdentifier(*to)) {
          r_.Error(kv.second, "field name '" + *to +
                                  "' must start with a letter or '_' and use only letters, "
                                  "digits and '_'");
          continue;
        }
        d->renames.emplace_back(kv.first.Scalar(), *to);
        d->rename_nodes.push_back(kv.first);
      }
    }
  }
  if (cast.IsDefined()) {
    if (!cast.IsMap() || cast.size() == 0) {
      r_.Error(cast, what +
                         ": cast must map field names to types (string, bigint, double, "
                         "boolean, timestamp, bytes)");
      d->structure_ok = false;
      return;
    }
    static const std::vector<std::string> kTypes = {"boolean", "bigint", "double",
                                                    "string",  "bytes",  "timestamp"};
    for (const auto& kv : cast) {
      auto tname = r_.String(kv.second, "type of '" + kv.first.Scalar() + "'");
      if (!tname) continue;
      auto t = ParseTypeName(*tname);
      if (!t || *t == TypeId::kNull) {
        r_.Error(kv.second, "unknown type '" + *tname + "': expected " + QuotedList(kTypes) +
                                DidYouMean(*tname, kTypes));
        continue;
      }
      d->casts.emplace_back(kv.first.Scalar(), *t);
      d->cast_nodes.push_back(kv.first);
    }
  }
}

// Expands rename/cast into a map over every input field, in order.
void Validator::BindReshape(Draft* d, const Schema& input) {
  OperatorSpec& op = d->spec;
  std::vector<std::string> names;
  for (const auto& f : input.fields()) names.push_back(f.name);
  std::map<std::string, std::string> new_name;
  for (size_t i = 0; i < d->renames.size(); ++i) {
    const auto& [from, to] = d->renames[i];
    if (input.IndexOf(from) < 0)
      r_.Error(d->rename_nodes[i], "rename: '" + from + "' is not a field of '" + op.from[0] + "'" +
                                       DidYouMean(from, names));
    else
      new_name[from] = to;
  }
  std::map<std::string, TypeId> cast_to;
  std::vector<std::string> out_names;
  for (const auto& f : input.fields())
    out_names.push_back(new_name.count(f.name) ? new_name[f.name] : f.name);
  for (size_t i = 0; i < d->casts.size(); ++i) {
    const auto& [field, type] = d->casts[i];
    if (std::find(out_names.begin(), out_names.end(), field) == out_names.end())
      r_.Error(d->cast_nodes[i], "cast: '" + field + "' is not a field of the output (" +
                                     "cast names fields by their new names)" +
                                     DidYouMean(field, out_names));
    else
      cast_to[field] = type;
  }
  for (size_t i = 0; i < input.size(); ++i) {
    const std::string& in = input.field(i).name;
    NamedExpr e;
    e.name = out_names[i];
    e.text = "`" + in + "`";
    if (auto it = cast_to.find(e.name); it != cast_to.end())
      e.text = "cast(" + e.text + " as " + std::string(TypeName(it->second)) + ")";
    e.pos = Reader::Pos(d->node);
    op.map.push_back(std::move(e));
    d->map_nodes.push_back(d->node);
  }
}

void Validator::ReadKeyBy(const YAML::Node& n, Draft* d) {
  YAML::Node list = n;
  if (n.IsScalar()) {
    list.reset(YAML::Node(YAML::NodeType::Sequence));
    list.push_back(n);
  }
  if (!list.IsSequence() || list.size() == 0) {
    r_.Error(n,
             "key_by must be a list of fields or named expressions, e.g. [user] or "
             "[{day: \"cast(ts as bigint) / 86400000\"}]");
    d->structure_ok = false;
    return;
  }
  for (const auto& item : list) {
    NamedExpr e;
    YAML::Node vn = item;
    if (item.IsMap() && item.size() == 1) {
      auto kv = *item.begin();
      e.name = kv.first.Scalar();
      vn.reset(kv.second);
      if (!IsIdentifier(e.name))
        r_.Error(kv.first, "key name '" + e.name + "' must be an identifier");
    }
    e.text = r_.String(vn, "key_by entry").value_or("");
    e.pos = Reader::Pos(vn);
    d->spec.key_by.push_back(std::move(e));
    d->key_nodes.push_back(vn);
  }
}

std::optional<WindowSpec> Validator::ReadWindow(const YAML::Node& n, bool in_join) {
  std::vector<std::string> keys = {"tumbling", "sliding", "session", "count"};
  if (!in_join) keys.insert(keys.end(), {"allowed_lateness", "late"});
  MapReader m(&r_, n, "window", keys);
  if (!m.ok()) return std::nullopt;
  WindowSpec w;
  w.pos = Reader::Pos(n);
  int kinds = 0;
  for (const char* k : {"tumbling", "sliding", "session", "count"}) kinds += m.Has(k) ? 1 : 0;
  bool ok = true;
  if (kinds != 1) {
    r_.Error(n, kinds == 0 ? "window needs one of tumbling, sliding, session or count"
                           : "window has more than one of tumbling, sliding, session, count");
    ok = false;
  } else if (auto t = m.Get("tumbling"); t.IsDefined()) {
    w.kind = WindowKind::kTumbling;
    auto d = r_.Duration(t, "tumbling");
    ok = d && *d > 0;
    if (d && *d <= 0) r_.Error(t, "a tumbling window's size must be positive");
    w.size_ms = d.value_or(0);
  } else if (auto s = m.Get("sliding"); s.IsDefined()) {
    w.kind = WindowKind::kSliding;
    MapReader sm(&r_, s, "sliding window", {"size", "slide"});
    auto size = sm.Get("size"), slide = sm.Get("slide");
    if (sm.ok() && (!size.IsDefined() || !slide.IsDefined())) {
      r_.Error(s, "a sliding window needs 'size' and 'slide', e.g. {size: 1m, slide: 10s}");
      ok = false;
    } else if (sm.ok()) {
      auto a = r_.Duration(size, "sliding.size"), b = r_.Duration(slide, "sliding.slide");
      if (a && b) {
        if (*b <= 0 || *a <= 0) {
          r_.Error(slide, "a sliding window's size and slide must be positive");
          ok = false;
        } else if (*b > *a) {
          r_.Error(slide, "a sliding window's slide (" + FormatDuration(*b) +
                              ") must not exceed its size (" + FormatDuration(*a) + ")");
          ok = false;
        }
        w.size_ms = *a;
        w.slide_ms = *b;
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    sm.Finish();
  } else if (auto g = m.Get("session"); g.IsDefined()) {
    w.kind = WindowKind::kSession;
    MapReader gm(&r_, g, "session window", {"gap"});
    if (auto gap = gm.Get("gap"); gap.IsDefined()) {
      auto d = r_.Duration(gap, "session.gap");
      if (d && *d <= 0) r_.Error(gap, "a session gap must be positive");
      ok = d && *d > 0;
      w.gap_ms = d.value_or(0);
    } else {
      if (gm.ok()) r_.Error(g, "a session window needs 'gap', e.g. {gap: 30s}");
      ok = false;
    }
    gm.Finish();
  } else if (auto c = m.Get("count"); c.IsDefined()) {
    w.kind = WindowKind::kCount;
    auto v = r_.Int(c, "count", 1, int64_t{1} << 40);
    ok = v.has_value();
    w.count = v.value_or(0);
    if (in_join) {
      r_.Error(c, "a join window must be tumbling, sliding or session");
      ok = false;
    }
  }
  if (auto l = m.Get("allowed_lateness"); l.IsDefined()) {
    w.allowed_lateness_ms = r_.Duration(l, "allowed_lateness").value_or(0);
    if (w.kind == WindowKind::kCount)
      r_.Error(l, "count windows fire on the count, not on time: remove allowed_lateness");
  }
  if (auto l = m.Get("late"); l.IsDefined()) {
    w.late = r_.String(l, "late").value_or("");
    if (w.kind == WindowKind::kCount)
      r_.Error(l, "count windows have no late records: remove 'late'");
  }
  m.Finish();
  if (!ok) return std::nullopt;
  return w;
}

// Returns the schema of a stream when known; sets *poisoned when the stream
// exists but could not be bound (its errors are already reported).
const Schema* Validator::Resolve(const std::string& name, bool* poisoned) {
  auto it = streams_.find(name);
  if (it == streams_.end()) return nullptr;
  const Stream& s = it->second;
  if (s.kind == Stream::kSource) {
    if (poisoned_sources_.count(name)) *poisoned = true;
    return &job_.sources[s.index].schema;
  }
  Draft& d = drafts_[s.index];
  if (d.state == Draft::kPoisoned) *poisoned = true;
  if (d.state != Draft::kBound) return nullptr;
  if (s.kind == Stream::kOperator) return &d.spec.schema;
  return &late_schemas_.at(name);
}

void Validator::BindOperators() {
  // Unknown streams first, so that the loop below only waits on real ones.
  for (auto& d : drafts_) {
    for (size_t i = 0; i < d.spec.from.size(); ++i) {
      const std::string& f = d.spec.from[i];
      auto it = streams_.find(f);
      if (it == streams_.end()) {
        r_.Error(d.from_nodes[i], "unknown stream '" + f + "' in operator '" + d.spec.name + "'" +
                                      DidYouMean(f, StreamNames()));
        d.state = Draft::kPoisoned;
      } else if (it->second.kind != Stream::kSource &&
                 it->second.index == size_t(&d - drafts_.data())) {
        r_.Error(d.from_nodes[i], "operator '" + d.spec.name + "' reads its own output");
        d.state = Draft::kPoisoned;
      }
    }
    if (!d.structure_ok) d.state = Draft::kPoisoned;
    WEIR_ASSERT(d.state == Draft::kPoisoned || !d.spec.from.empty(),
                "operator '" + d.spec.name + "' has well-formed structure but no input");
  }
  std::vector<size_t> order;
  bool progress = true;
  while (progress) {
    progress = false;
    for (size_t i = 0; i < drafts_.size(); ++i) {
      Draft& d = drafts_[i];
      if (d.state != Draft::kPending) continue;
      std::vector<const Schema*> inputs;
      bool ready = true, poisoned = false;
      for (const auto& f : d.spec.from) {
        const Schema* s = Resolve(f, &poisoned);
        if (!s) ready = false;
        inputs.push_back(s);
      }
      if (poisoned) {
        d.state = Draft::kPoisoned;
        progress = true;
        continue;
      }
      if (!ready) continue;
      size_t before = r_.diagnostics().size();
      BindOperator(&d, inputs);
      d.state = r_.diagnostics().size() == before ? Draft::kBound : Draft::kPoisoned;
      if (d.state == Draft::kBound) order.push_back(i);
      progress = true;
    }
  }
  ReportCycles();
  for (size_t i : order) job_.operators.push_back(std::move(drafts_[i].spec));
}

void Validator::ReportCycles() {
  std::set<size_t> reported;
  for (size_t start = 0; start < drafts_.size(); ++start) {
    if (drafts_[start].state != Draft::kPending || reported.count(start)) continue;
    // Walk upstream through pending operators until one repeats.
    std::vector<size_t> path = {start};
    size_t cur = start;
    while (true) {
      size_t next = SIZE_MAX;
      for (const auto& f : drafts_[cur].spec.from) {
        auto it = streams_.find(f);
        if (it != streams_.end() && it->second.kind != Stream::kSource &&
            drafts_[it->second.index].state == Draft::kPending) {
          next = it->second.index;
          break;
        }
      }
      if (next == SIZE_MAX) break;
      auto pos = std::find(path.begin(), path.end(), next);
      if (pos != path.end()) {
        std::vector<size_t> cycle(pos, path.end());
        std::string text;
        for (auto it = cycle.rbegin(); it != cycle.rend(); ++it)
          text += drafts_[*it].spec.name + " -> ";
        text += drafts_[cycle.back()].spec.name;
        size_t first = *std::min_element(cycle.begin(), cycle.end());
        bool already = false;
        for (size_t c : cycle) already |= reported.count(c) > 0;
        if (!already)
          r_.Error(drafts_[first].node["name"].IsDefined() ? drafts_[first].node["name"]
                                                           : drafts_[first].node,
                   "operators form a cycle: " + text);
        for (size_t c : cycle) reported.insert(c);
        break;
      }
      path.push_back(next);
      cur = next;
    }
  }
}

expr::BindOptions Validator::BindOpts() const {
  expr::BindOptions o;
  o.allow_now = std::none_of(job_.sources.begin(), job_.sources.end(),
                             [](const SourceSpec& s) { return s.event_time.has_value(); });
  o.keys = job_.keys;
  return o;
}

// Parses and binds one expression; reports errors at their file position.
std::unique_ptr<expr::Expr> Validator::BindExpr(const std::string& text, const YAML::Node& at,
                                                const std::vector<expr::Input>& inputs) {
  expr::ExprError err;
  auto e = expr::Parse(text, &err);
  if (!e) {
    r_.Error(r_.PosInScalar(at, err.offset), err.message);
    return nullptr;
  }
  std::vector<expr::ExprError> errors;
  if (!expr::Bind(e.get(), inputs, BindOpts(), &errors)) {
    for (const auto& x : errors) r_.Error(r_.PosInScalar(at, x.offset), x.message);
    return nullptr;
  }
  return e;
}

void Validator::AddField(Schema* s, const std::string& name, TypeId t, const YAML::Node& at,
                         const std::string& op) {
  if (s->IndexOf(name) >= 0) {
    r_.Error(at, "operator '" + op + "' outputs the field '" + name + "' twice");
    return;
  }
  if (t == TypeId::kNull) {
    r_.Error(at, "the type of '" + name +
                     "' is unknown (it is always null); write "
                     "cast(null as TYPE)");
    return;
  }
  s->Add({name, t});
}

void Validator::BindKeys(Draft* d, const std::vector<expr::Input>& in, Schema* out) {
  OperatorSpec& op = d->spec;
  for (size_t i = 0; i < op.key_by.size(); ++i) {
    NamedExpr& k = op.key_by[i];
    k.expr = BindExpr(k.text, d->key_nodes[i], in);
    if (!k.expr) continue;
    if (k.name.empty()) {
      if (k.expr->kind == expr::NodeKind::kColumn) {
        k.name = k.expr->name;
      } else {
        r_.Error(d->key_nodes[i], "key_by expression '" + k.text +
                                      "' needs a name: write {key: \"" + k.text + "\"}");
        continue;
      }
    }
    AddField(out, k.name, k.expr->type, d->key_nodes[i], op.name);
  }
}

void Validator::BindAggregates(Draft* d, const std::vector<expr::Input>& in, Schema* out) {
  OperatorSpec& op = d->spec;
  for (size_t i = 0; i < op.aggregates.size(); ++i) {
    AggregateSpec& a = op.aggregates[i];
    std::vector<expr::ExprError> errors;
    if (!expr::ParseAggregate(a.text, in, BindOpts(), &a.aggregate, &errors)) {
      for (const auto& x : errors) r_.Error(r_.PosInScalar(d->agg_nodes[i], x.offset), x.message);
      continue;
    }
    AddField(out, a.name, a.aggregate.result_type, d->agg_nodes[i], op.name);
  }
}

void Validator::BindOperator(Draft* d, const std::vector<const Schema*>& inputs) {
  OperatorSpec& op = d->spec;
  std::vector<expr::Input> in = {{op.from[0], inputs[0]}};
  switch (op.kind) {
    case OperatorKind::kFilter: {
      op.filter.expr = BindExpr(op.filter.text, d->filter_node, in);
      if (op.filter.expr && op.filter.expr->type != TypeId::kBoolean)
        r_.Error(d->filter_node, "filter must be a boolean condition, but '" + op.filter.text +
                                     "' is " + std::string(TypeName(op.filter.expr->type)));
      op.schema = *inputs[0];
      break;
    }
    case OperatorKind::kMap:
      if (d->reshape) BindReshape(d, *inputs[0]);
      for (size_t i = 0; i < op.map.size(); ++i) {
        op.map[i].expr = BindExpr(op.map[i].text, d->map_nodes[i], in);
        if (op.map[i].expr)
          AddField(&op.schema, op.map[i].name, op.map[i].expr->type, d->map_nodes[i], op.name);
      }
      break;
    case OperatorKind::kWindowAggregate:
      BindKeys(d, in, &op.schema);
      for (const char* f : {"window_start", "window_end"})
        AddField(&op.schema, f, TypeId::kTimestamp, d->node["key_by"], op.name);
      BindAggregates(d, in, &op.schema);
      if (!op.window->late.empty()) late_schemas_[op.window->late] = *inputs[0];
      break;
    case OperatorKind::kReduce:
      BindKeys(d, in, &op.schema);
      BindAggregates(d, in, &op.schema);
      break;
    case OperatorKind::kDedupe: {
      Schema keys;
      BindKeys(d, in, &keys);
      op.schema = *inputs[0];
      break;
    }
    case OperatorKind::kUnion:
      op.schema = *inputs[0];
      for (size_t i = 1; i < inputs.size(); ++i)
        if (!(*inputs[i] == *inputs[0]))
          r_.Error(d->from_nodes[i], "union input '" + op.from[i] + "' has fields " +
                                         inputs[i]->ToString() + " but '" + op.from[0] + "' has " +
                                         inputs[0]->ToString() + "; add a map so they match");
      break;
    case OperatorKind::kJoin:
      BindJoin(d, inputs);
      break;
    case OperatorKind::kUdf:
      break;
  }
}

void Validator::BindJoin(Draft* d, const std::vector<const Schema*>& inputs) {
  OperatorSpec& op = d->spec;
  std::vector<expr::Input> both = {{op.from[0], inputs[0]}, {op.from[1], inputs[1]}};
  op.join_on.expr = BindExpr(op.join_on.text, d->join_on_node, both);
  if (!op.join_on.expr) return;
  if (op.join_on.expr->type != TypeId::kBoolean) {
    r_.Error(d->join_on_node, "join condition must be boolean");
    return;
  }
  // Split `a and b and ...` into equalities between one side and the other.
  std::vector<const expr::Expr*> conjuncts;
  std::function<void(const expr::Expr&)> split = [&](const expr::Expr& e) {
    if (e.kind == expr::NodeKind::kBinary && e.op == expr::Op::kAnd) {
      split(*e.children[0]);
      split(*e.children[1]);
    } else {
      conjuncts.push_back(&e);
    }
  };
  split(*op.join_on.expr);
  for (const expr::Expr* c : conjuncts) {
    unsigned l = 0, r = 0;
    if (c->kind == expr::NodeKind::kBinary && c->op == expr::Op::kEq) {
      l = InputsUsed(*c->children[0]);
      r = InputsUsed(*c->children[1]);
    }
    const expr::Expr *lhs = nullptr, *rhs = nullptr;
    if (l == 1u && r == 2u) lhs = c->children[0].get(), rhs = c->children[1].get();
    if (l == 2u && r == 1u) lhs = c->children[1].get(), rhs = c->children[0].get();
    if (!lhs) {
      r_.Error(r_.PosInScalar(d->join_on_node, c->offset),
               "join condition must be equalities between a field of '" + op.from[0] +
                   "' and a field of '" + op.from[1] + "', joined with 'and'");
      return;
    }
    NamedExpr lk, rk;
    lk.expr = Clone(*lhs);
    rk.expr = Clone(*rhs);
    // Re-point the right side's columns at input 0: each side is evaluated alone.
    std::function<void(expr::Expr&)> to_zero = [&](expr::Expr& e) {
      if (e.kind == expr::NodeKind::kColumn) e.input = 0;
      for (auto& ch : e.children) to_zero(*ch);
    };
    to_zero(*rk.expr);
    lk.text = expr::ToString(*lk.expr);
    rk.text = expr::ToString(*rk.expr);
    op.join_left_keys.push_back(std::move(lk));
    op.join_right_keys.push_back(std::move(rk));
  }
  for (const auto& f : inputs[0]->fields()) op.schema.Add(f);
  for (const auto& f : inputs[1]->fields()) {
    std::string name = f.name;
    if (op.schema.IndexOf(name) >= 0) name = op.from[1] + "_" + f.name;
    for (char& c : name)
      if (c == '-' || c == '.') c = '_';
    if (op.schema.IndexOf(name) >= 0) {
      r_.Error(d->node["join"], "join output would have the field '" + name +
                                    "' twice; rename it with a map before the join");
      return;
    }
    op.schema.Add({name, f.type});
  }
  if (op.window) {
    for (const char* f : {"window_start", "window_end"}) {
      if (op.schema.IndexOf(f) >= 0) {
        r_.Error(d->node["join"], std::string("join output already has a field '") + f + "'");
        return;
      }
      op.schema.Add({f, TypeId::kTimestamp});
    }
  }
}

}  // namespace weir::spec::internal
