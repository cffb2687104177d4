#include "hub/detail/pg.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/postgres_server.h"

// These tests hold passwords and record-like values. None goes to the output: a failed
// comparison of such a value says which row or field, never the value (EXPECT_TRUE(a == b), not
// EXPECT_EQ(a, b)).

namespace svd::hub::pg {
namespace {

using test_support::contains;
using test_support::PostgresServer;
using test_support::read_line;
using test_support::shared_server;

// Each test in a database of its own.
[[maybe_unused]] ::testing::Environment* const g_environment = test_support::use_shared_server();

class PgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(shared_server(), nullptr);
    ASSERT_TRUE(shared_server()->running()) << "an earlier test left the server stopped";
    server_ = shared_server();
    db_ = "t_";
    for (const char c : std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()))
      db_ += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    db_.resize(std::min<std::size_t>(db_.size(), 60));  // names longer than 63 bytes are cut by the server
    server_->create_database(db_);
  }

  PostgresServer& server() { return *server_; }

  Outcome<Connection> open(const std::filesystem::path& password_file = {}, const std::string& user = {},
                           const std::string& extra = {}) {
    return Connection::open({.conninfo = server_->conninfo(db_, user) + extra,
                             .password_file = password_file.empty() ? server_->password_file() : password_file,
                             .application_name = "pg-test"});
  }

  Connection connect() {
    auto c = open();
    if (!c) throw std::runtime_error("cannot connect: " + describe(c.error()));
    return std::move(*c);
  }

  PostgresServer* server_ = nullptr;
  std::string db_;
};

TEST_F(PgTest, ConnectsWithThePasswordFileInUtcAndUtf8) {
  // The database's own defaults say otherwise, so only the connection's settings give UTC,
  // UTF8 and our name.
  server().execute("ALTER DATABASE " + db_ + " SET timezone TO 'Pacific/Auckland'");
  server().execute("ALTER DATABASE " + db_ + " SET client_encoding TO 'LATIN1'");
  server().execute("ALTER DATABASE " + db_ + " SET application_name TO 'not-ours'");
  ASSERT_EQ(server().query_value("SELECT current_setting('TimeZone')", db_), "Pacific/Auckland");

  auto c = open();
  ASSERT_TRUE(c) << describe(c.error());
  EXPECT_TRUE(c->is_connected());
  EXPECT_GT(c->backend_pid(), 0);
  auto r = exec(*c,
                "SELECT current_setting('TimeZone'), current_setting('client_encoding'), "
                "current_setting('application_name'), '2026-01-02 03:04:05+00'::timestamptz::text");
  ASSERT_TRUE(r) << describe(r.error());
  EXPECT_EQ(r->text(0, 0), "UTC");
  EXPECT_EQ(r->text(0, 1), "UTF8");
  EXPECT_EQ(r->text(0, 2), "pg-test");
  EXPECT_EQ(r->text(0, 3), "2026-01-02 03:04:05+00");
}

TEST_F(PgTest, WrongPasswordIsAnAuthenticationFailureThatDoesNotShowIt) {
  const std::string right = read_line(server().password_file());
  ASSERT_FALSE(right.empty());
  const std::string wrong = "wrong-" + right.substr(0, 12) + "-x7Q";
  const auto wrong_file = server().dir() / "wrong.password";
  {
    std::ofstream out(wrong_file);
    out << wrong << "\n";
  }
  auto c = open(wrong_file);
  ASSERT_FALSE(c);
  const Error e = c.error();
  EXPECT_EQ(e.kind, ErrorKind::authentication) << kind_name(e.kind);
  EXPECT_FALSE(e.message.empty());
  for (const std::string& secret : {wrong, right}) {
    EXPECT_FALSE(contains(e.message, secret)) << "the message shows a password";
    EXPECT_FALSE(contains(describe(e), secret)) << "describe() shows a password";
  }

  // No password at all (and none from libpq's own sources): the server asked for one.
  ::unsetenv("PGPASSWORD");
  auto none = Connection::open({.conninfo = server().conninfo(db_) + " passfile=/nonexistent", .password_file = {}});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::authentication) << describe(none.error());

  // A password file that cannot be read is a configuration error, named by its path.
  auto missing = open(server().dir() / "no-such.password");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::other);
  EXPECT_TRUE(contains(missing.error().message, "no-such.password")) << missing.error().message;
}

TEST_F(PgTest, ARoleWithoutRightsGetsInsufficientPrivilege) {
  server().execute("CREATE TABLE secret (x int)", db_);
  const auto reader_password = server().create_role("reader");
  auto c = open(reader_password, "reader");
  ASSERT_TRUE(c) << describe(c.error());

  auto select = exec(*c, "SELECT x FROM secret");
  ASSERT_FALSE(select);
  EXPECT_EQ(select.error().kind, ErrorKind::insufficient_privilege) << describe(select.error());
  EXPECT_EQ(select.error().sqlstate, "42501");
  auto insert = exec_params(*c, "INSERT INTO secret (x) VALUES ($1)", {"1"});
  ASSERT_FALSE(insert);
  EXPECT_EQ(insert.error().kind, ErrorKind::insufficient_privilege) << describe(insert.error());
  // PostgreSQL 15: nobody but the owner creates in the public schema.
  auto create = exec(*c, "CREATE TABLE mine (x int)");
  ASSERT_FALSE(create);
  EXPECT_EQ(create.error().kind, ErrorKind::insufficient_privilege) << describe(create.error());
  EXPECT_TRUE(c->is_connected());

  // Without CONNECT on the database, the refusal comes before the session: from libpq's message.
  server().execute("REVOKE CONNECT ON DATABASE " + db_ + " FROM PUBLIC");
  auto again = c->reconnect();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::insufficient_privilege) << describe(again.error());
  EXPECT_FALSE(c->is_connected());
}

TEST_F(PgTest, UniqueViolationIsClassifiedAndItsMessageHoldsNoValue) {
  server().execute("CREATE TABLE u (k text PRIMARY KEY)", db_);
  Connection c = connect();
  const std::string value = "record-value-4711";
  ASSERT_TRUE(exec_params(c, "INSERT INTO u (k) VALUES ($1)", {value}));
  auto twice = exec_params(c, "INSERT INTO u (k) VALUES ($1)", {value});
  ASSERT_FALSE(twice);
  const Error e = twice.error();
  EXPECT_EQ(e.kind, ErrorKind::unique_violation) << kind_name(e.kind);
  EXPECT_EQ(e.sqlstate, "23505");
  EXPECT_EQ(e.constraint, "u_pkey");
  // The key's value is in the server's DETAIL, which is not kept.
  EXPECT_FALSE(contains(e.message, value)) << "the message quotes the value";
  EXPECT_FALSE(contains(describe(e), value)) << "describe() quotes the value";
  EXPECT_TRUE(exec(c, "SELECT 1")) << "the connection stays usable";
}

TEST_F(PgTest, BadDateInADateColumnIsADataError) {
  server().execute("CREATE TABLE d (day date)", db_);
  Connection c = connect();
  const std::string bad = "2024-02-30";
  auto r = exec_params(c, "INSERT INTO d (day) VALUES ($1)", {bad});
  ASSERT_FALSE(r);
  const Error e = r.error();
  EXPECT_EQ(e.kind, ErrorKind::data) << kind_name(e.kind);
  EXPECT_EQ(e.sqlstate.substr(0, 2), "22");
  // The server's message quotes the value; describe() leaves a data error's message out.
  EXPECT_FALSE(contains(describe(e), bad)) << "describe() quotes the value";
  EXPECT_TRUE(exec_params(c, "INSERT INTO d (day) VALUES ($1)", {"2024-02-29"})) << "the connection stays usable";

  // A NUL byte cannot be sent as text: refused before it is cut short.
  auto nul = exec_params(c, "INSERT INTO d (day) VALUES ($1)", {std::string_view("2024-02-29\0x", 12)});
  ASSERT_FALSE(nul);
  EXPECT_EQ(nul.error().kind, ErrorKind::data);
  auto one = exec(c, "SELECT count(*) FROM d");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->int64(0, 0), 1);
}

TEST_F(PgTest, SerializationAndResourceErrorsAreClassified) {
  server().execute("CREATE TABLE duty (id int PRIMARY KEY, on_call bool); INSERT INTO duty VALUES (1, true), (2, true)",
                   db_);
  Connection a = connect();
  Connection b = connect();
  // Write skew: each reads both rows, then takes a different one off call; the second to commit loses.
  for (Connection* c : {&a, &b}) {
    ASSERT_TRUE(exec(*c, "BEGIN ISOLATION LEVEL SERIALIZABLE"));
    ASSERT_TRUE(exec(*c, "SELECT count(*) FROM duty WHERE on_call"));
  }
  ASSERT_TRUE(exec(a, "UPDATE duty SET on_call = false WHERE id = 1"));
  auto b_update = exec(b, "UPDATE duty SET on_call = false WHERE id = 2");
  ASSERT_TRUE(exec(a, "COMMIT"));
  Error lost;  // from b's UPDATE or, as PostgreSQL reports it here, b's COMMIT
  if (!b_update) {
    lost = b_update.error();
  } else {
    auto b_commit = exec(b, "COMMIT");
    ASSERT_FALSE(b_commit) << "both transactions committed";
    lost = b_commit.error();
  }
  EXPECT_EQ(lost.kind, ErrorKind::serialization) << describe(lost);
  EXPECT_EQ(lost.sqlstate, "40001");
  (void)exec(b, "ROLLBACK");

  // Errors the server raises with a given SQLSTATE come back through the same path.
  const auto raise = [&](const char* sqlstate) {
    auto r = exec(a, std::string("DO $$ BEGIN RAISE EXCEPTION 'test' USING ERRCODE = '") + sqlstate + "'; END $$");
    return r ? ErrorKind::other : r.error().kind;
  };
  EXPECT_EQ(raise("53100"), ErrorKind::disk_full);
  EXPECT_EQ(raise("53200"), ErrorKind::out_of_resources);
  EXPECT_EQ(raise("40P01"), ErrorKind::serialization);
  EXPECT_EQ(raise("28000"), ErrorKind::authentication);
  EXPECT_EQ(raise("22007"), ErrorKind::data);
  EXPECT_EQ(raise("XX000"), ErrorKind::other);
}

TEST_F(PgTest, ResultReadsCellsAsTextNumbersAndBooleans) {
  Connection c = connect();
  auto r = exec(c, "SELECT '-9223372036854775808'::bigint, true, false, NULL::int, ''::text, 'x y'::text, 1.5::float8");
  ASSERT_TRUE(r) << describe(r.error());
  ASSERT_EQ(r->rows(), 1);
  ASSERT_EQ(r->columns(), 7);
  EXPECT_EQ(r->int64(0, 0), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(r->boolean(0, 1), true);
  EXPECT_EQ(r->boolean(0, 2), false);
  EXPECT_TRUE(r->is_null(0, 3));
  EXPECT_EQ(r->int64(0, 3), std::nullopt);
  EXPECT_FALSE(r->is_null(0, 4));
  EXPECT_EQ(r->text(0, 4), "");
  EXPECT_EQ(r->text(0, 5), "x y");
  EXPECT_EQ(r->int64(0, 6), std::nullopt) << "1.5 is not an integer";
  EXPECT_EQ(r->boolean(0, 0), std::nullopt);
  EXPECT_TRUE(r->is_null(1, 0)) << "out of range reads as NULL";
  EXPECT_TRUE(r->is_null(0, 7));

  ASSERT_TRUE(exec(c, "CREATE TABLE n (v int)"));
  auto ins = exec_params(c, "INSERT INTO n SELECT generate_series(1, $1::int)", {"3"});
  ASSERT_TRUE(ins);
  EXPECT_EQ(ins->affected_rows(), 3u);
  auto with_null = exec_params(c, "INSERT INTO n VALUES ($1)", {std::nullopt});
  ASSERT_TRUE(with_null);
  auto nulls = exec(c, "SELECT count(*) FROM n WHERE v IS NULL");
  ASSERT_TRUE(nulls);
  EXPECT_EQ(nulls->int64(0, 0), 1);

  auto nul = exec(c, std::string_view("SELECT 1\0; DROP TABLE n", 23));
  ASSERT_FALSE(nul);
  EXPECT_EQ(nul.error().kind, ErrorKind::other);
}

TEST(PgCopyBuffer, EscapesTheTextFormat) {
  CopyBuffer b;
  b.field("a\tb");
  b.null();
  b.field("c\\d\n\re");
  b.end_row();
  b.field("");
  b.end_row();
  b.null();
  b.end_row();
  EXPECT_EQ(b.data(), "a\\tb\t\\N\tc\\\\d\\n\\re\n\n\\N\n");
  EXPECT_EQ(b.rows(), 3u);
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.rows(), 0u);
}

TEST_F(PgTest, CopyRoundTripsTabsNewlinesBackslashesNullsAndUtf8Exactly) {
  server().execute("CREATE TABLE c (i int, a text, b text)", db_);
  Connection c = connect();

  std::string long_value;
  for (int i = 0; i < 20000; ++i) long_value += "x\t\\\n\r\xc3\xa9";  // several chunks' worth of escapes
  const std::vector<std::string> values = {"plain",
                                           "tab\there",
                                           "new\nline",
                                           "cr\rlf\r\n",
                                           "back\\slash",
                                           "\\N",  // the text, not NULL
                                           "\\.",  // the text, not the end of the data
                                           "",  // empty, not NULL
                                           "\\",
                                           "trailing\\",
                                           " spaces ",
                                           "\x01\x7f control bytes",
                                           "caf\xc3\xa9",
                                           "\xe6\x97\xa5\xe6\x9c\xac",
                                           "\xf0\x9d\x84\x9e clef",
                                           "\\t not a tab",
                                           "a\tb\tc\n\\N\n",
                                           long_value};
  const auto b_of = [](std::size_t i) -> std::optional<std::string> {
    if (i % 3 == 0) return std::nullopt;
    return "b" + std::to_string(i);
  };

  std::size_t next = 0;
  int calls = 0;
  auto copied = copy_in(c, "COPY c (i, a, b) FROM STDIN", [&](CopyBuffer& rows) {
    ++calls;
    for (int n = 0; n < 4 && next < values.size(); ++n, ++next) {  // four rows a chunk
      rows.field(std::to_string(next));
      rows.field(values[next]);
      if (auto b = b_of(next)) rows.field(*b);
      else rows.null();
      rows.end_row();
    }
    return next < values.size() ? Chunk::more : Chunk::last;
  });
  ASSERT_TRUE(copied) << describe(copied.error());
  EXPECT_EQ(*copied, values.size());
  EXPECT_GT(calls, 1);

  auto r = exec(c, "SELECT i, a, b FROM c ORDER BY i");
  ASSERT_TRUE(r) << describe(r.error());
  ASSERT_EQ(r->rows(), static_cast<int>(values.size()));
  for (int row = 0; row < r->rows(); ++row) {
    const auto i = static_cast<std::size_t>(row);
    EXPECT_EQ(r->int64(row, 0), row);
    EXPECT_FALSE(r->is_null(row, 1)) << "row " << row << ": a text became NULL";
    EXPECT_TRUE(r->text(row, 1) == values[i]) << "row " << row << ": a differs";
    const auto b = b_of(i);
    EXPECT_EQ(r->is_null(row, 2), !b.has_value()) << "row " << row;
    if (b) {
      EXPECT_TRUE(r->text(row, 2) == *b) << "row " << row << ": b differs";
    }
  }
}

TEST_F(PgTest, FailedOrAbandonedCopyStoresNothingAndLeavesTheConnectionUsable) {
  server().execute("CREATE TABLE c (i int, a text)", db_);
  Connection c = connect();
  const auto count = [&] {
    auto r = exec(c, "SELECT count(*) FROM c");
    return r ? r->int64(0, 0).value_or(-1) : -1;
  };

  // A value the column's type refuses, after good rows: a data error, and none of the rows.
  auto bad = copy_in(c, "COPY c (i, a) FROM STDIN", [](CopyBuffer& rows) {
    for (const char* i : {"1", "2", "three", "4"}) {
      rows.field(i);
      rows.field("v");
      rows.end_row();
    }
    return Chunk::last;
  });
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::data) << kind_name(bad.error().kind);
  EXPECT_EQ(count(), 0);

  // Abandoned by the writer after a first chunk went out.
  int calls = 0;
  auto abandoned = copy_in(c, "COPY c (i, a) FROM STDIN", [&](CopyBuffer& rows) {
    rows.field(std::to_string(++calls));
    rows.field("v");
    rows.end_row();
    return calls < 2 ? Chunk::more : Chunk::abandon;
  });
  ASSERT_FALSE(abandoned);
  EXPECT_EQ(abandoned.error().kind, ErrorKind::other);
  EXPECT_EQ(count(), 0);

  // The writer throws: the exception is the caller's, the connection is ended out of COPY.
  EXPECT_THROW(copy_in(c, "COPY c (i, a) FROM STDIN", [](CopyBuffer&) -> Chunk { throw std::runtime_error("x"); }),
               std::runtime_error);
  EXPECT_EQ(count(), 0);

  // Not a COPY FROM STDIN, and COPY through exec: refused, connection still usable.
  EXPECT_FALSE(copy_in(c, "SELECT 1", [](CopyBuffer&) { return Chunk::last; }));
  EXPECT_FALSE(exec(c, "COPY c (i, a) FROM STDIN"));
  EXPECT_FALSE(exec(c, "COPY c TO STDOUT"));
  auto good = copy_in(c, "COPY c (i, a) FROM STDIN", [](CopyBuffer& rows) {
    rows.field("7");
    rows.null();
    rows.end_row();
    return Chunk::last;
  });
  ASSERT_TRUE(good) << describe(good.error());
  EXPECT_EQ(*good, 1u);
  EXPECT_EQ(count(), 1);
}

TEST_F(PgTest, QuoteIdentifierKeepsADoubleQuoteInAName) {
  EXPECT_EQ(quote_identifier("plain"), "\"plain\"");
  EXPECT_EQ(quote_identifier("a\"b"), "\"a\"\"b\"");
  EXPECT_EQ(quote_identifier(""), "\"\"");

  Connection c = connect();
  ASSERT_TRUE(exec(c, "CREATE TABLE x (v int)"));
  const std::string name = "we\"ird\"; DROP TABLE x; --";
  auto created = exec(c, "CREATE TABLE " + quote_identifier(name) + " (v int)");
  ASSERT_TRUE(created) << describe(created.error());
  ASSERT_TRUE(exec(c, "INSERT INTO " + quote_identifier(name) + " VALUES (1)"));
  auto found = exec_params(c, "SELECT table_name FROM information_schema.tables WHERE table_name = $1", {name});
  ASSERT_TRUE(found);
  ASSERT_EQ(found->rows(), 1);
  EXPECT_EQ(found->text(0, 0), name);
  auto x = exec(c, "SELECT count(*) FROM x");
  EXPECT_TRUE(x) << "the table named in the identifier was dropped";
}

TEST_F(PgTest, ATerminatedSessionIsUnavailableUntilReconnected) {
  Connection c = connect();
  const int pid = c.backend_pid();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(server().query_value("SELECT pg_terminate_backend(" + std::to_string(pid) + ")::text"), "true");
  // pg_terminate_backend returns once the signal is sent; the backend's exit is what we wait on.
  ASSERT_TRUE(test_support::eventually([&] {
    return server().query_value("SELECT count(*)::text FROM pg_stat_activity WHERE pid = " + std::to_string(pid)) ==
           "0";
  }));
  auto r = exec(c, "SELECT 1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::unavailable) << describe(r.error());
  EXPECT_FALSE(c.is_connected());
  auto again = exec(c, "SELECT 1");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::unavailable);

  ASSERT_TRUE(c.reconnect()) << "reconnect";
  EXPECT_TRUE(c.is_connected());
  EXPECT_NE(c.backend_pid(), pid);
  auto one = exec(c, "SELECT current_setting('TimeZone')");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->text(0, 0), "UTC");
}

// The shared server is stopped, killed and started again; it runs again however the test ends.
TEST(PgRestart, LostConnectionIsUnavailableAndReconnectWorksAfterTheServerReturns) {
  ASSERT_NE(shared_server(), nullptr);
  struct Restart {
    ~Restart() {
      try {
        if (!shared_server()->running()) shared_server()->start();
      } catch (const std::exception& e) {
        ADD_FAILURE() << "cannot start the server again: " << e.what();
      }
    }
  } restart;
  PostgresServer& server = *shared_server();
  server.create_database("restart_hub");
  auto opened = Connection::open({.conninfo = server.conninfo("restart_hub"), .password_file = server.password_file()});
  ASSERT_TRUE(opened) << describe(opened.error());
  Connection c = std::move(*opened);
  ASSERT_TRUE(exec(c, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (1)"));
  const pid_t first = server.pid();
  ASSERT_GT(first, 0);

  EXPECT_EQ(server.stop(), 0) << "a fast shutdown ends cleanly\n" << server.log();
  EXPECT_EQ(server.pid(), -1);
  auto r = exec(c, "SELECT 1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::unavailable) << describe(r.error());
  EXPECT_FALSE(c.is_connected());
  auto down = c.reconnect();
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().kind, ErrorKind::unavailable) << describe(down.error());

  server.start();
  EXPECT_GT(server.pid(), 0);
  auto up = c.reconnect();
  ASSERT_TRUE(up) << describe(up.error());
  auto kept = exec(c, "SELECT count(*) FROM kept");
  ASSERT_TRUE(kept) << describe(kept.error());
  EXPECT_EQ(kept->int64(0, 0), 1);

  // Killed outright: the same from the client's side, and crash recovery keeps what was committed.
  ASSERT_TRUE(exec(c, "INSERT INTO kept VALUES (2)"));
  server.kill();
  auto lost = exec(c, "SELECT 1");
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().kind, ErrorKind::unavailable) << describe(lost.error());
  server.start();
  ASSERT_TRUE(c.reconnect());
  auto after = exec(c, "SELECT count(*) FROM kept");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->int64(0, 0), 2);
}

TEST(PgErrors, SqlstatesMapToKinds) {
  EXPECT_EQ(classify("28P01"), ErrorKind::authentication);
  EXPECT_EQ(classify("28000"), ErrorKind::authentication);
  EXPECT_EQ(classify("42501"), ErrorKind::insufficient_privilege);
  EXPECT_EQ(classify("23505"), ErrorKind::unique_violation);
  EXPECT_EQ(classify("23503"), ErrorKind::other);
  EXPECT_EQ(classify("53100"), ErrorKind::disk_full);
  EXPECT_EQ(classify("53300"), ErrorKind::out_of_resources);
  EXPECT_EQ(classify("22008"), ErrorKind::data);
  EXPECT_EQ(classify("22P02"), ErrorKind::data);
  EXPECT_EQ(classify("40001"), ErrorKind::serialization);
  EXPECT_EQ(classify("40P01"), ErrorKind::serialization);
  EXPECT_EQ(classify("40002"), ErrorKind::other);
  EXPECT_EQ(classify("08006"), ErrorKind::unavailable);
  EXPECT_EQ(classify("57P01"), ErrorKind::unavailable);
  EXPECT_EQ(classify("57014"), ErrorKind::other);
  EXPECT_EQ(classify(""), ErrorKind::other);
  EXPECT_EQ(classify("2"), ErrorKind::other);

  const Error data{ErrorKind::data, "22007", "invalid input syntax for type date: \"2024-99-99\"", {}};
  EXPECT_EQ(describe(data), "data (22007)");
  const Error unique{ErrorKind::unique_violation, "23505", "duplicate key value violates unique constraint \"u_pkey\"",
                     "u_pkey"};
  EXPECT_EQ(describe(unique), "unique_violation (23505): duplicate key value violates unique constraint \"u_pkey\"");
}

}  // namespace
}  // namespace svd::hub::pg
