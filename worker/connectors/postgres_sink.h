// PostgresSink: writes rows into a PostgreSQL table, at least once or exactly
// once (shared/design/architecture.md, "Checkpoints and exactly-once").
//
// Contract (on top of connector.h's Sink):
// - `dsn` is a libpq connection string (key=value pairs or a postgresql://
//   URI). Errors never show it: they name the server as "host=H port=P
//   dbname=D" (DescribeDsn), and a password that libpq would echo is masked.
//   Failing to connect, or losing the connection, is kUnavailable.
// - `table` is "name" or "schema.name", used as written (quoted, so
//   case-sensitive). Open() creates it when it does not exist, with one column
//   per field (bigint, double precision, boolean, text, timestamp with time
//   zone for timestamps, bytea for bytes; a null-typed field becomes text) and,
//   in upsert mode, PRIMARY KEY (key). When it exists, Open() checks it and
//   fails with kFailedPrecondition naming the table and the column: a field
//   without a column, a column of an incompatible type (accepted besides the
//   above: numeric for bigint and double; varchar, char, json, jsonb for
//   strings; timestamp without time zone, which gets UTC), a NOT NULL column
//   without a default that no field fills, and in upsert mode the lack of a
//   primary key or unique index on exactly the key columns.
// - Write() sends each batch as one multi-row INSERT (batches whose SQL grows
//   past a few MiB are split into several), values as escaped literals.
//   Upsert mode: INSERT ... ON CONFLICT (key) DO UPDATE SET every other
//   column (DO NOTHING when every column is a key); within a batch the last
//   row of a key wins, and rows go in key order (so that subtasks writing
//   the same keys lock them in one order). Timestamps (epoch millis) are
//   written as UTC instants.
//   A string with a NUL character, or one that is not valid UTF-8, fails the
//   write with kInvalidArgument. After a failed Write() the sink is broken:
//   every later call but Close() returns the same error (the rows of the
//   open transaction are gone; the task must restart from a checkpoint).
// - at_least_once: the first Write() begins a transaction; Flush(),
//   PreCommit() and Close() commit it. Upserts are the exception: each
//   statement commits by itself, because a transaction open until the
//   checkpoint would hold row locks that another subtask, upserting the same
//   keys in another order, waits for while holding some of its own.
// - exactly_once: one transaction per checkpoint epoch, begun by the epoch's
//   first Write(). PreCommit(N) prepares it as TransactionId(job, sink,
//   subtask, N) and returns "prepared <gid>", or "empty" when the epoch wrote
//   nothing (nothing is prepared). Commit(N) commits every transaction this
//   instance prepared for an epoch <= N (a completed checkpoint subsumes
//   earlier ones that never completed); a transaction that is no longer in
//   pg_prepared_xacts was committed by an earlier attempt, which is fine.
//   Open() resolves the prepared transactions of this job, sink and subtask
//   left by an earlier run (subtask 0 also those of subtasks >= the current
//   parallelism): restoring checkpoint N commits those of epochs <= N and
//   rolls back the later ones; a start without a checkpoint rolls them all
//   back. Flush() does nothing (the rows belong to the next checkpoint);
//   Close() rolls the open transaction back: its rows belong to no
//   checkpoint. Needs max_prepared_transactions > 0 on the server (checked
//   by Open()).
// Thread-safety: one task thread calls everything.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "worker/connectors/connector.h"

struct pg_result;  // libpq's PGresult

namespace weir::connectors {

class PostgresSink final : public Sink {
 public:
  PostgresSink(spec::SinkSpec spec, Schema schema);
  ~PostgresSink() override;

  Status Open(const SinkContext& ctx) override;
  Status Write(const RecordBatch& batch) override;
  Status Flush() override;
  Result<std::string> PreCommit(int64_t checkpoint_id) override;
  Status Commit(int64_t checkpoint_id) override;
  Status Close() override;

  // The prepared transaction's id: "weir-<job>-<sink>-<subtask>-<checkpoint>".
  // The job keeps [a-z0-9-] and the sink [a-z0-9_]; any other byte becomes
  // '.' and two hex digits, so the sink part has no '-' and the id names
  // exactly one (job, sink, subtask, checkpoint).
  static std::string TransactionId(std::string_view job, std::string_view sink, int subtask,
                                   int64_t checkpoint_id);
  // "host=db port=5432 dbname=weir" (the parts the dsn sets), or "" when the
  // dsn cannot be parsed. Never the password.
  static std::string DescribeDsn(const std::string& dsn);

 private:
  struct Conn;
  struct ResultDeleter {
    void operator()(pg_result* r) const;
  };
  using PgResultPtr = std::unique_ptr<pg_result, ResultDeleter>;
  struct TableColumn {
    std::string name;    // the field's name
    std::string quoted;  // as an SQL identifier
    TypeId type;
  };

  Status OpenConnected(const SinkContext& ctx);
  Status Connect(std::unique_ptr<Conn>* out);
  Result<std::string> QuoteIdentifier(const std::string& name) const;
  Status CheckOrCreateTable();
  Status CheckUniqueKey();
  // Commits or rolls back the prepared transactions earlier runs left.
  Status Recover(const SinkContext& ctx);
  // COMMIT or ROLLBACK PREPARED; fine when the transaction is gone already.
  Status FinishPrepared(Conn* conn, const std::string& gid, bool commit);
  // Runs one statement (with $1... parameters); an error Status says what
  // failed while `doing` what.
  Result<PgResultPtr> Query(Conn* conn, const std::string& sql, std::string_view doing,
                            const std::vector<std::string>& params = {}) const;
  Status Execute(Conn* conn, const std::string& sql, std::string_view doing);
  Status ErrorOf(Conn* conn, const pg_result* res, std::string_view doing) const;
  // Appends row `row` of `column` (field `field`) as an SQL literal.
  Status AppendValue(const Column& column, size_t field, size_t row, std::string* out);
  Status Fail(Status st);                    // marks the sink broken, rolls back, returns st
  std::string Mask(std::string text) const;  // hides the password

  spec::SinkSpec spec_;
  Schema schema_;
  bool exactly_once_ = false;
  std::string what_;      // "postgres sink 'out'"
  std::string server_;    // DescribeDsn(dsn)
  std::string password_;  // masked in messages
  std::string table_;     // the table as an SQL identifier (maybe schema-qualified)
  std::string table_oid_;
  std::vector<TableColumn> columns_;
  std::vector<int> key_columns_;
  std::string insert_head_;  // "INSERT INTO t (a, b) VALUES "
  std::string insert_tail_;  // "" or " ON CONFLICT (...) DO ..."
  std::string job_;
  int subtask_ = 0;

  std::unique_ptr<Conn> conn_;     // rows, and everything outside a transaction
  std::unique_ptr<Conn> control_;  // COMMIT PREPARED while conn_ is in a transaction
  bool in_txn_ = false;
  Status broken_;
  std::map<int64_t, std::string> prepared_;  // checkpoint -> gid, not committed yet

  // Reused per Write().
  std::string sql_, escaped_;
  std::vector<std::string> row_keys_;
  std::vector<size_t> order_;  // the rows to send, in order
};

}  // namespace weir::connectors
