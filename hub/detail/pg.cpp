#include "hub/detail/pg.h"

#include <libpq-fe.h>
#include <string.h>  // explicit_bzero

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace svd::hub::pg {

void ConnFinish::operator()(PGconn* c) const { PQfinish(c); }
void ResultClear::operator()(PGresult* r) const { PQclear(r); }

std::string_view kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::unavailable: return "unavailable";
    case ErrorKind::authentication: return "authentication";
    case ErrorKind::insufficient_privilege: return "insufficient_privilege";
    case ErrorKind::unique_violation: return "unique_violation";
    case ErrorKind::disk_full: return "disk_full";
    case ErrorKind::out_of_resources: return "out_of_resources";
    case ErrorKind::data: return "data";
    case ErrorKind::serialization: return "serialization";
    case ErrorKind::other: return "other";
  }
  return "other";
}

ErrorKind classify(std::string_view s) {
  if (s.size() != 5) return ErrorKind::other;
  const std::string_view cls = s.substr(0, 2);
  if (s == "28P01" || s == "28000") return ErrorKind::authentication;
  if (s == "42501") return ErrorKind::insufficient_privilege;
  if (s == "23505") return ErrorKind::unique_violation;
  if (s == "53100") return ErrorKind::disk_full;
  if (cls == "53") return ErrorKind::out_of_resources;
  if (cls == "22") return ErrorKind::data;
  if (s == "40001" || s == "40P01") return ErrorKind::serialization;
  // 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now; not 57014 (a
  // cancelled statement), which leaves the session as it was.
  if (cls == "08" || s == "57P01" || s == "57P02" || s == "57P03") return ErrorKind::unavailable;
  return ErrorKind::other;
}

std::string describe(const Error& e) {
  std::string out(kind_name(e.kind));
  if (!e.sqlstate.empty()) out += " (" + e.sqlstate + ")";
  if (e.kind != ErrorKind::data && !e.message.empty()) out += ": " + e.message;
  return out;
}

void throw_exception_from_error(const Error& e, const boost::source_location&) {
  // Kind and SQLSTATE only: what() may reach a log, and the message may quote a value.
  throw std::runtime_error("PostgreSQL error: " + std::string(kind_name(e.kind)) +
                           (e.sqlstate.empty() ? "" : " (" + e.sqlstate + ")"));
}

namespace {

// libpq's messages span lines ("...\n\tThis probably means the server terminated abnormally\n");
// a log line wants one.
std::string one_line(const char* text) {
  std::string out;
  if (text == nullptr) return out;
  bool space = false;
  for (const char* p = text; *p; ++p) {
    const char c = *p;
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

Error make_error(ErrorKind kind, std::string message) { return Error{kind, {}, std::move(message), {}}; }

Error not_connected() { return make_error(ErrorKind::unavailable, "not connected"); }

// The error of a failed statement: the server's SQLSTATE and primary message when it sent one,
// otherwise libpq's message. A connection that went bad makes it `unavailable` whatever the
// SQLSTATE (a session ended by a shutdown reports 57P01, then the closed socket).
Error error_from(PGconn* conn, const PGresult* res) {
  Error e;
  if (res != nullptr) {
    if (const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE)) e.sqlstate = s;
    if (const char* m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) e.message = one_line(m);
    if (const char* c = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME)) e.constraint = c;
    if (e.message.empty()) e.message = one_line(PQresultErrorMessage(res));
  }
  if (e.message.empty()) e.message = one_line(PQerrorMessage(conn));
  if (PQstatus(conn) != CONNECTION_OK) e.kind = ErrorKind::unavailable;
  else e.kind = classify(e.sqlstate);
  return e;
}

// Before a session exists libpq offers no SQLSTATE, only its message (PQerrorMessage), which
// carries the server's FATAL message when the server sent one.
Error connect_error(PGconn* conn) {
  Error e = make_error(ErrorKind::unavailable, one_line(PQerrorMessage(conn)));
  const std::string& m = e.message;
  const auto has = [&m](std::string_view s) { return m.find(s) != std::string::npos; };
  if (PQconnectionNeedsPassword(conn) || has("authentication failed") || has("no pg_hba.conf entry") ||
      has("pg_hba.conf rejects connection") || has("is not permitted to log in") || has("no password supplied") ||
      (has("role \"") && has("\" does not exist")))
    e.kind = ErrorKind::authentication;
  else if (has("permission denied for database"))
    e.kind = ErrorKind::insufficient_privilege;
  else if (has("too many clients") || has("connection slots are reserved"))
    e.kind = ErrorKind::out_of_resources;
  else if (has("database \"") && has("\" does not exist"))
    e.kind = ErrorKind::other;  // a configuration error: retrying will not help
  return e;
}

// Nothing here acts on a NOTICE, and libpq's default prints each to stderr, where one quoting a
// value could reach the journal.
void drop_notice(void*, const char*) {}

// Reads the password file's first line, without its line ending, into `out`; false when the
// file cannot be read or that line is empty.
bool read_password(const std::filesystem::path& file, std::string& out) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return false;
  out.reserve(256);  // so that reading an ordinary password leaves no reallocated copy behind
  std::getline(in, out);
  if (in.bad()) return false;
  if (!out.empty() && out.back() == '\r') out.pop_back();
  return !out.empty();
}

// Wipes a copy of the password when it goes out of scope, on every path. Best effort: libpq
// keeps its own copy for as long as the connection lives.
struct Wipe {
  std::string& s;
  ~Wipe() { explicit_bzero(s.data(), s.size()); }
};

// Whether libpq can parse the connection string. A value without '=' that is not a URI is a plain
// database name to libpq (and so is an empty one: all defaults), which always parses.
std::optional<std::string> conninfo_problem(const std::string& conninfo) {
  const bool uri = conninfo.rfind("postgresql://", 0) == 0 || conninfo.rfind("postgres://", 0) == 0;
  if (!uri && conninfo.find('=') == std::string::npos) return std::nullopt;
  char* err = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &err);
  std::optional<std::string> problem;
  if (parsed == nullptr) problem = err ? one_line(err) : std::string("out of memory");
  PQconninfoFree(parsed);
  PQfreemem(err);
  return problem;
}

// Reads the results until libpq's end-of-command (a null result), so that the connection is
// ready for the next command, and returns the first error among them, if any. A result still in
// a COPY state means the end of the COPY could not be sent: libpq would return that result
// forever and the connection can run nothing else, so it is closed (reconnect() opens it again).
std::optional<Error> drain(Connection& c) {
  std::optional<Error> first;
  PGconn* conn = c.get();
  while (PGresult* raw = PQgetResult(conn)) {
    Result r(raw);
    const ExecStatusType st = PQresultStatus(raw);
    if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
      c.close();
      return make_error(ErrorKind::unavailable, "a COPY could not be ended");
    }
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY && !first)
      first = error_from(conn, raw);
  }
  return first;
}

// A statement that turned out to be a COPY where none was expected: end it as failed so that
// the connection leaves the COPY state.
void end_unexpected_copy(Connection& c, ExecStatusType st) {
  PGconn* conn = c.get();
  if (st == PGRES_COPY_IN) {
    PQputCopyEnd(conn, "COPY FROM STDIN is only run by copy_in");
  } else if (st == PGRES_COPY_OUT) {
    char* buf = nullptr;
    while (PQgetCopyData(conn, &buf, 0) > 0) PQfreemem(buf);
  }
  drain(c);
}

// The outcome of a statement sent with PQexec or PQexecParams.
Outcome<Result> finish_statement(Connection& c, PGresult* raw) {
  PGconn* conn = c.get();
  Result r(raw);
  if (raw == nullptr) return error_from(conn, nullptr);  // out of memory, or the command could not be sent
  const ExecStatusType st = PQresultStatus(raw);
  switch (st) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
      return r;
    case PGRES_COPY_IN:
    case PGRES_COPY_OUT:
      end_unexpected_copy(c, st);
      if (!c.is_connected()) return make_error(ErrorKind::unavailable, "the connection was lost");
      return make_error(ErrorKind::other, "COPY is run with copy_in, not exec");
    case PGRES_COPY_BOTH:  // replication: nothing to return to; start afresh
      c.close();
      return make_error(ErrorKind::other, "COPY BOTH is not supported");
    default:
      return error_from(conn, raw);
  }
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

}  // namespace

// --- Result -------------------------------------------------------------------------------

int Result::rows() const { return r_ ? PQntuples(r_.get()) : 0; }
int Result::columns() const { return r_ ? PQnfields(r_.get()) : 0; }

bool Result::is_null(int row, int col) const {
  if (!r_ || row < 0 || col < 0 || row >= rows() || col >= columns()) return true;
  return PQgetisnull(r_.get(), row, col) != 0;
}

std::string Result::text(int row, int col) const {
  if (is_null(row, col)) return {};
  const char* v = PQgetvalue(r_.get(), row, col);
  const int n = PQgetlength(r_.get(), row, col);
  if (v == nullptr || n <= 0) return {};
  return std::string(v, static_cast<std::size_t>(n));
}

std::optional<std::int64_t> Result::int64(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  const char* v = PQgetvalue(r_.get(), row, col);
  const char* end = v + PQgetlength(r_.get(), row, col);
  std::int64_t out = 0;
  const auto [p, ec] = std::from_chars(v, end, out);
  if (ec != std::errc() || p != end || p == v) return std::nullopt;
  return out;
}

std::optional<bool> Result::boolean(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  const std::string_view v(PQgetvalue(r_.get(), row, col), static_cast<std::size_t>(PQgetlength(r_.get(), row, col)));
  if (v == "t") return true;
  if (v == "f") return false;
  return std::nullopt;
}

std::uint64_t Result::affected_rows() const {
  if (!r_) return 0;
  const char* v = PQcmdTuples(r_.get());  // "" for statements that touch no rows
  std::uint64_t out = 0;
  const char* end = v + std::char_traits<char>::length(v);
  const auto [p, ec] = std::from_chars(v, end, out);
  return ec == std::errc() && p == end ? out : 0;
}

// --- Connection ---------------------------------------------------------------------------

Outcome<Connection> Connection::open(ConnectOptions options) {
  Connection c(std::move(options));
  auto r = c.connect();
  if (!r) return r.error();
  return c;
}

bool Connection::is_connected() const { return conn_ && PQstatus(conn_.get()) == CONNECTION_OK; }

Outcome<void> Connection::reconnect() { return connect(); }

void Connection::close() { conn_.reset(); }

int Connection::backend_pid() const { return is_connected() ? PQbackendPID(conn_.get()) : 0; }

Outcome<void> Connection::connect() {
  close();
  // A connection string libpq cannot parse is a configuration error, not an unreachable server.
  if (auto problem = conninfo_problem(options_.conninfo))
    return make_error(ErrorKind::other, "invalid connection string: " + *problem);
  std::string password;
  const Wipe wipe{password};
  if (!options_.password_file.empty() && !read_password(options_.password_file, password))
    return make_error(ErrorKind::other, "cannot read a password from " + options_.password_file.string());
  // Entries before dbname are defaults the connection string may override; those after it win
  // over the connection string (libpq reads the arrays in order, the last value winning).
  std::array<const char*, 6> keywords{"connect_timeout", "dbname", "client_encoding", "application_name", nullptr,
                                      nullptr};
  std::array<const char*, 6> values{"10", options_.conninfo.c_str(), "UTF8", options_.application_name.c_str(),
                                    nullptr, nullptr};
  if (!password.empty()) {
    keywords[4] = "password";
    values[4] = password.c_str();
  }
  PGconn* raw = PQconnectdbParams(keywords.data(), values.data(), 1);
  if (raw == nullptr) return make_error(ErrorKind::out_of_resources, "out of memory");
  conn_.reset(raw);
  PQsetNoticeProcessor(raw, drop_notice, nullptr);
  if (PQstatus(raw) != CONNECTION_OK) {
    Error e = connect_error(raw);
    close();
    return e;
  }
  const char* encoding = PQparameterStatus(raw, "client_encoding");
  if (encoding == nullptr || std::string_view(encoding) != "UTF8") {
    close();
    return make_error(ErrorKind::other, "the server did not accept client_encoding UTF8");
  }
  // TimeZone by SET rather than the `options` keyword, so that an `options` in the operator's
  // connection string (a search_path, say) is kept, and poolers that refuse `options` work.
  auto set = exec(*this, "SET TimeZone TO 'UTC'");
  if (!set) {
    Error e = set.error();
    close();
    return e;
  }
  return {};
}

// --- Statements ---------------------------------------------------------------------------

Outcome<Result> exec(Connection& conn, std::string_view sql) {
  if (!conn.get()) return not_connected();
  if (has_nul(sql)) return make_error(ErrorKind::other, "the SQL text contains a NUL byte");
  const std::string text(sql);
  return finish_statement(conn, PQexec(conn.get(), text.c_str()));
}

Outcome<Result> exec_params(Connection& conn, std::string_view sql, std::span<const Param> params) {
  if (!conn.get()) return not_connected();
  if (has_nul(sql)) return make_error(ErrorKind::other, "the SQL text contains a NUL byte");
  if (params.size() > 65535) return make_error(ErrorKind::other, "more than 65535 parameters");
  // Text parameters go to libpq NUL-terminated, so each is copied; a NUL inside one would cut
  // it short without a word, hence the refusal.
  std::vector<std::string> storage;
  std::vector<const char*> values;
  storage.reserve(params.size());
  values.reserve(params.size());
  for (const Param& p : params) {
    if (!p) {
      values.push_back(nullptr);
      continue;
    }
    if (has_nul(*p)) return make_error(ErrorKind::data, "a parameter contains a NUL byte");
    storage.emplace_back(*p);
    values.push_back(storage.back().c_str());
  }
  const std::string text(sql);
  return finish_statement(conn, PQexecParams(conn.get(), text.c_str(), static_cast<int>(params.size()), nullptr,
                                             values.data(), nullptr, nullptr, 0));
}

Outcome<Result> exec_params(Connection& conn, std::string_view sql, std::initializer_list<Param> params) {
  return exec_params(conn, sql, std::span<const Param>(params.begin(), params.size()));
}

std::string quote_identifier(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 2);
  out += '"';
  for (const char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

// --- COPY ---------------------------------------------------------------------------------

void CopyBuffer::field(std::string_view text) {
  if (row_open_) data_ += '\t';
  row_open_ = true;
  // Runs of ordinary bytes are appended whole; only the four special bytes are escaped. UTF-8
  // continuation bytes are never one of them, so a multi-byte character passes through intact.
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const char* esc = c == '\\' ? "\\\\" : c == '\t' ? "\\t" : c == '\n' ? "\\n" : c == '\r' ? "\\r" : nullptr;
    if (esc == nullptr) continue;
    data_.append(text.substr(start, i - start));
    data_ += esc;
    start = i + 1;
  }
  data_.append(text.substr(start));
}

void CopyBuffer::null() {
  if (row_open_) data_ += '\t';
  row_open_ = true;
  data_ += "\\N";
}

void CopyBuffer::end_row() {
  data_ += '\n';
  row_open_ = false;
  ++rows_;
}

void CopyBuffer::clear() {
  data_.clear();
  row_open_ = false;
  rows_ = 0;
}

namespace {

// PQputCopyData takes an int length; a chunk of any size goes in pieces of at most 1 MiB.
bool send_chunk(PGconn* conn, std::string_view data) {
  constexpr std::size_t piece = std::size_t{1} << 20;
  while (!data.empty()) {
    const std::size_t n = std::min(piece, data.size());
    if (PQputCopyData(conn, data.data(), static_cast<int>(n)) != 1) return false;
    data.remove_prefix(n);
  }
  return true;
}

}  // namespace

Outcome<std::uint64_t> copy_in(Connection& c, std::string_view copy_sql, const CopyWriter& write) {
  if (!c.get()) return not_connected();
  if (has_nul(copy_sql)) return make_error(ErrorKind::other, "the SQL text contains a NUL byte");
  PGconn* conn = c.get();
  {
    const std::string text(copy_sql);
    Result start(PQexec(conn, text.c_str()));
    const ExecStatusType st = start.get() ? PQresultStatus(start.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COPY_IN) {
      if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR)
        return error_from(conn, start.get());
      // Some other statement, or a COPY in the other direction: end it, and refuse.
      if (st == PGRES_COPY_OUT) end_unexpected_copy(c, st);
      if (st == PGRES_COPY_BOTH) c.close();
      if (!c.is_connected()) return make_error(ErrorKind::unavailable, "the connection was lost");
      return make_error(ErrorKind::other, "not a COPY FROM STDIN");
    }
  }
  CopyBuffer buffer;  // one buffer for every chunk: its capacity is kept
  Chunk step = Chunk::more;
  bool sent = true;
  while (step == Chunk::more) {
    buffer.clear();
    try {
      step = write(buffer);
    } catch (...) {
      PQputCopyEnd(conn, "the COPY writer failed");
      drain(c);
      throw;
    }
    if (step == Chunk::abandon) break;
    if (!send_chunk(conn, buffer.data())) {
      sent = false;  // the connection failed; the results below say how
      break;
    }
  }
  const char* failure = step == Chunk::abandon ? "abandoned by the client" : !sent ? "sending failed" : nullptr;
  PQputCopyEnd(conn, failure);
  // The COPY's own result, then the end of the command.
  Result done(PQgetResult(conn));
  const ExecStatusType st = done.get() ? PQresultStatus(done.get()) : PGRES_FATAL_ERROR;
  std::optional<Error> error;
  if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
    // PQputCopyEnd could not be sent: libpq would report the COPY state forever. The
    // connection is of no further use.
    c.close();
    return make_error(ErrorKind::unavailable, "the COPY could not be ended");
  }
  if (st != PGRES_COMMAND_OK) error = error_from(conn, done.get());
  if (auto later = drain(c); later && !error) error = later;  // may close c: conn is not used after this
  if (step == Chunk::abandon && c.is_connected()) return make_error(ErrorKind::other, "COPY abandoned by the client");
  if (error) return *error;
  return done.affected_rows();
}

}  // namespace svd::hub::pg
