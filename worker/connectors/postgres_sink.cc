#include "worker/connectors/postgres_sink.h"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "common/time.h"

namespace weir::connectors {
namespace {

// A batch whose INSERT grows past this is sent as several statements.
constexpr size_t kStatementLimit = size_t{4} << 20;
// PostgreSQL keeps transaction ids of at most GIDSIZE - 1 = 199 bytes.
constexpr size_t kMaxGidLength = 199;

struct ConninfoDeleter {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};
using Conninfo = std::unique_ptr<PQconninfoOption, ConninfoDeleter>;

// Null when the dsn is malformed. libpq's reason is dropped on purpose: it
// quotes pieces of the string, which may be the password.
Conninfo ParseDsn(const std::string& dsn) {
  char* error = nullptr;
  Conninfo options(PQconninfoParse(dsn.c_str(), &error));
  if (error) PQfreemem(error);
  return options;
}

std::string OptionValue(const PQconninfoOption* options, std::string_view key) {
  for (const PQconninfoOption* o = options; o && o->keyword; ++o)
    if (key == o->keyword && o->val) return o->val;
  return "";
}

// Keeps [a-z0-9] and '-' (job) or '_' (sink); any other byte becomes '.' and
// two hex digits.
void AppendGidPart(std::string_view name, bool job, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    const bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == (job ? '-' : '_');
    if (keep) {
      out->push_back(ch);
    } else {
      out->push_back('.');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    }
  }
}

// "weir-<job>-<sink>-": what every transaction id of the sink starts with.
std::string SinkGidPrefix(std::string_view job, std::string_view sink) {
  std::string out = "weir-";
  AppendGidPart(job, true, &out);
  out += '-';
  AppendGidPart(sink, false, &out);
  out += '-';
  return out;
}

bool ParseDigits(std::string_view s, int64_t* value) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *value);
  return ec == std::errc() && end == s.data() + s.size();
}

// "<subtask>-<checkpoint>", the rest of a transaction id after the prefix.
bool ParseGidTail(std::string_view tail, int* subtask, int64_t* checkpoint) {
  const size_t dash = tail.find('-');
  if (dash == std::string_view::npos) return false;
  int64_t s = 0;
  if (!ParseDigits(tail.substr(0, dash), &s) || s > INT_MAX) return false;
  if (!ParseDigits(tail.substr(dash + 1), checkpoint)) return false;
  *subtask = static_cast<int>(s);
  return true;
}

// The column type Open() creates for a field.
const char* CreateType(TypeId t) {
  switch (t) {
    case TypeId::kBoolean:
      return "boolean";
    case TypeId::kBigint:
      return "bigint";
    case TypeId::kDouble:
      return "double precision";
    case TypeId::kTimestamp:
      return "timestamp with time zone";
    case TypeId::kBytes:
      return "bytea";
    case TypeId::kString:
    case TypeId::kNull:
      break;
  }
  return "text";
}

// Whether a column whose type is `typname` (pg_type's name, of the base type
// for a domain) takes the values of a field of type t.
bool Accepts(TypeId t, std::string_view typname) {
  switch (t) {
    case TypeId::kBoolean:
      return typname == "bool";
    case TypeId::kBigint:
      return typname == "int8" || typname == "numeric";
    case TypeId::kDouble:
      return typname == "float8" || typname == "numeric";
    case TypeId::kString:
      return typname == "text" || typname == "varchar" || typname == "bpchar" ||
             typname == "json" || typname == "jsonb";
    case TypeId::kTimestamp:
      return typname == "timestamptz" || typname == "timestamp";
    case TypeId::kBytes:
      return typname == "bytea";
    case TypeId::kNull:
      return true;
  }
  return false;
}

const char* AcceptedTypes(TypeId t) {
  switch (t) {
    case TypeId::kBoolean:
      return "boolean";
    case TypeId::kBigint:
      return "bigint (or numeric)";
    case TypeId::kDouble:
      return "double precision (or numeric)";
    case TypeId::kString:
      return "text (or varchar, char, json, jsonb)";
    case TypeId::kTimestamp:
      return "timestamp with time zone (or timestamp)";
    case TypeId::kBytes:
      return "bytea";
    case TypeId::kNull:
      break;
  }
  return "any type";
}

// libpq's multi-line messages on one line.
std::string OneLine(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// What the caller should do about an SQLSTATE (common/status.h).
StatusCode CodeOf(const char* sqlstate) {
  if (!sqlstate || std::char_traits<char>::length(sqlstate) < 2) return StatusCode::kInternal;
  const std::string_view cls(sqlstate, 2);
  if (cls == "08" || cls == "53" || cls == "57" || cls == "58") return StatusCode::kUnavailable;
  if (cls == "40") return StatusCode::kAborted;
  if (cls == "22" || cls == "23") return StatusCode::kInvalidArgument;
  if (cls == "42" || cls == "3F" || cls == "55" || cls == "25") {
    return StatusCode::kFailedPrecondition;
  }
  return StatusCode::kInternal;
}

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += separator;
    out += parts[i];
  }
  return out;
}

}  // namespace

struct PostgresSink::Conn {
  PGconn* pg = nullptr;
  ~Conn() {
    if (pg) PQfinish(pg);
  }
};

void PostgresSink::ResultDeleter::operator()(pg_result* r) const {
  PQclear(r);
}

PostgresSink::PostgresSink(spec::SinkSpec spec, Schema schema)
    : spec_(std::move(spec)),
      schema_(std::move(schema)),
      what_("postgres sink '" + spec_.name + "'") {}

PostgresSink::~PostgresSink() = default;

std::string PostgresSink::TransactionId(std::string_view job, std::string_view sink, int subtask,
                                        int64_t checkpoint_id) {
  return SinkGidPrefix(job, sink) + std::to_string(subtask) + "-" + std::to_string(checkpoint_id);
}

std::string PostgresSink::DescribeDsn(const std::string& dsn) {
  Conninfo options = ParseDsn(dsn);
  if (!options) return "";
  std::string out;
  for (const char* key : {"host", "hostaddr", "port", "dbname"}) {
    std::string value = OptionValue(options.get(), key);
    if (value.empty()) continue;
    if (!out.empty()) out += ' ';
    out += key;
    out += '=';
    out += value;
  }
  return out.empty() ? "the default server" : out;
}

std::string PostgresSink::Mask(std::string text) const {
  // A very short password would mask innocent letters; libpq does not echo
  // passwords anyway, this is a second line of defence.
  if (password_.size() < 3) return text;
  for (size_t at = text.find(password_); at != std::string::npos;
       at = text.find(password_, at + 3)) {
    text.replace(at, password_.size(), "***");
  }
  return text;
}

Status PostgresSink::ErrorOf(Conn* conn, const PGresult* res, std::string_view doing) const {
  const bool lost = PQstatus(conn->pg) != CONNECTION_OK;
  std::string message;
  const char* primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  if (primary) {
    message = primary;
    if (const char* detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL)) {
      message += " (";
      message += detail;
      message += ')';
    }
    if (const char* hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT)) {
      message += "; hint: ";
      message += hint;
    }
  } else {
    message = PQerrorMessage(conn->pg);
  }
  message = OneLine(message);
  if (lost || !res) {
    return Status::Unavailable(
        Mask(what_ + ": " + std::string(doing) + " on " + server_ + ": " + message));
  }
  const StatusCode code = CodeOf(PQresultErrorField(res, PG_DIAG_SQLSTATE));
  std::string text = what_ + ": " + std::string(doing);
  if (code == StatusCode::kUnavailable) text += " on " + server_;
  return Status(code, Mask(text + ": " + message));
}

Result<PostgresSink::PgResultPtr> PostgresSink::Query(
    Conn* conn, const std::string& sql, std::string_view doing,
    const std::vector<std::string>& params) const {
  PGresult* raw = nullptr;
  if (params.empty()) {
    raw = PQexec(conn->pg, sql.c_str());
  } else {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p.c_str());
    raw = PQexecParams(conn->pg, sql.c_str(), static_cast<int>(values.size()), nullptr,
                       values.data(), nullptr, nullptr, 0);
  }
  PgResultPtr res(raw);
  const ExecStatusType st = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return res;
  return ErrorOf(conn, raw, doing);
}

Status PostgresSink::Execute(Conn* conn, const std::string& sql, std::string_view doing) {
  auto res = Query(conn, sql, doing);
  return res.ok() ? Status::OK() : res.status();
}

Status PostgresSink::Connect(std::unique_ptr<Conn>* out) {
  // Ours first: what the dsn says (expanded from "dbname") overrides them; a
  // password from the job's secret comes last and overrides the dsn's.
  const bool secret = spec_.secrets.count("password") != 0;
  const char* const keys[] = {"connect_timeout", "application_name", "dbname",
                              secret ? "password" : nullptr, nullptr};
  const char* const values[] = {"10", "weir", spec_.dsn.c_str(), password_.c_str(), nullptr};
  auto conn = std::make_unique<Conn>();
  conn->pg = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  const std::string where = what_ + ": cannot connect to " + server_;
  if (!conn->pg) return Status::Unavailable(where + ": out of memory");
  if (PQstatus(conn->pg) != CONNECTION_OK) {
    return Status::Unavailable(Mask(where + ": " + OneLine(PQerrorMessage(conn->pg))));
  }
  // Notices ("relation already exists, skipping") would go to stderr.
  PQsetNoticeProcessor(
      conn->pg, [](void*, const char*) {}, nullptr);
  if (PQsetClientEncoding(conn->pg, "UTF8") != 0) {
    return Status::Unavailable(Mask(
        where + ": cannot use UTF8 as the client encoding: " + OneLine(PQerrorMessage(conn->pg))));
  }
  // Timestamps written into `timestamp without time zone` columns are UTC.
  WEIR_RETURN_IF_ERROR(Execute(conn.get(), "SET TIME ZONE 'UTC'", "setting the time zone"));
  *out = std::move(conn);
  return Status::OK();
}

Result<std::string> PostgresSink::QuoteIdentifier(const std::string& name) const {
  char* quoted = PQescapeIdentifier(conn_->pg, name.data(), name.size());
  if (!quoted) {
    return Status::InvalidArgument(what_ + ": cannot quote the name '" + name +
                                   "': " + OneLine(PQerrorMessage(conn_->pg)));
  }
  std::string out(quoted);
  PQfreemem(quoted);
  return out;
}

Status PostgresSink::Open(const SinkContext& ctx) {
  if (conn_) return Status::FailedPrecondition(what_ + " opened twice");
  Status st = OpenConnected(ctx);
  if (!st.ok()) {
    control_.reset();
    conn_.reset();
  }
  return st;
}

Status PostgresSink::OpenConnected(const SinkContext& ctx) {
  exactly_once_ = spec_.delivery == spec::Delivery::kExactlyOnce;
  job_ = ctx.job;
  subtask_ = ctx.subtask;
  {
    Conninfo options = ParseDsn(spec_.dsn);
    if (!options) {
      return Status::InvalidArgument(what_ +
                                     ": the dsn is not a valid PostgreSQL connection string "
                                     "(key=value pairs or a postgresql:// URI)");
    }
    password_ = OptionValue(options.get(), "password");
  }
  if (auto it = spec_.secrets.find("password"); it != spec_.secrets.end()) {
    auto value = spec::ResolveSecret(it->second);
    if (!value.ok()) {
      return Status::Unavailable(what_ + ": password (" + it->second.ToString() +
                                 "): " + value.status().message() + " on this worker");
    }
    password_ = std::move(value).value();
  }
  server_ = DescribeDsn(spec_.dsn);
  if (spec_.table.empty()) return Status::InvalidArgument(what_ + " needs a table");
  if (schema_.size() == 0) return Status::InvalidArgument(what_ + ": the stream has no fields");
  if (spec_.upsert && spec_.key.empty()) {
    return Status::InvalidArgument(what_ + ": mode upsert needs 'key', the fields of the " +
                                   "table's primary key");
  }
  key_columns_.clear();
  for (const std::string& k : spec_.key) {
    const int idx = schema_.IndexOf(k);
    if (idx < 0) {
      return Status::InvalidArgument(what_ + ": key field '" + k + "' is not in the schema " +
                                     schema_.ToString());
    }
    bool seen = false;
    for (int c : key_columns_) seen |= c == idx;
    if (!seen) key_columns_.push_back(idx);
  }
  if (exactly_once_ && TransactionId(job_, spec_.name, INT_MAX, INT64_MAX).size() > kMaxGidLength) {
    return Status::InvalidArgument(what_ + ": the job and sink names are too long for " +
                                   "PostgreSQL's transaction ids (" +
                                   std::to_string(kMaxGidLength) + " bytes with the prefix)");
  }

  WEIR_RETURN_IF_ERROR(Connect(&conn_));

  // Names: "table" or "schema.table", each quoted.
  const size_t dot = spec_.table.find('.');
  if (dot == std::string::npos) {
    WEIR_ASSIGN_OR_RETURN(table_, QuoteIdentifier(spec_.table));
  } else {
    WEIR_ASSIGN_OR_RETURN(std::string schema, QuoteIdentifier(spec_.table.substr(0, dot)));
    WEIR_ASSIGN_OR_RETURN(std::string name, QuoteIdentifier(spec_.table.substr(dot + 1)));
    table_ = schema + "." + name;
  }
  columns_.clear();
  for (const Field& f : schema_.fields()) {
    WEIR_ASSIGN_OR_RETURN(std::string quoted, QuoteIdentifier(f.name));
    columns_.push_back({f.name, std::move(quoted), f.type});
  }

  WEIR_RETURN_IF_ERROR(CheckOrCreateTable());
  if (spec_.upsert) WEIR_RETURN_IF_ERROR(CheckUniqueKey());
  if (exactly_once_) {
    WEIR_ASSIGN_OR_RETURN(
        PgResultPtr res,
        Query(conn_.get(), "SELECT current_setting('max_prepared_transactions')::int",
              "reading max_prepared_transactions"));
    if (PQntuples(res.get()) != 1 || std::string_view(PQgetvalue(res.get(), 0, 0)) == "0") {
      return Status::FailedPrecondition(
          what_ + ": delivery exactly_once prepares transactions, but the server at " + server_ +
          " has max_prepared_transactions = 0; set it above 0 (and restart the server) or use "
          "delivery: at_least_once");
    }
    WEIR_RETURN_IF_ERROR(Recover(ctx));
  }

  std::vector<std::string> names, keys, updates;
  for (const auto& c : columns_) names.push_back(c.quoted);
  insert_head_ = "INSERT INTO " + table_ + " (" + Join(names, ", ") + ") VALUES ";
  insert_tail_.clear();
  if (spec_.upsert) {
    for (size_t i = 0; i < columns_.size(); ++i) {
      bool is_key = false;
      for (int k : key_columns_) is_key |= static_cast<size_t>(k) == i;
      if (is_key)
        keys.push_back(columns_[i].quoted);
      else
        updates.push_back(columns_[i].quoted + " = EXCLUDED." + columns_[i].quoted);
    }
    insert_tail_ = " ON CONFLICT (" + Join(keys, ", ") + ")";
    insert_tail_ += updates.empty() ? " DO NOTHING" : " DO UPDATE SET " + Join(updates, ", ");
  }
  in_txn_ = false;
  broken_ = Status::OK();
  prepared_.clear();
  return Status::OK();
}

Status PostgresSink::CheckOrCreateTable() {
  const std::string shown = "table \"" + spec_.table + "\"";
  auto find = [&]() -> Result<std::string> {
    WEIR_ASSIGN_OR_RETURN(PgResultPtr res, Query(conn_.get(), "SELECT to_regclass($1)::oid",
                                                 "looking up " + shown, {table_}));
    if (PQntuples(res.get()) != 1 || PQgetisnull(res.get(), 0, 0)) return std::string();
    return std::string(PQgetvalue(res.get(), 0, 0));
  };
  WEIR_ASSIGN_OR_RETURN(std::string oid, find());
  if (oid.empty()) {
    // Several subtasks may get here at once: CREATE TABLE IF NOT EXISTS is not
    // safe against a concurrent create, so they take turns.
    std::vector<std::string> defs;
    for (const auto& c : columns_) defs.push_back(c.quoted + " " + CreateType(c.type));
    if (spec_.upsert) {
      std::vector<std::string> keys;
      for (int k : key_columns_) keys.push_back(columns_[static_cast<size_t>(k)].quoted);
      defs.push_back("PRIMARY KEY (" + Join(keys, ", ") + ")");
    }
    const std::string doing = "creating " + shown;
    Status st = Execute(conn_.get(), "BEGIN", doing);
    if (st.ok()) {
      auto lock = Query(conn_.get(), "SELECT pg_advisory_xact_lock(hashtext($1))", doing, {table_});
      st = lock.ok() ? Status::OK() : lock.status();
    }
    if (st.ok()) {
      st = Execute(conn_.get(),
                   "CREATE TABLE IF NOT EXISTS " + table_ + " (" + Join(defs, ", ") + ")", doing);
    }
    if (st.ok()) st = Execute(conn_.get(), "COMMIT", doing);
    if (!st.ok()) {
      PgResultPtr(PQexec(conn_->pg, "ROLLBACK"));
      return st;
    }
    WEIR_ASSIGN_OR_RETURN(oid, find());
    if (oid.empty()) return Status::Internal(what_ + ": " + shown + " is missing after CREATE");
  }

  WEIR_ASSIGN_OR_RETURN(
      PgResultPtr res,
      Query(conn_.get(),
            "SELECT a.attname, coalesce(b.typname, t.typname), format_type(a.atttypid, "
            "a.atttypmod), a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND "
            "a.attgenerated = '', a.attidentity = 'a' OR a.attgenerated <> '' "
            "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "LEFT JOIN pg_type b ON b.oid = t.typbasetype "
            "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum",
            "reading the columns of " + shown, {oid}));
  struct Existing {
    std::string typname, shown_type;
    bool required = false;   // NOT NULL, no default: every insert must set it
    bool generated = false;  // cannot be inserted into
    bool used = false;
  };
  std::map<std::string, Existing> existing;
  for (int r = 0; r < PQntuples(res.get()); ++r) {
    Existing e;
    e.typname = PQgetvalue(res.get(), r, 1);
    e.shown_type = PQgetvalue(res.get(), r, 2);
    e.required = std::string_view(PQgetvalue(res.get(), r, 3)) == "t";
    e.generated = std::string_view(PQgetvalue(res.get(), r, 4)) == "t";
    existing.emplace(PQgetvalue(res.get(), r, 0), std::move(e));
  }
  for (const auto& c : columns_) {
    const std::string field =
        "field '" + c.name + "' (" + std::string(TypeName(c.type)) + ") of the stream";
    auto it = existing.find(c.name);
    if (it == existing.end()) {
      return Status::FailedPrecondition(what_ + ": " + shown + " has no column \"" + c.name +
                                        "\" for " + field + "; add it as " + CreateType(c.type));
    }
    it->second.used = true;
    if (!Accepts(c.type, it->second.typname)) {
      return Status::FailedPrecondition(what_ + ": column \"" + c.name + "\" of " + shown + " is " +
                                        it->second.shown_type + ", which cannot hold " + field +
                                        "; it needs " + AcceptedTypes(c.type));
    }
    if (it->second.generated) {
      return Status::FailedPrecondition(what_ + ": column \"" + c.name + "\" of " + shown +
                                        " is generated, so " + field + " cannot be written to it");
    }
  }
  for (const auto& [name, e] : existing) {
    if (!e.used && e.required) {
      return Status::FailedPrecondition(what_ + ": column \"" + name + "\" of " + shown +
                                        " is NOT NULL without a default, and the stream has no "
                                        "field '" +
                                        name + "' to fill it (the stream has " +
                                        schema_.ToString() + ")");
    }
  }
  table_oid_ = oid;
  return Status::OK();
}

Status PostgresSink::CheckUniqueKey() {
  WEIR_ASSIGN_OR_RETURN(
      PgResultPtr res,
      Query(conn_.get(),
            "SELECT i.indexrelid::text, a.attname FROM pg_index i "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1]) "
            "WHERE i.indrelid = $1::oid AND i.indisunique AND i.indimmediate "
            "AND i.indpred IS NULL AND i.indexprs IS NULL",
            "reading the unique indexes of table \"" + spec_.table + "\"", {table_oid_}));
  std::map<std::string, std::set<std::string>> indexes;
  for (int r = 0; r < PQntuples(res.get()); ++r)
    indexes[PQgetvalue(res.get(), r, 0)].insert(PQgetvalue(res.get(), r, 1));
  std::set<std::string> wanted;
  std::vector<std::string> keys;
  for (int k : key_columns_) {
    wanted.insert(columns_[static_cast<size_t>(k)].name);
    keys.push_back(columns_[static_cast<size_t>(k)].quoted);
  }
  for (const auto& [index, columns] : indexes)
    if (columns == wanted) return Status::OK();
  return Status::FailedPrecondition(
      what_ + ": mode upsert needs a primary key or unique index on exactly (" + Join(keys, ", ") +
      ") of table \"" + spec_.table + "\", which has none; add one, e.g. " + "ALTER TABLE " +
      table_ + " ADD PRIMARY KEY (" + Join(keys, ", ") + ")");
}

Status PostgresSink::Recover(const SinkContext& ctx) {
  const std::string prefix = SinkGidPrefix(job_, spec_.name);
  WEIR_ASSIGN_OR_RETURN(
      PgResultPtr res,
      Query(conn_.get(),
            "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() "
            "AND left(gid, length($1)) = $1 ORDER BY gid",
            "listing the prepared transactions of earlier runs", {prefix}));
  for (int r = 0; r < PQntuples(res.get()); ++r) {
    const std::string gid = PQgetvalue(res.get(), r, 0);
    int subtask = 0;
    int64_t checkpoint = 0;
    if (!ParseGidTail(std::string_view(gid).substr(prefix.size()), &subtask, &checkpoint))
      continue;  // another sink whose encoded name starts like ours
    // Subtask 0 also resolves what subtasks that no longer exist left.
    const bool mine = subtask == ctx.subtask || (ctx.subtask == 0 && subtask >= ctx.parallelism);
    if (!mine) continue;
    const bool commit = ctx.restore && checkpoint <= ctx.restore->checkpoint_id;
    WEIR_RETURN_IF_ERROR(FinishPrepared(conn_.get(), gid, commit));
  }
  return Status::OK();
}

Status PostgresSink::FinishPrepared(Conn* conn, const std::string& gid, bool commit) {
  // Transaction ids are made of [a-z0-9_.-] only: no quoting needed.
  const std::string sql = std::string(commit ? "COMMIT" : "ROLLBACK") + " PREPARED '" + gid + "'";
  const std::string doing =
      std::string(commit ? "committing" : "rolling back") + " prepared transaction " + gid;
  auto res = Query(conn, sql, doing);
  if (res.ok()) return Status::OK();
  // Gone already: an earlier attempt (or another recovery) finished it.
  auto still = Query(conn, "SELECT 1 FROM pg_prepared_xacts WHERE gid = $1",
                     "looking up prepared transaction " + gid, {gid});
  if (still.ok() && PQntuples(still->get()) == 0) return Status::OK();
  return res.status();
}

Status PostgresSink::AppendValue(const Column& column, size_t field, size_t row, std::string* out) {
  if (column.IsNull(row)) {
    *out += "NULL";
    return Status::OK();
  }
  char buf[64];
  switch (column.type()) {
    case TypeId::kNull:
      *out += "NULL";
      return Status::OK();
    case TypeId::kBoolean:
      *out += column.GetBool(row) ? "TRUE" : "FALSE";
      return Status::OK();
    case TypeId::kBigint: {
      auto r = std::to_chars(buf, buf + sizeof buf, column.GetInt(row));
      out->append(buf, r.ptr);
      return Status::OK();
    }
    case TypeId::kDouble: {
      double v = column.GetDouble(row);
      if (std::isnan(v)) {
        *out += "'NaN'";
      } else if (std::isinf(v)) {
        *out += v > 0 ? "'Infinity'" : "'-Infinity'";
      } else {
        if (v == 0) v = 0;  // -0 and 0 are one key
        auto r = std::to_chars(buf, buf + sizeof buf, v);
        *out += '\'';
        out->append(buf, r.ptr);
        *out += '\'';
      }
      return Status::OK();
    }
    case TypeId::kTimestamp: {
      const int64_t ms = column.GetInt(row);
      const std::string iso = FormatTimestamp(ms);  // years 0000-9999, else epoch millis
      if (iso.size() > 10 && iso[4] == '-' && iso.compare(0, 4, "0000") != 0) {
        *out += '\'';
        *out += iso;
        *out += '\'';
      } else {
        auto r = std::to_chars(buf, buf + sizeof buf, ms);
        *out += "to_timestamp(";
        out->append(buf, r.ptr);
        *out += "::float8 / 1000)";
      }
      return Status::OK();
    }
    case TypeId::kString: {
      const std::string_view s = column.GetString(row);
      if (s.find('\0') != std::string_view::npos) {
        return Status::InvalidArgument(what_ + ": field '" + columns_[field].name +
                                       "' has a string with a NUL character, which PostgreSQL "
                                       "text cannot store (use a bytes field)");
      }
      escaped_.resize(2 * s.size() + 1);
      int error = 0;
      const size_t n = PQescapeStringConn(conn_->pg, escaped_.data(), s.data(), s.size(), &error);
      if (error) {
        return Status::InvalidArgument(
            what_ + ": field '" + columns_[field].name +
            "' has a string that is not valid UTF-8: " + OneLine(PQerrorMessage(conn_->pg)));
      }
      *out += '\'';
      out->append(escaped_.data(), n);
      *out += '\'';
      return Status::OK();
    }
    case TypeId::kBytes: {
      static constexpr char kHex[] = "0123456789abcdef";
      const std::string_view s = column.GetString(row);
      // An escape string, so the backslash means the same whatever
      // standard_conforming_strings says: the value is \x<hex>.
      *out += "E'\\\\x";
      for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
      }
      *out += '\'';
      return Status::OK();
    }
  }
  return Status::Internal(what_ + ": unknown column type");
}

Status PostgresSink::Fail(Status st) {
  broken_ = st;
  if (in_txn_ && conn_ && PQstatus(conn_->pg) == CONNECTION_OK)
    PgResultPtr(PQexec(conn_->pg, "ROLLBACK"));
  in_txn_ = false;
  return st;
}

Status PostgresSink::Write(const RecordBatch& batch) {
  if (!broken_.ok()) return broken_;
  if (!conn_) return Status::FailedPrecondition(what_ + " written before Open");
  const size_t n = batch.num_rows();
  if (n == 0) return Status::OK();

  order_.resize(n);
  for (size_t r = 0; r < n; ++r) order_[r] = r;
  if (spec_.upsert) {
    // A statement may not touch a row twice: only the last row of each key in
    // the batch is sent. In key order: subtasks that write the same keys then
    // lock the rows in the same order and cannot deadlock within a statement.
    row_keys_.resize(n);
    for (size_t r = 0; r < n; ++r) {
      row_keys_[r].clear();
      for (int k : key_columns_) {
        const auto f = static_cast<size_t>(k);
        Status st = AppendValue(batch.columns[f], f, r, &row_keys_[r]);
        if (!st.ok()) return Fail(st);
        row_keys_[r] += ',';  // literals are self-delimiting; this reads better
      }
    }
    std::stable_sort(order_.begin(), order_.end(),
                     [&](size_t a, size_t b) { return row_keys_[a] < row_keys_[b]; });
    size_t kept = 0;
    for (size_t i = 0; i < n; ++i)
      if (i + 1 == n || row_keys_[order_[i]] != row_keys_[order_[i + 1]])
        order_[kept++] = order_[i];
    order_.resize(kept);
  }

  // At-least-once upserts commit statement by statement: a transaction held
  // until the checkpoint would lock rows that other subtasks update in
  // another order (a deadlock).
  const bool autocommit = !exactly_once_ && spec_.upsert;
  if (!in_txn_ && !autocommit) {
    Status st = Execute(conn_.get(), "BEGIN", "beginning a transaction");
    if (!st.ok()) return Fail(st);
    in_txn_ = true;
  }
  const std::string doing = "inserting into table \"" + spec_.table + "\"";
  size_t bytes = 0;
  size_t rows_in_statement = 0;
  auto send = [&]() -> Status {
    sql_ += insert_tail_;
    bytes += sql_.size();
    Status st = Execute(conn_.get(), sql_, doing);
    sql_.clear();
    rows_in_statement = 0;
    return st;
  };
  sql_.clear();
  for (size_t r : order_) {
    if (rows_in_statement == 0) {
      sql_ = insert_head_;
    } else {
      sql_ += ", ";
    }
    sql_ += '(';
    for (size_t f = 0; f < columns_.size(); ++f) {
      if (f) sql_ += ", ";
      Status st = AppendValue(batch.columns[f], f, r, &sql_);
      if (!st.ok()) return Fail(st);
    }
    sql_ += ')';
    ++rows_in_statement;
    if (sql_.size() >= kStatementLimit) {
      Status st = send();
      if (!st.ok()) return Fail(st);
    }
  }
  if (rows_in_statement > 0) {
    Status st = send();
    if (!st.ok()) return Fail(st);
  }
  stats_.records += static_cast<int64_t>(n);
  stats_.bytes += static_cast<int64_t>(bytes);
  return Status::OK();
}

Status PostgresSink::Flush() {
  if (!broken_.ok()) return broken_;
  if (exactly_once_ || !in_txn_) return Status::OK();
  in_txn_ = false;  // COMMIT ends the transaction, whether it succeeds or not
  Status st = Execute(conn_.get(), "COMMIT", "committing");
  if (!st.ok()) return Fail(st);
  return Status::OK();
}

Result<std::string> PostgresSink::PreCommit(int64_t checkpoint_id) {
  if (!broken_.ok()) return broken_;
  if (!exactly_once_) {
    WEIR_RETURN_IF_ERROR(Flush());
    return std::string();
  }
  if (!in_txn_) return std::string("empty");
  const std::string gid = TransactionId(job_, spec_.name, subtask_, checkpoint_id);
  in_txn_ = false;  // PREPARE ends the transaction, whether it succeeds or not
  Status st = Execute(conn_.get(), "PREPARE TRANSACTION '" + gid + "'",
                      "preparing the transaction of checkpoint " + std::to_string(checkpoint_id));
  if (!st.ok()) return Fail(st);
  prepared_[checkpoint_id] = gid;
  return "prepared " + gid;
}

Status PostgresSink::Commit(int64_t checkpoint_id) {
  while (!prepared_.empty() && prepared_.begin()->first <= checkpoint_id) {
    // COMMIT PREPARED cannot run inside the next epoch's transaction; and a
    // broken data connection must not keep completed checkpoints unpublished.
    Conn* conn = conn_.get();
    if (in_txn_ || !conn || PQstatus(conn->pg) != CONNECTION_OK) {
      if (control_ && PQstatus(control_->pg) != CONNECTION_OK) control_.reset();
      if (!control_) WEIR_RETURN_IF_ERROR(Connect(&control_));
      conn = control_.get();
    }
    WEIR_RETURN_IF_ERROR(FinishPrepared(conn, prepared_.begin()->second, /*commit=*/true));
    prepared_.erase(prepared_.begin());
  }
  return Status::OK();
}

Status PostgresSink::Close() {
  Status st = broken_;
  if (st.ok() && conn_) {
    if (!exactly_once_) {
      st = Flush();
    } else if (in_txn_) {
      // The rows since the last checkpoint belong to no checkpoint.
      PgResultPtr(PQexec(conn_->pg, "ROLLBACK"));
      in_txn_ = false;
    }
  }
  control_.reset();
  conn_.reset();
  return st;
}

}  // namespace weir::connectors
