#include "hub/pg_store.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <latch>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "hub/detail/pg.h"
#include "hub/sqlite_store.h"
#include "tests/hub/store_contract.h"
#include "tests/support/eventually.h"
#include "tests/support/postgres_server.h"
#include "tests/support/temp_dir.h"

// The store contract (store_contract.h) and what only the PostgreSQL store does, against one real
// server for the whole executable, each test in a database of its own. Tests that stop the server
// start it again before they end. Passwords and record values never go to the output: a
// comparison involving one says what differs, not the value.

namespace svd::hub {
namespace {

namespace fs = std::filesystem;
using test_support::contains;
using test_support::eventually;
using test_support::PostgresServer;
using test_support::read_line;
using test_support::shared_server;

[[maybe_unused]] ::testing::Environment* const g_environment = test_support::use_shared_server();

std::string fresh_database() {
  static int n = 0;
  const std::string name = "store_" + std::to_string(++n);
  shared_server()->create_database(name);
  return name;
}

config::StoreConfig pg_config(const std::string& db, const std::string& user = {}, const fs::path& password = {}) {
  config::StoreConfig c;
  c.backend = config::StoreBackend::postgresql;
  c.conninfo = shared_server()->conninfo(db, user);
  c.password_file = password.empty() ? shared_server()->password_file() : password;
  return c;
}

// The first value of `sql` in `db` as an integer, from a connection of its own; -1 on any error.
std::int64_t query_int(const std::string& db, const std::string& sql) {
  try {
    const auto v = shared_server()->query_value(sql, db);
    return v ? std::stoll(*v) : -1;
  } catch (const std::exception&) {
    return -1;
  }
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = text.find(separator, start);
    out.push_back(text.substr(start, end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

// PostgreSQL's type names as the contract spells them (sql_type()).
std::string contract_type(const std::string& pg_type) {
  if (pg_type == "bigint") return "BIGINT";
  if (pg_type == "text") return "TEXT";
  if (pg_type == "double precision") return "DOUBLE PRECISION";
  if (pg_type == "boolean") return "BOOLEAN";
  if (pg_type == "date") return "DATE";
  if (pg_type == "timestamp with time zone") return "TIMESTAMPTZ";
  if (pg_type == "time without time zone") return "TIME";
  return "unexpected type " + pg_type;
}

class PgBackend final : public StoreBackend {
 public:
  std::string name() const override { return "postgresql"; }
  void reset() override { db_ = fresh_database(); }
  const std::string& db() const { return db_; }
  store_result<std::unique_ptr<Store>> open(std::vector<FeedTable> feeds) override {
    auto s = PgStore::open(pg_config(db_), std::move(feeds), {.application_name = "svdhub-contract"});
    if (!s) return s.error();
    return std::unique_ptr<Store>(std::move(*s));
  }
  std::int64_t committed(const std::string& sql) override { return query_int(db_, sql); }
  std::vector<std::string> indexes(const std::string& table) override {
    const auto v = shared_server()->query_value(
        "SELECT coalesce(string_agg(d, ';' ORDER BY d), '') FROM (SELECT (SELECT string_agg(pg_get_indexdef("
        "i.indexrelid, k, true), ',' ORDER BY k) FROM generate_series(1, i.indnatts) k) AS d FROM pg_index i "
        "WHERE i.indrelid = to_regclass('" + table + "')) s",
        db_);
    return split(v.value_or(""), ';');
  }
  std::vector<std::pair<std::string, std::string>> columns(const std::string& table) override {
    const auto v = shared_server()->query_value(
        "SELECT coalesce(string_agg(a.attname || ':' || format_type(a.atttypid, a.atttypmod), ';' ORDER BY "
        "a.attnum), '') FROM pg_attribute a WHERE a.attrelid = to_regclass('" + table +
            "') AND a.attnum > 0 AND NOT a.attisdropped",
        db_);
    std::vector<std::pair<std::string, std::string>> out;
    for (const std::string& c : split(v.value_or(""), ';')) {
      const auto colon = c.find(':');
      out.emplace_back(c.substr(0, colon), contract_type(c.substr(colon + 1)));
    }
    return out;
  }
  std::string received_at_type() const override { return "TIMESTAMPTZ"; }

 private:
  std::string db_;
};

PgBackend pg_backend;
INSTANTIATE_TEST_SUITE_P(Postgresql, StoreContract, ::testing::Values(&pg_backend), backend_name);

// --- What only the PostgreSQL store has -----------------------------------------------------

std::string links_record(int n, int person) {
  return "{\"n\":" + std::to_string(n) + ",\"s\":\"r\",\"person_token\":\"" + token("k1", person) + " " +
         token("k2", person + 5000) + "\"}\n";
}

class PgStoreTest : public StoreContract {
 protected:
  void SetUp() override {
    ASSERT_NE(shared_server(), nullptr);
    ASSERT_TRUE(shared_server()->running()) << "an earlier test left the server stopped";
    pg_backend.reset();
    db_ = pg_backend.db();
  }

  store_result<std::unique_ptr<PgStore>> open_pg(std::vector<FeedTable> feeds, const std::string& name = "svdhub-test",
                                                 config::StoreConfig config = {}) {
    if (config.conninfo.empty()) config = pg_config(db_);
    return PgStore::open(config, std::move(feeds), {.application_name = name});
  }
  std::unique_ptr<PgStore> must_open(std::vector<FeedTable> feeds, const std::string& name = "svdhub-test") {
    auto s = open_pg(std::move(feeds), name);
    if (!s) throw std::runtime_error("cannot open the store: " + s.error().message);
    return std::move(*s);
  }
  static FeedTable links_table() { return ed_table({{"person_token", ColumnType::text, "person"}}); }

  std::int64_t committed(const std::string& sql) { return query_int(db_, sql); }

  // A connection of the test's own, as the superuser, to the test's database.
  pg::Connection connect() {
    auto c = pg::Connection::open({.conninfo = shared_server()->conninfo(db_),
                                   .password_file = shared_server()->password_file(),
                                   .application_name = "svdhub-test-locker"});
    if (!c) throw std::runtime_error("cannot connect: " + pg::describe(c.error()));
    return std::move(*c);
  }
  // Whether the session of server process `pid` waits for a lock (a table's, or another
  // transaction's, as an INSERT that meets an uncommitted key does).
  static bool waits_for_a_lock(int pid) {
    return query("SELECT count(*)::text FROM pg_stat_activity WHERE pid = " + std::to_string(pid) +
                 " AND wait_event_type = 'Lock'") == "1";
  }
  static bool session_gone(int pid) {
    return query("SELECT count(*)::text FROM pg_stat_activity WHERE pid = " + std::to_string(pid)) == "0";
  }
  // A value from the server, nullopt on any error: it never throws, so a test may call it while
  // a thread of its own waits on the server.
  static std::optional<std::string> query(const std::string& sql) {
    try {
      return shared_server()->query_value(sql);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  std::int64_t link_chains() {
    return committed(
        "SELECT COUNT(*) FROM token_links a JOIN token_links b ON a.kind = b.kind AND a.new_token = b.old_token");
  }

  std::string db_;
};

// Stops the shared server for a test and starts it again however the test ends.
struct RestartGuard {
  ~RestartGuard() {
    try {
      if (!shared_server()->running()) shared_server()->start();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cannot start the server again: " << e.what();
    }
  }
};

TEST_F(PgStoreTest, AnInstanceStoringABatchAnotherHoldsUncommittedWaitsAndFindsItADuplicate) {
  auto a = must_open({ed_table()}, "svdhub-a");
  auto b = must_open({ed_table()}, "svdhub-b");
  const std::vector<PendingBatch> group{{"northgate-ed", batch(0, records(3))}, {"northgate-ed", batch(1, records(2))}};
  const int a_pid = a->backend_pid(), b_pid = b->backend_pid();

  // A's COPY waits for the table while its transaction holds both batches' rows, uncommitted.
  pg::Connection locker = connect();
  ASSERT_TRUE(pg::exec(locker, "BEGIN; LOCK TABLE records_ed_assaults IN ACCESS EXCLUSIVE MODE"));
  result<std::vector<BatchOutcome>> a_out = std::vector<BatchOutcome>{}, b_out = std::vector<BatchOutcome>{};
  std::thread ta([&] { a_out = a->store_group(group); });
  const bool a_waits = eventually([&] { return waits_for_a_lock(a_pid); });
  // B meets A's rows and waits for A's transaction to end.
  std::thread tb([&] { b_out = b->store_group(group); });
  const bool b_waits = eventually([&] { return waits_for_a_lock(b_pid); });
  const bool released = static_cast<bool>(pg::exec(locker, "COMMIT"));
  ta.join();
  tb.join();
  ASSERT_TRUE(released);
  ASSERT_TRUE(a_waits) << "A did not wait for the table";
  ASSERT_TRUE(b_waits) << "B did not wait for A";
  ASSERT_TRUE(a_out);
  ASSERT_TRUE(b_out);
  ASSERT_EQ(a_out->size(), group.size());
  ASSERT_EQ(b_out->size(), group.size());
  for (std::size_t i = 0; i < group.size(); ++i) {
    EXPECT_EQ((*a_out)[i].value(), protocol::ReceiptStatus::accepted) << i;
    EXPECT_EQ((*b_out)[i].value(), protocol::ReceiptStatus::duplicate) << i;
  }
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 5);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM batches"), 2);
}

TEST_F(PgStoreTest, WhenTheInstanceHoldingABatchFailsTheWaitingOneStoresIt) {
  auto a = must_open({ed_table()}, "svdhub-a");
  auto b = must_open({ed_table()}, "svdhub-b");
  const std::vector<PendingBatch> group{{"northgate-ed", batch(0, records(3))}, {"northgate-ed", batch(1, records(2))}};
  const int a_pid = a->backend_pid(), b_pid = b->backend_pid();

  pg::Connection locker = connect();
  ASSERT_TRUE(pg::exec(locker, "BEGIN; LOCK TABLE records_ed_assaults IN ACCESS EXCLUSIVE MODE"));
  result<std::vector<BatchOutcome>> a_out = std::vector<BatchOutcome>{}, b_out = std::vector<BatchOutcome>{};
  std::thread ta([&] { a_out = a->store_group(group); });
  const bool a_waits = eventually([&] { return waits_for_a_lock(a_pid); });
  std::thread tb([&] { b_out = b->store_group(group); });
  const bool b_waits = eventually([&] { return waits_for_a_lock(b_pid); });
  // A's session ends (its instance died): its transaction rolls back, and B inserts the rows.
  const auto terminated = query("SELECT pg_terminate_backend(" + std::to_string(a_pid) + ")::text");
  ta.join();
  const bool released = static_cast<bool>(pg::exec(locker, "COMMIT"));
  tb.join();
  ASSERT_TRUE(released);
  ASSERT_TRUE(a_waits) << "A did not wait for the table";
  ASSERT_TRUE(b_waits) << "B did not wait for A";
  EXPECT_EQ(terminated, "true");
  ASSERT_FALSE(a_out);
  EXPECT_EQ(a_out.error(), errc::io_error);
  ASSERT_TRUE(b_out);
  ASSERT_EQ(b_out->size(), group.size());
  for (const auto& o : *b_out) EXPECT_EQ(o.value(), protocol::ReceiptStatus::accepted);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 5);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM batches"), 2);
  // A's next group connects again and finds them stored.
  auto again = a->store_group(group);
  ASSERT_TRUE(again);
  for (const auto& o : *again) EXPECT_EQ(o.value(), protocol::ReceiptStatus::duplicate);
}

// A trigger of the test's on `table` that holds a transaction's `row`th row inserted (before it
// is; 0: each statement, after it ran) for as long as the test holds advisory lock `key`
// (pg_advisory_lock on a connection of its own). In a statement-level trigger NEW is NULL.
void install_gate(const std::string& db, const std::string& table, int row, int key) {
  const std::string name = "test_gate_" + table;
  const std::string count = "coalesce(nullif(current_setting('svdtest.rows_" + table + "', true), ''), '0')::int + 1";
  const std::string held = row == 0 ? "true" : "n = " + std::to_string(row);
  shared_server()->execute(
      "CREATE FUNCTION " + name + "() RETURNS trigger LANGUAGE plpgsql AS $$ DECLARE n int := " + count +
          "; BEGIN PERFORM set_config('svdtest.rows_" + table + "', n::text, true); IF " + held +
          " THEN PERFORM pg_advisory_lock_shared(" + std::to_string(key) +
          "); PERFORM pg_advisory_unlock_shared(" + std::to_string(key) +
          "); END IF; RETURN NEW; END $$; CREATE TRIGGER " + name + " " +
          (row == 0 ? "AFTER INSERT OR UPDATE ON " + table + " FOR EACH STATEMENT"
                    : "BEFORE INSERT ON " + table + " FOR EACH ROW") +
          " EXECUTE FUNCTION " + name + "()",
      db);
}

// Two instances given the same batches in opposite orders: each inserts the first and is held
// at the second, so had they inserted in their own orders, each would wait for the other
// (a deadlock, which PostgreSQL breaks by failing one group).
TEST_F(PgStoreTest, TwoInstancesGivenTheSameBatchesInOppositeOrdersDoNotDeadlock) {
  auto a = must_open({ed_table()}, "svdhub-a");
  auto b = must_open({ed_table()}, "svdhub-b");
  install_gate(db_, "batches", 2, 4242);
  const auto b0 = batch(0, records(2)), b1 = batch(1, records(3));
  const std::vector<PendingBatch> forward{{"northgate-ed", b0}, {"northgate-ed", b1}};
  const std::vector<PendingBatch> backward{{"northgate-ed", b1}, {"northgate-ed", b0}};
  const int a_pid = a->backend_pid(), b_pid = b->backend_pid();
  pg::Connection gate = connect();
  ASSERT_TRUE(pg::exec(gate, "SELECT pg_advisory_lock(4242)"));
  result<std::vector<BatchOutcome>> a_out = std::vector<BatchOutcome>{}, b_out = std::vector<BatchOutcome>{};
  std::thread ta([&] { a_out = a->store_group(forward); });
  std::thread tb([&] { b_out = b->store_group(backward); });
  const bool both_held = eventually([&] { return waits_for_a_lock(a_pid) && waits_for_a_lock(b_pid); });
  const bool released = static_cast<bool>(pg::exec(gate, "SELECT pg_advisory_unlock(4242)"));
  ta.join();
  tb.join();
  ASSERT_TRUE(released);
  ASSERT_TRUE(both_held);
  ASSERT_TRUE(a_out) << "a group failed: a deadlock?";
  ASSERT_TRUE(b_out) << "a group failed: a deadlock?";
  ASSERT_EQ(a_out->size(), 2u);
  ASSERT_EQ(b_out->size(), 2u);
  // Whichever inserted the first key stores both; the other finds both stored.
  const bool a_first = (*a_out)[0].value() == protocol::ReceiptStatus::accepted;
  EXPECT_EQ((*a_out)[1].value(), (*a_out)[0].value());
  for (const auto& o : *b_out)
    EXPECT_EQ(o.value(), a_first ? protocol::ReceiptStatus::duplicate : protocol::ReceiptStatus::accepted);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 5);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM batches"), 2);
}

// A links k1 -> k2 for a person while B links k2 -> k3 for the same person. B must see A's link
// (and move it on to k3), so it waits for A's commit to read the links.
TEST_F(PgStoreTest, LinksWrittenByTwoInstancesAtOnceStillPointAtTheNewestToken) {
  auto a = must_open({links_table()}, "svdhub-a");
  auto b = must_open({links_table()}, "svdhub-b");
  install_gate(db_, "token_links", 0, 4243);  // holds A with its links written, uncommitted
  const int p = 77;
  const auto first = batch(0, "{\"n\":1,\"person_token\":\"" + token("k1", p) + " " + token("k2", p) + "\"}\n",
                           "ed-assaults", {"k1", "k2"});
  const auto second = batch(1, "{\"n\":2,\"person_token\":\"" + token("k2", p) + " " + token("k3", p) + "\"}\n",
                            "ed-assaults", {"k2", "k3"});
  const int a_pid = a->backend_pid(), b_pid = b->backend_pid();
  pg::Connection gate = connect();
  ASSERT_TRUE(pg::exec(gate, "SELECT pg_advisory_lock(4243)"));
  result<protocol::ReceiptStatus> a_out = errc::io_error, b_out = errc::io_error;
  std::thread ta([&] { a_out = a->store("northgate-ed", first); });
  const bool a_held = eventually([&] { return waits_for_a_lock(a_pid); });
  std::thread tb([&] { b_out = b->store("northgate-ed", second); });
  const bool b_waits = eventually([&] { return waits_for_a_lock(b_pid); });
  const bool released = static_cast<bool>(pg::exec(gate, "SELECT pg_advisory_unlock(4243)"));
  ta.join();
  tb.join();
  ASSERT_TRUE(released);
  ASSERT_TRUE(a_held);
  ASSERT_TRUE(b_waits);
  EXPECT_EQ(a_out.value(), protocol::ReceiptStatus::accepted);
  EXPECT_EQ(b_out.value(), protocol::ReceiptStatus::accepted);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM token_links WHERE new_token = '" + token("k3", p) + "'"), 2);
  EXPECT_EQ(link_chains(), 0);
  EXPECT_EQ(committed("SELECT COUNT(DISTINCT person_token) FROM records_ed_assaults_linked"), 1);
}

TEST_F(PgStoreTest, TwoInstancesRacingOnTheSameBatchesStoreEachOnceWithTheirLinks) {
  auto a = must_open({links_table()}, "svdhub-a");
  auto b = must_open({links_table()}, "svdhub-b");
  constexpr int kBatches = 60, kRecords = 20, kPeople = 37;
  std::vector<PendingBatch> all;
  for (int i = 0; i < kBatches; ++i) {
    std::string r;
    for (int k = 0; k < kRecords; ++k) r += links_record(k, (i * kRecords + k) % kPeople);
    all.push_back({"northgate-ed", batch(static_cast<std::uint64_t>(i), r, "ed-assaults", {"k1", "k2"})});
  }
  // A in order, five at a time; B backwards, seven at a time: the groups overlap in every way.
  std::vector<std::optional<BatchOutcome>> a_out(kBatches), b_out(kBatches);
  std::atomic<int> failures{0};
  std::latch start(2);
  std::thread ta([&] {
    start.arrive_and_wait();
    for (int first = 0; first < kBatches; first += 5) {
      std::vector<PendingBatch> group(all.begin() + first, all.begin() + std::min(first + 5, kBatches));
      auto out = a->store_group(group);
      if (!out) ++failures;
      else
        for (std::size_t k = 0; k < out->size(); ++k) a_out[static_cast<std::size_t>(first) + k] = (*out)[k];
    }
  });
  std::thread tb([&] {
    start.arrive_and_wait();
    for (int last = kBatches; last > 0; last -= 7) {
      const int first = std::max(0, last - 7);
      std::vector<PendingBatch> group(all.begin() + first, all.begin() + last);
      std::reverse(group.begin(), group.end());
      auto out = b->store_group(group);
      if (!out) ++failures;
      else
        for (std::size_t k = 0; k < out->size(); ++k) b_out[static_cast<std::size_t>(last - 1) - k] = (*out)[k];
    }
  });
  ta.join();
  tb.join();
  ASSERT_EQ(failures.load(), 0) << "a group failed (a deadlock, or a serialization failure)";
  for (std::size_t i = 0; i < kBatches; ++i) {
    ASSERT_TRUE(a_out[i] && b_out[i]) << i;
    ASSERT_TRUE(*a_out[i] && *b_out[i]) << i;
    const bool a_stored = a_out[i]->value() == protocol::ReceiptStatus::accepted;
    const bool b_stored = b_out[i]->value() == protocol::ReceiptStatus::accepted;
    EXPECT_NE(a_stored, b_stored) << "batch " << i << " must be accepted by exactly one instance";
  }
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), kBatches * kRecords);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM batches"), kBatches);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM token_links"), kPeople);
  EXPECT_EQ(link_chains(), 0);
  EXPECT_EQ(committed("SELECT COUNT(DISTINCT person_token) FROM records_ed_assaults_linked"), kPeople);
}

TEST_F(PgStoreTest, TwoInstancesSharingThePartnersOutStoreAllOfBoth) {
  auto a = must_open({links_table()}, "svdhub-a");
  auto b = must_open({links_table()}, "svdhub-b");
  constexpr int kBatches = 30, kRecords = 25, kPeople = 23;
  std::vector<PendingBatch> north, south;
  for (int i = 0; i < kBatches; ++i) {
    std::string r;
    for (int k = 0; k < kRecords; ++k) r += links_record(k, (i + k) % kPeople);  // the same people at both
    const auto b_i = batch(static_cast<std::uint64_t>(i), r, "ed-assaults", {"k1", "k2"});
    north.push_back({"northgate-ed", b_i});
    south.push_back({"southgate-ed", b_i});
  }
  std::atomic<int> accepted{0}, other{0};
  std::latch start(2);
  auto run = [&](PgStore& store, const std::vector<PendingBatch>& mine) {
    start.arrive_and_wait();
    for (std::size_t first = 0; first < mine.size(); first += 6) {
      const auto end = std::min(first + 6, mine.size());
      const std::vector<PendingBatch> group(mine.begin() + static_cast<std::ptrdiff_t>(first),
                                           mine.begin() + static_cast<std::ptrdiff_t>(end));
      auto out = store.store_group(group);
      if (!out) {
        other += static_cast<int>(group.size());
        continue;
      }
      for (const auto& o : *out) (o && *o == protocol::ReceiptStatus::accepted ? accepted : other)++;
    }
  };
  std::thread ta(run, std::ref(*a), std::cref(north));
  std::thread tb(run, std::ref(*b), std::cref(south));
  ta.join();
  tb.join();
  EXPECT_EQ(accepted.load(), 2 * kBatches);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults WHERE _partner = 'northgate-ed'"), kBatches * kRecords);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults WHERE _partner = 'southgate-ed'"), kBatches * kRecords);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM token_links"), kPeople);
  EXPECT_EQ(link_chains(), 0);
}

TEST_F(PgStoreTest, InstancesStartingTogetherMakeTheTablesOnce) {
  const std::vector<FeedTable> feeds{links_table(), table("death-reports", {{"n", ColumnType::integer, ""}}),
                                     table("custody", {{"at", ColumnType::timestamp, ""}})};
  constexpr int kInstances = 4;
  std::vector<std::optional<StoreError>> errors(kInstances);
  std::vector<std::unique_ptr<PgStore>> stores(kInstances);
  std::latch start(kInstances);
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i)
    threads.emplace_back([&, i] {
      const auto n = static_cast<std::size_t>(i);
      start.arrive_and_wait();
      auto s = open_pg(feeds, "svdhub-" + std::to_string(i));
      if (s) stores[n] = std::move(*s);
      else errors[n] = s.error();
    });
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_FALSE(e) << e->message;
  EXPECT_EQ(committed("SELECT COUNT(*) FROM pg_class WHERE relname LIKE 'records_%' AND relkind = 'r'"), 3);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM pg_class WHERE relname LIKE 'records_%_linked' AND relkind = 'v'"), 3);
  ASSERT_TRUE(stores[0]);
  EXPECT_EQ(stores[0]->store("northgate-ed", batch(0, "{\"n\":1}\n")).value(), protocol::ReceiptStatus::accepted);
}

TEST_F(PgStoreTest, TheServerKilledMidGroupStoresNothingAndTheResentGroupIsStoredOnce) {
  RestartGuard guard;
  auto a = must_open({links_table()});
  const std::vector<PendingBatch> group{
      {"northgate-ed", batch(0, records(200))},
      {"northgate-ed", batch(1, "{\"nope\":1}\n")},
      {"northgate-ed", batch(2, links_record(1, 7) + links_record(2, 8), "ed-assaults", {"k1", "k2"})},
  };
  const int pid = a->backend_pid();
  pg::Connection locker = connect();
  ASSERT_TRUE(pg::exec(locker, "BEGIN; LOCK TABLE records_ed_assaults IN ACCESS EXCLUSIVE MODE"));
  result<std::vector<BatchOutcome>> out = std::vector<BatchOutcome>{};
  std::thread t([&] { out = a->store_group(group); });
  // The group's batches are inserted, its COPY is waiting: the server dies now. Killed, not
  // stopped: a fast shutdown ends the sessions one by one, so the locker's could end first and
  // let the group commit before its own session is ended.
  const bool waiting = eventually([&] { return waits_for_a_lock(pid); });
  shared_server()->kill();
  t.join();
  ASSERT_TRUE(waiting);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error(), errc::io_error);

  // While it is down, each group fails at once: the store tries to connect, and cannot.
  auto down = a->store_group(group);
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error(), errc::io_error);
  EXPECT_EQ(a->backend_pid(), 0);

  shared_server()->start();
  EXPECT_EQ(committed("SELECT COUNT(*) FROM batches"), 0) << "nothing of the group may be committed";
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 0);
  auto resent = a->store_group(group);
  ASSERT_TRUE(resent);
  EXPECT_EQ((*resent)[0].value(), protocol::ReceiptStatus::accepted);
  EXPECT_EQ((*resent)[1].error(), errc::bad_record);
  EXPECT_EQ((*resent)[2].value(), protocol::ReceiptStatus::accepted);
  auto again = a->store_group(group);
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)[0].value(), protocol::ReceiptStatus::duplicate);
  EXPECT_EQ((*again)[2].value(), protocol::ReceiptStatus::duplicate);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 202);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM batches"), 2);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM token_links"), 2);
}

TEST_F(PgStoreTest, AConnectionLostWhileIdleIsOpenedAgainByTheNextGroup) {
  auto a = must_open({ed_table()});
  const int pid = a->backend_pid();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(shared_server()->query_value("SELECT pg_terminate_backend(" + std::to_string(pid) + ")::text"), "true");
  ASSERT_TRUE(eventually([&] { return session_gone(pid); }));
  EXPECT_EQ(a->store("northgate-ed", batch(0, records(2))).value(), protocol::ReceiptStatus::accepted);
  EXPECT_NE(a->backend_pid(), pid);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 2);
}

int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  const bool ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  if (fd >= 0) ::close(fd);
  if (!ok) throw std::runtime_error("cannot find a free port");
  return ntohs(addr.sin_port);  // nothing listens there once the socket is closed
}

TEST_F(PgStoreTest, AnUnreachableServerIsUnavailable) {
  config::StoreConfig c = pg_config(db_);
  c.conninfo = "host=127.0.0.1 port=" + std::to_string(closed_port()) + " dbname=" + db_ +
               " user=svd_super sslmode=disable";
  auto s = open_pg({ed_table()}, "svdhub-test", c);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, errc::io_error);
  EXPECT_EQ(s.error().cause, StoreCause::unavailable) << s.error().message;

  // A database that does not exist is a configuration error: waiting will not make it.
  c = pg_config("no_such_database");
  auto missing = open_pg({ed_table()}, "svdhub-test", c);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().cause, StoreCause::other) << missing.error().message;
}

TEST_F(PgStoreTest, AWrongPasswordIsAnAuthenticationErrorThatDoesNotShowIt) {
  const std::string right = read_line(shared_server()->password_file());
  ASSERT_FALSE(right.empty());
  const std::string wrong = "wrong-" + right.substr(0, 10) + "-Zq9";
  test_support::TempDir tmp("svd-pgstore");
  const fs::path wrong_file = tmp / "wrong.password";
  {
    std::ofstream out(wrong_file);
    out << wrong << "\n";
  }
  auto s = open_pg({ed_table()}, "svdhub-test", pg_config(db_, {}, wrong_file));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, errc::io_error);
  EXPECT_EQ(s.error().cause, StoreCause::authentication);
  EXPECT_TRUE(contains(s.error().message, "password authentication failed")) << s.error().message;
  EXPECT_FALSE(contains(s.error().message, wrong)) << "the message shows the password tried";
  EXPECT_FALSE(contains(s.error().message, right)) << "the message shows the password";
}

TEST_F(PgStoreTest, ARoleThatMayNotCreateTablesGetsAClearError) {
  const fs::path password = shared_server()->create_role("hub_no_create");
  auto s = open_pg({ed_table()}, "svdhub-test", pg_config(db_, "hub_no_create", password));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, errc::io_error);
  EXPECT_EQ(s.error().cause, StoreCause::privilege) << s.error().message;
  EXPECT_TRUE(contains(s.error().message, "permission denied for schema public")) << s.error().message;
  EXPECT_TRUE(contains(s.error().message, "hub_no_create")) << s.error().message;
  EXPECT_EQ(committed("SELECT COUNT(*) FROM pg_class WHERE relname IN ('batches', 'token_links')"), 0);
}

TEST_F(PgStoreTest, ARoleThatMayNotInsertIsStoppedAtOpenAndRunsOnceGranted) {
  must_open({ed_table()});  // the owner makes the tables
  const fs::path password = shared_server()->create_role("hub_reader");
  shared_server()->execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO hub_reader", db_);
  auto s = open_pg({ed_table()}, "svdhub-test", pg_config(db_, "hub_reader", password));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().cause, StoreCause::privilege) << s.error().message;
  for (const char* lack : {"INSERT on batches", "INSERT on token_links", "UPDATE on token_links",
                           "UPDATE on gateway_status", "INSERT on records_ed_assaults"})
    EXPECT_TRUE(contains(s.error().message, lack)) << s.error().message;

  // With the rights it needs, a role that does not own the tables runs the store: an unchanged
  // store needs no DDL.
  shared_server()->execute(
      "GRANT INSERT ON ALL TABLES IN SCHEMA public TO hub_reader; "
      "GRANT UPDATE ON token_links, gateway_status TO hub_reader",
      db_);
  auto granted = open_pg({ed_table()}, "svdhub-test", pg_config(db_, "hub_reader", password));
  ASSERT_TRUE(granted) << granted.error().message;
  EXPECT_EQ((*granted)->store("northgate-ed", batch(0, records(3))).value(), protocol::ReceiptStatus::accepted);

  // A right lost while running fails the whole group, and nothing of it stays.
  shared_server()->execute("REVOKE INSERT ON records_ed_assaults FROM hub_reader", db_);
  const std::vector<PendingBatch> group{{"northgate-ed", batch(1, records(2))}, {"southgate-ed", batch(1, records(2))}};
  auto refused = (*granted)->store_group(group);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), errc::io_error);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM batches"), 1);
  shared_server()->execute("GRANT INSERT ON records_ed_assaults TO hub_reader", db_);
  auto resent = (*granted)->store_group(group);
  ASSERT_TRUE(resent);
  for (const auto& o : *resent) EXPECT_EQ(o.value(), protocol::ReceiptStatus::accepted);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 7);
}

TEST_F(PgStoreTest, TheAnalystRoleReadsRecordsViewsAndLinksButNotBatches) {
  const fs::path password = shared_server()->create_role("svd_analysts");
  config::StoreConfig c = pg_config(db_);
  c.analyst_role = "svd_analysts";
  {
    auto s = open_pg({links_table()}, "svdhub-test", c);
    ASSERT_TRUE(s) << s.error().message;
    const auto b = batch(0, links_record(1, 7) + links_record(2, 7), "ed-assaults", {"k1", "k2"});
    ASSERT_EQ((*s)->store("northgate-ed", b).value(), protocol::ReceiptStatus::accepted);
  }
  auto analyst = [&] {
    auto a = pg::Connection::open({.conninfo = shared_server()->conninfo(db_, "svd_analysts"),
                                   .password_file = password,
                                   .application_name = "analyst"});
    if (!a) throw std::runtime_error("the analyst cannot connect: " + pg::describe(a.error()));
    return std::move(*a);
  };
  auto count = [](pg::Connection& a, const std::string& relation) -> std::int64_t {
    auto r = pg::exec(a, "SELECT COUNT(*) FROM " + relation);
    return r ? r->int64(0, 0).value_or(-1) : -1;
  };
  {
    pg::Connection a = analyst();
    EXPECT_EQ(count(a, "records_ed_assaults"), 2);
    EXPECT_EQ(count(a, "records_ed_assaults_linked"), 2);
    EXPECT_EQ(count(a, "token_links"), 1);
    auto batches = pg::exec(a, "SELECT COUNT(*) FROM batches");
    ASSERT_FALSE(batches);
    EXPECT_EQ(batches.error().kind, pg::ErrorKind::insufficient_privilege) << pg::describe(batches.error());
  }

  // A schema that gains an output makes the view again; the role can still read it.
  {
    auto s = open_pg({ed_table({{"person_token", ColumnType::text, "person"}, {"added", ColumnType::text, ""}})},
                     "svdhub-test", c);
    ASSERT_TRUE(s) << s.error().message;
  }
  pg::Connection a = analyst();
  EXPECT_EQ(count(a, "records_ed_assaults_linked"), 2);
  auto added = pg::exec(a, "SELECT COUNT(added) FROM records_ed_assaults_linked");
  EXPECT_TRUE(added) << pg::describe(added.error());

  // A role that does not exist is named.
  c.analyst_role = "svd_nobody";
  auto missing = open_pg({ed_table({{"person_token", ColumnType::text, "person"}, {"added", ColumnType::text, ""}})},
                         "svdhub-test", c);
  ASSERT_FALSE(missing);
  EXPECT_TRUE(contains(missing.error().message, "no role svd_nobody")) << missing.error().message;
}

TEST_F(PgStoreTest, AnUnchangedStoreOpensWithoutWaitingForAnAnalystsQuery) {
  must_open({links_table()});
  // A long report: its transaction holds the view and the table (a share lock each).
  pg::Connection report = connect();
  ASSERT_TRUE(pg::exec(report, "BEGIN; SELECT COUNT(*) FROM records_ed_assaults_linked"));
  std::atomic<bool> opened{false};
  std::string error;
  std::thread t([&] {
    auto s = open_pg({links_table()});
    if (!s) error = s.error().message;
    opened = true;
  });
  const bool in_time = eventually([&] { return opened.load(); });
  const bool ended = static_cast<bool>(pg::exec(report, "COMMIT"));
  t.join();
  ASSERT_TRUE(ended);
  EXPECT_TRUE(in_time) << "the open waited for the report";
  EXPECT_TRUE(error.empty()) << error;
}

TEST_F(PgStoreTest, ATableOfAnotherTypeIsIncompatibleAndNothingIsAltered) {
  shared_server()->execute(
      "CREATE TABLE records_ed_assaults (_partner TEXT NOT NULL, _extract_id TEXT NOT NULL, _batch_id TEXT NOT NULL, "
      "_received_at BIGINT NOT NULL, n INTEGER)",
      db_);
  auto s = open_pg({ed_table()});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, errc::schema_incompatible);
  EXPECT_TRUE(contains(s.error().message,
                       "feed ed-assaults: column n is INTEGER in the store but the schema now makes it BIGINT"))
      << s.error().message;
  EXPECT_TRUE(contains(s.error().message, "column _received_at is BIGINT")) << s.error().message;
  EXPECT_EQ(pg_backend.columns("records_ed_assaults").size(), 5u) << "a column was added";
  EXPECT_EQ(committed("SELECT COUNT(*) FROM pg_class WHERE relname IN ('batches', 'token_links', "
                      "'records_ed_assaults_linked')"),
            0);
}

// What the client's checks let through but the server refuses: a batch id too long for the index
// of batches (54000). The group is stored batch by batch, and only that batch is refused, at
// every re-send. Beside it, a text holding U+0000, which PostgreSQL's text cannot store: the
// RecordReader refuses it before the server sees it, as it does for SQLite.
TEST_F(PgStoreTest, WhatTheServerRefusesRejectsOnlyItsBatch) {
  auto s = must_open({links_table()});
  const std::string poison = "{\"n\":1,\"s\":\"a\\u0000b\"}\n";
  {
    RecordReader reader;
    std::vector<TokenLink> ignored;
    ASSERT_FALSE(reader.read(poison.substr(0, poison.size() - 1), links_table(), {"k1"}, ignored));
  }
  protocol::BatchHeader long_id = batch(4, records(2)).header;
  long_id.batch_id.clear();
  std::mt19937 random(7);  // hex that does not compress, as the index would otherwise try
  for (int i = 0; i < 6000; ++i) long_id.batch_id += "0123456789abcdef"[random() % 16];
  payloads_.push_back(protocol::make_batch_payload(long_id, records(2)));
  const auto long_id_batch = protocol::parse_batch(payloads_.back());
  ASSERT_TRUE(long_id_batch);

  ASSERT_EQ(s->store("northgate-ed", batch(9, records(1))).value(), protocol::ReceiptStatus::accepted);
  const std::vector<PendingBatch> group{
      {"northgate-ed", batch(0, records(50))},
      {"northgate-ed", batch(1, records(3) + poison)},
      {"northgate-ed", batch(2, links_record(1, 7) + links_record(2, 8), "ed-assaults", {"k1", "k2"})},
      {"northgate-ed", batch(9, records(1))},
      {"northgate-ed", batch(3, "{\"nope\":1}\n")},
      {"northgate-ed", batch(0, records(50))},
      {"northgate-ed", *long_id_batch},
  };
  for (int attempt = 0; attempt < 2; ++attempt) {
    SCOPED_TRACE(attempt);
    auto out = s->store_group(group);
    ASSERT_TRUE(out);
    ASSERT_EQ(out->size(), group.size());
    const auto first = attempt == 0 ? protocol::ReceiptStatus::accepted : protocol::ReceiptStatus::duplicate;
    EXPECT_EQ((*out)[0].value(), first);
    EXPECT_EQ((*out)[1].error(), errc::bad_record);
    EXPECT_EQ((*out)[2].value(), first);
    EXPECT_EQ((*out)[3].value(), protocol::ReceiptStatus::duplicate);
    EXPECT_EQ((*out)[4].error(), errc::bad_record);
    EXPECT_EQ((*out)[5].value(), protocol::ReceiptStatus::duplicate);
    EXPECT_EQ((*out)[6].error(), errc::bad_record);
    EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 53);
    EXPECT_EQ(committed("SELECT COUNT(*) FROM batches"), 3);
    EXPECT_EQ(committed("SELECT COUNT(*) FROM token_links"), 2);
  }
}

// The tables on a tmpfs of their own (a tablespace), which the group fills up.
TEST_F(PgStoreTest, ADiskFullFailsTheGroupWholeAndItIsStoredOnceThereIsRoom) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs (CI runs as root)";
  struct stat data{};
  ASSERT_EQ(::stat(shared_server()->dir().c_str(), &data), 0);
  const fs::path space = shared_server()->dir() / "small-disk";
  fs::create_directory(space);
  const std::string owner = "uid=" + std::to_string(data.st_uid) + ",gid=" + std::to_string(data.st_gid);
  ASSERT_EQ(::mount("tmpfs", space.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, ("size=512k,mode=0700," + owner).c_str()), 0)
      << std::strerror(errno);
  struct Cleanup {
    std::string db;
    fs::path space;
    ~Cleanup() {
      try {
        shared_server()->execute("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
        shared_server()->execute("DROP TABLESPACE IF EXISTS small_disk");
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
      }
      ::umount2(space.c_str(), MNT_DETACH);
    }
  } cleanup{db_, space};
  shared_server()->execute("CREATE TABLESPACE small_disk LOCATION '" + space.string() + "'");
  shared_server()->execute("ALTER DATABASE " + db_ + " SET default_tablespace = small_disk");

  auto s = must_open({ed_table()});
  ASSERT_EQ(s->store("northgate-ed", batch(99, records(1))).value(), protocol::ReceiptStatus::accepted);
  std::vector<PendingBatch> group;
  for (int i = 0; i < 20; ++i) group.push_back({"northgate-ed", batch(static_cast<std::uint64_t>(i), records(500))});
  group.push_back({"northgate-ed", batch(50, "{\"nope\":1}\n")});
  const std::size_t log_from = shared_server()->log().size();
  auto full = s->store_group(group);
  ASSERT_FALSE(full) << "the group fitted: the disk is too large for this test";
  EXPECT_EQ(full.error(), errc::io_error);
  EXPECT_TRUE(contains(shared_server()->log().substr(log_from), "No space left on device")) << "not a full disk";
  EXPECT_EQ(committed("SELECT COUNT(*) FROM batches"), 1);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 1);

  const std::string roomy_options = "size=64m,mode=0700," + owner;
  ASSERT_EQ(::mount("tmpfs", space.c_str(), "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV, roomy_options.c_str()), 0)
      << std::strerror(errno);
  auto roomy = s->store_group(group);
  ASSERT_TRUE(roomy);
  for (std::size_t i = 0; i < 20; ++i) EXPECT_EQ((*roomy)[i].value(), protocol::ReceiptStatus::accepted) << i;
  EXPECT_EQ((*roomy)[20].error(), errc::bad_record);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 10001);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM batches"), 21);
  s.reset();
}

// `svdhub run` with the PostgreSQL store, up to the point where the store is open.
class SvdhubStartTest : public PgStoreTest {
 protected:
  // A config whose store is `conninfo` with the password in `password`, and whose broker is
  // nowhere (nothing here needs one).
  fs::path write_config(const std::string& conninfo, const fs::path& password) {
    const fs::path file = tmp_ / "svdhub.toml";
    std::ofstream(file) << "[store]\nbackend = \"postgresql\"\ndatabase = \"hub.db\"\nconninfo = \"" << conninfo
                        << "\"\npassword_file = \"" << password.string() << "\"\n"
                        << "[broker]\nhost = \"127.0.0.1\"\nport = " << closed_port()
                        << "\nca = \"pki/ca.crt\"\ncert = \"pki/svdhub.crt\"\nkey = \"pki/svdhub.key\"\n"
                        << "[[feed]]\nid = \"ed-assaults\"\nschema = \"" << SVD_EXAMPLES_DIR
                        << "/schemas/ed-assaults.json\"\n"
                        << "[[partner]]\nid = \"northgate-ed\"\nfeeds = [\"ed-assaults\"]\n";
    return file;
  }
  std::unique_ptr<test_support::Process> start(const fs::path& config) {
    const std::vector<std::string> argv{SVD_SVDHUB, "run", "--config", config.string()};
    return std::make_unique<test_support::Process>(argv, log_file());
  }
  fs::path log_file() const { return tmp_ / "svdhub.log"; }
  std::string log() const { return test_support::read_output(log_file()); }
  static std::size_t occurrences(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
    return n;
  }

  test_support::TempDir tmp_{"svd-pgstart"};
};

TEST_F(SvdhubStartTest, WaitsForTheDatabaseLoggingEachAttemptThenOpensTheStore) {
  RestartGuard guard;
  const fs::path config = write_config(shared_server()->conninfo(db_), shared_server()->password_file());
  ASSERT_EQ(shared_server()->stop(), 0);
  auto svdhub = start(config);
  const bool retried = eventually([&] { return contains(log(), "(attempt 3)"); });
  shared_server()->start();
  ASSERT_TRUE(retried) << log();
  ASSERT_TRUE(eventually([&] { return contains(log(), "svdhub: store PostgreSQL"); })) << log();
  EXPECT_EQ(committed("SELECT COUNT(*) FROM pg_class WHERE relname = 'records_ed_assaults'"), 1);
  svdhub->stop();
  const std::string out = log();
  EXPECT_EQ(occurrences(out, "svdhub: the store is unavailable (attempt 1): "), 1u) << out;
  EXPECT_EQ(occurrences(out, "svdhub: the store is unavailable (attempt 2): "), 1u) << out;
  EXPECT_FALSE(contains(out, read_line(shared_server()->password_file()))) << "the log shows the password";
}

// `svdhub stats` reads the counts from the database, read-only, wherever it runs: no SQLite file
// is needed there (the witness's counts follow only where svdhub runs).
TEST_F(SvdhubStartTest, StatsReadTheDatabase) {
  {
    auto s = must_open({ed_table()});
    ASSERT_EQ(*s->store("northgate-ed", batch(0, records(3))), protocol::ReceiptStatus::accepted);
    ASSERT_EQ(*s->store("northgate-ed", batch(1, records(2))), protocol::ReceiptStatus::accepted);
    ASSERT_EQ(*s->store("southgate-ed", batch(0, records(4))), protocol::ReceiptStatus::accepted);
  }
  const fs::path config = write_config(shared_server()->conninfo(db_), shared_server()->password_file());
  const auto r = test_support::run({SVD_SVDHUB, "stats", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "svdhub store PostgreSQL ")) << r.out;
  EXPECT_TRUE(contains(r.out, "  feed ed-assaults: 9 records in 3 batches\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "    northgate-ed: 5 records in 2 batches, last received ")) << r.out;
  EXPECT_TRUE(contains(r.out, "    southgate-ed: 4 records in 1 batches, last received ")) << r.out;
  EXPECT_FALSE(contains(r.out + r.err, read_line(shared_server()->password_file()))) << "the output shows the password";
  EXPECT_FALSE(fs::exists(tmp_ / "hub.db")) << "stats created a store";
  // A database without the store's tables is not a store.
  const fs::path empty = write_config(shared_server()->conninfo(fresh_database()), shared_server()->password_file());
  const auto none = test_support::run({SVD_SVDHUB, "stats", "--config", empty.string()});
  EXPECT_EQ(none.exit_code, 1) << none.out;
  EXPECT_TRUE(contains(none.err, "cannot read the store")) << none.err;
}

TEST_F(SvdhubStartTest, AStopWhileWaitingForTheDatabaseEndsCleanly) {
  const fs::path config = write_config("host=127.0.0.1 port=" + std::to_string(closed_port()) +
                                           " dbname=svdhub user=svdhub sslmode=disable",
                                       shared_server()->password_file());
  auto svdhub = start(config);
  ASSERT_TRUE(eventually([&] { return contains(log(), "(attempt 1)"); })) << log();
  svdhub->signal(SIGTERM);
  const auto status = svdhub->wait(test_support::kEventuallyTimeout);
  ASSERT_TRUE(status) << "svdhub did not stop";
  EXPECT_EQ(*status, 0) << log();
  EXPECT_TRUE(contains(log(), "svdhub: stopped while waiting for the database")) << log();
}

TEST_F(SvdhubStartTest, AWrongPasswordStopsItAtOnce) {
  const std::string wrong = "not-the-" + read_line(shared_server()->password_file()).substr(0, 8) + "-Pw7";
  const fs::path wrong_file = tmp_ / "wrong.password";
  std::ofstream(wrong_file) << wrong << "\n";
  fs::permissions(wrong_file, fs::perms::owner_read | fs::perms::owner_write);
  auto svdhub = start(write_config(shared_server()->conninfo(db_), wrong_file));
  const auto status = svdhub->wait(test_support::kEventuallyTimeout);
  ASSERT_TRUE(status) << "svdhub is still running: " << log();
  EXPECT_EQ(*status, 1) << log();
  const std::string out = log();
  EXPECT_TRUE(contains(out, "svdhub: cannot open the store: ")) << out;
  EXPECT_TRUE(contains(out, "password authentication failed")) << out;
  EXPECT_FALSE(contains(out, "attempt")) << "it waited: " << out;
  EXPECT_FALSE(contains(out, wrong)) << "the log shows the password tried";
}

TEST(PgDescribeStore, NeverShowsAPassword) {
  config::HubReceiverConfig cfg;
  cfg.store.backend = config::StoreBackend::postgresql;
  cfg.store.conninfo = "host=db.example dbname=svdhub user=svdhub password=s3cret-Xy sslmode=verify-full";
  const std::string shown = describe_store(cfg);
  EXPECT_FALSE(contains(shown, "s3cret-Xy")) << "the password is shown";
  EXPECT_TRUE(contains(shown, "host=db.example")) << shown;
  EXPECT_TRUE(contains(shown, "sslmode=verify-full")) << shown;
  cfg.store.conninfo = "postgresql://svdhub:s3cret-Xy@db.example/svdhub";
  EXPECT_FALSE(contains(describe_store(cfg), "s3cret-Xy")) << "the password is shown";
  cfg.store.conninfo = "host=db.example dbname=svdhub";
  EXPECT_EQ(describe_store(cfg), "PostgreSQL host=db.example dbname=svdhub");
}

// Indicative only (a loaded two-core machine): rows per second for one group of 20 batches of
// 500 records, each backend on the same machine in the same run.
TEST_F(PgStoreTest, ThroughputOfALargeGroup) {
  test_support::TempDir tmp("svd-pgstore");
  auto sqlite = SqliteStore::open(tmp / "hub.db", {ed_table()});
  ASSERT_TRUE(sqlite) << sqlite.error().message;
  auto pg = must_open({ed_table()});
  constexpr int kGroups = 3, kBatches = 20, kRecords = 500;
  auto measure = [&](Store& store) {
    double best = 0;
    for (int g = 0; g < kGroups; ++g) {
      std::vector<PendingBatch> group;
      for (int i = 0; i < kBatches; ++i)
        group.push_back({"northgate-ed", batch(static_cast<std::uint64_t>(g * kBatches + i), records(kRecords))});
      const auto start = std::chrono::steady_clock::now();
      auto out = store.store_group(group);
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      EXPECT_TRUE(out);
      if (out) {
        for (const auto& o : *out) EXPECT_EQ(o.value(), protocol::ReceiptStatus::accepted);
      }
      best = std::max(best, kBatches * kRecords / took.count());
    }
    return best;
  };
  const double pg_rate = measure(*pg);
  const double sqlite_rate = measure(**sqlite);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), kGroups * kBatches * kRecords);
  std::cout << "[ throughput ] one group of " << kBatches << " x " << kRecords << " records, best of " << kGroups
            << ": PostgreSQL " << static_cast<long>(pg_rate) << " rows/s, SQLite " << static_cast<long>(sqlite_rate)
            << " rows/s\n";
  RecordProperty("postgresql_rows_per_second", static_cast<int>(pg_rate));
  RecordProperty("sqlite_rows_per_second", static_cast<int>(sqlite_rate));
}

}  // namespace
}  // namespace svd::hub
