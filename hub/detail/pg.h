#pragma once
// Small RAII helpers over libpq for the hub's PostgreSQL store, as base/sqlite.h is over SQLite.
// Not a wrapper library: the connection and result handles, statements with text parameters,
// COPY FROM STDIN with an encoder for its text format, and errors sorted into the few kinds a
// caller acts on differently. Private to hub/.
//
// Every connection talks UTF-8 (client_encoding) in UTC (TimeZone), and names itself with the
// caller's application_name. The password comes from a file named by the caller and goes to
// libpq as a keyword: it is never part of the connection string, and no message here holds it.
//
// Errors come back as values (`Outcome<T>`), never as exceptions, except what the caller's own
// COPY writer throws. Thread-safety: none of their own; a connection, and the results read from
// it, belong to one thread (libpq itself is thread-safe across connections).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

// libpq's handle types, declared the way libpq-fe.h declares them, so that this header does not
// need libpq's include directory.
typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace svd::hub::pg {

// What a caller does about a failure differs by these kinds, so they are all it branches on.
enum class ErrorKind {
  unavailable,             // the server cannot be reached, is shutting down or starting up, or
                           // the connection was lost (class 08, 57P01-57P03, or libpq's own
                           // failure): reconnect and retry later
  authentication,          // 28P01 / 28000: wrong password, no pg_hba.conf entry, no password
  insufficient_privilege,  // 42501: the role lacks a right (a table, a schema, CONNECT)
  unique_violation,        // 23505
  disk_full,               // 53100
  out_of_resources,        // the rest of class 53: memory, too many connections, ...
  data,                    // class 22: a value the column's type refuses (a bad date, bad UTF-8)
  serialization,           // 40001 / 40P01: the transaction lost to another; run it again
  other,                   // anything else, including our own misuse (a NUL byte in SQL)
};

// "unavailable", "unique_violation", ...
std::string_view kind_name(ErrorKind kind);

// The kind of a server error from its SQLSTATE (five characters; anything else is `other`).
ErrorKind classify(std::string_view sqlstate);

struct Error {
  ErrorKind kind = ErrorKind::other;
  std::string sqlstate;    // empty when libpq made the error itself (a lost connection, a connect failure)
  std::string message;     // the server's primary message, or libpq's; one line
  std::string constraint;  // the constraint a violation names (e.g. "batches_pkey"), or empty
};
// The message is for logs, but it may quote a value: a data error's text does ("invalid input
// syntax for type date: ..."). Callers must not log the message of a data error; `describe`
// leaves it out. The DETAIL field, where the server quotes whole rows and keys, is not kept.
std::string describe(const Error& e);  // "unique_violation (23505): duplicate key value ..."

template <class T>
using Outcome = boost::system::result<T, Error>;

// For Outcome::value() on an error: throws std::runtime_error naming the kind and SQLSTATE only.
// Callers test the outcome instead; this exists so that value() compiles.
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

struct ConnFinish {
  void operator()(PGconn* c) const;
};
struct ResultClear {
  void operator()(PGresult* r) const;
};

// A statement's result: the rows of a query, or just its status. Cells are read as text, the
// form libpq returns them in; rows and columns count from 0. A cell out of range reads as NULL.
class Result {
 public:
  Result() = default;
  explicit Result(PGresult* r) : r_(r) {}

  int rows() const;
  int columns() const;
  bool is_null(int row, int col) const;
  // The cell's text; NULL reads as "", as does an empty text (is_null tells them apart).
  std::string text(int row, int col) const;
  // nullopt for NULL or a cell that is not a whole decimal number in range.
  std::optional<std::int64_t> int64(int row, int col) const;
  // nullopt for NULL or a cell that is not a boolean ("t" / "f", as the server writes them).
  std::optional<bool> boolean(int row, int col) const;
  // Rows an INSERT, UPDATE, DELETE, MERGE, COPY or SELECT touched; 0 for other statements.
  std::uint64_t affected_rows() const;

  PGresult* get() const { return r_.get(); }

 private:
  std::unique_ptr<PGresult, ResultClear> r_;
};

struct ConnectOptions {
  // A libpq connection string or URI ("host=db.example port=5432 dbname=svdhub user=svdhub
  // sslmode=verify-full"), expanded by libpq (expand_dbname). Its own connect_timeout wins over
  // the default of 10 s; a password in it is overridden by the password file's.
  std::string conninfo;
  // The password is the file's first line, without its line ending. Empty: no password given,
  // and libpq falls back to its own sources (PGPASSWORD, ~/.pgpass).
  std::filesystem::path password_file;
  // Sent as application_name (pg_stat_activity, the server's log lines).
  std::string application_name = "svdhub";
};

class Connection {
 public:
  // Connects (blocking, up to connect_timeout). Errors: authentication, insufficient_privilege
  // (no CONNECT on the database), out_of_resources (too many connections), unavailable
  // (unreachable, starting up, shutting down), other (a connection string libpq cannot parse,
  // an unreadable or empty password file, a missing database). A failure before the session
  // starts has no SQLSTATE in libpq's API, so it is classified from libpq's message text, which
  // is English unless the server's lc_messages or the client's locale says otherwise.
  static Outcome<Connection> open(ConnectOptions options);

  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() = default;

  // Whether the connection was good after its last use: libpq notices a lost connection only
  // when it next talks to the server, so this does not probe it.
  bool is_connected() const;
  // Closes the connection, if open, and connects again with the same options, reading the
  // password file again (a rotated password is used). Errors: as open(); then is_connected()
  // is false until a later reconnect() succeeds.
  Outcome<void> reconnect();
  void close();

  // The server process serving this session (pg_stat_activity.pid), 0 when not connected.
  int backend_pid() const;
  // The libpq handle, for what this layer does not cover; nullptr when not connected.
  PGconn* get() const { return conn_.get(); }

 private:
  explicit Connection(ConnectOptions options) : options_(std::move(options)) {}
  Outcome<void> connect();

  ConnectOptions options_;
  std::unique_ptr<PGconn, ConnFinish> conn_;
};

// Runs one or more SQL statements without parameters (PQexec); the result is the last
// statement's. Never put a value into SQL text: use exec_params. COPY is refused (use copy_in).
Outcome<Result> exec(Connection& conn, std::string_view sql);

// A statement parameter in text form: the server parses it as the type the statement gives it
// ("$1::date", or the column it is compared with or stored in). nullopt is NULL.
using Param = std::optional<std::string_view>;

// Runs one statement with parameters $1, $2, ... (PQexecParams, text format). A parameter with a
// NUL byte is refused as a data error (PostgreSQL text cannot hold one); at most 65535 of them.
Outcome<Result> exec_params(Connection& conn, std::string_view sql, std::span<const Param> params);
Outcome<Result> exec_params(Connection& conn, std::string_view sql, std::initializer_list<Param> params);

// `name` as a quoted SQL identifier: in double quotes, each double quote doubled. Any name is
// then safe to splice into SQL text, with two limits the server sets: it must not contain a NUL
// byte (exec refuses such SQL), and the server truncates a name longer than 63 bytes (so two
// long names can meet as one).
std::string quote_identifier(std::string_view name);

// Rows for COPY ... FROM STDIN in the text format (the default; not CSV): fields separated by
// tabs, rows ended by a newline, backslash, tab, newline and carriage return escaped, NULL as \N.
// A field's text goes in as it is otherwise: the server checks that it is UTF-8 without NUL
// bytes, and rejects the COPY as a data error if not.
class CopyBuffer {
 public:
  void field(std::string_view text);
  void null();
  void end_row();

  std::string_view data() const { return data_; }
  std::size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  // Rows ended since the last clear().
  std::size_t rows() const { return rows_; }
  // Forgets the data, keeping the capacity; a row left open is forgotten too.
  void clear();

 private:
  std::string data_;
  bool row_open_ = false;  // a field of the current row is written: the next one needs a tab
  std::size_t rows_ = 0;
};

// What a COPY writer says after filling a chunk.
enum class Chunk {
  more,     // send this chunk and call me again
  last,     // send this chunk and end the COPY
  abandon,  // send nothing more and make the COPY fail: the server stores none of its rows
};

// Fills the buffer (empty on each call) with the next chunk of rows; some 64 KiB to a few MiB
// per chunk keeps memory flat and the connection busy.
using CopyWriter = std::function<Chunk(CopyBuffer&)>;

// Runs `copy_sql` ("COPY t (a, b) FROM STDIN") and streams the writer's chunks to the server
// (PQputCopyData), then ends the COPY (PQputCopyEnd). Returns the rows the server stored: all of
// them, or none (a COPY is one statement; in a transaction, a failed COPY aborts it like any
// other). A row the server refuses fails the whole COPY; the server reads on to the end of the
// data first, so the writer is called to the end even then. Errors: those of exec_params, and
// `other` after Chunk::abandon. If the writer throws, the COPY is ended as failed and the
// exception is passed on; the connection stays usable either way.
Outcome<std::uint64_t> copy_in(Connection& conn, std::string_view copy_sql, const CopyWriter& write);

}  // namespace svd::hub::pg
