#include "audit/audit_log.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "audit/events.h"
#include "audit/pending.h"
#include "audit/verify.h"
#include "base/hex.h"
#include "crypto/signing_key.h"
#include "tests/audit/audit_test_support.h"

namespace svd::audit {
namespace {

namespace fs = std::filesystem;
using test::Sql;
using test::TempDir;

Event sample(int i) {
  Event e;
  e.time = "2026-11-23T09:00:" + std::string(i < 10 ? "0" : "") + std::to_string(i) + ".000Z";
  e.actor = "northgate-ed-export";
  e.action = "extract.received";
  e.object = "ed-assaults-" + std::to_string(1000 + i);
  e.details = R"({"feed":"ed-assaults","bytes":)" + std::to_string(100 * i) + "}";
  e.payload_sha256 = std::string(64, 'a');
  return e;
}

// SHA-256 straight from OpenSSL's one-shot API, independent of the code under test.
std::string sha256_hex_of(const std::string& bytes) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), d);
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : d) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string unhex(const std::string& h) {
  std::string out;
  for (std::size_t i = 0; i < h.size(); i += 2) out += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  return out;
}

TEST(AuditLog, ChainMatchesTheDocumentedFormula) {
  TempDir dir;
  auto log = AuditLog::open(dir.path() / "audit.db", "northgate-ed");
  ASSERT_TRUE(log) << log.error().message();
  for (int i = 1; i <= 3; ++i) {
    auto seq = (*log)->append(sample(i));
    ASSERT_TRUE(seq);
    EXPECT_EQ(*seq, static_cast<std::uint64_t>(i));
  }
  // Recompute from the stored rows as an auditor's script would (docs/audit.md).
  Sql db(dir.path() / "audit.db");
  std::string chain(32, '\0');
  for (int seq = 1; seq <= 3; ++seq) {
    const auto row = db.row("SELECT seq, time, actor, action, object, details, payload_sha256, leaf_hash, chain_hash"
                            " FROM events WHERE seq = " + std::to_string(seq));
    ASSERT_EQ(row.size(), 9u);
    const std::string canonical =
        row[0] + "\n" + row[1] + "\n" + row[2] + "\n" + row[3] + "\n" + row[4] + "\n" + row[5] + "\n" + row[6];
    const std::string leaf = sha256_hex_of(std::string(1, '\0') + canonical);
    EXPECT_EQ(row[7], leaf);
    chain = unhex(sha256_hex_of(chain + unhex(leaf)));
    EXPECT_EQ(unhex(row[8]), chain);
  }
  auto head = (*log)->head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->seq, 3u);
  EXPECT_EQ(head->chain_hash.size(), chain.size());
  EXPECT_EQ(std::string(head->chain_hash.begin(), head->chain_hash.end()), chain);
}

TEST(AuditLog, TheFileIsPrivate) {
  TempDir dir;
  auto log = AuditLog::open(dir.path() / "audit.db", "northgate-ed");
  ASSERT_TRUE(log);
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "audit.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST(AuditLog, TriggersRefuseUpdateAndDelete) {
  TempDir dir;
  auto log = AuditLog::open(dir.path() / "audit.db", "northgate-ed");
  ASSERT_TRUE(log);
  ASSERT_TRUE((*log)->append(sample(1)));
  Sql db(dir.path() / "audit.db");
  EXPECT_NE(db.exec_rc("UPDATE events SET actor = 'someone-else' WHERE seq = 1"), SQLITE_OK);
  EXPECT_NE(db.exec_rc("DELETE FROM events WHERE seq = 1"), SQLITE_OK);
  EXPECT_EQ(db.row("SELECT actor FROM events WHERE seq = 1")[0], "northgate-ed-export");
  EXPECT_EQ(db.row("SELECT count(*) FROM events")[0], "1");
}

TEST(AuditLog, RefusesMalformedEventsAndStoresNothing) {
  TempDir dir;
  auto log = AuditLog::open(dir.path() / "audit.db", "northgate-ed");
  ASSERT_TRUE(log);
  Event newline = sample(1);
  newline.object = "ed-assaults-1\nforged";
  Event not_json = sample(1);
  not_json.details = "{broken";
  Event not_object = sample(1);
  not_object.details = "[1]";
  Event bad_digest = sample(1);
  bad_digest.payload_sha256 = "ABC";
  Event huge = sample(1);
  huge.details = R"({"x":")" + std::string(kMaxDetailsBytes, 'x') + "\"}";
  for (const Event* e : {&newline, &not_json, &not_object, &bad_digest, &huge}) {
    auto r = (*log)->append(*e);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), errc::io_error);
  }
  EXPECT_EQ((*log)->head()->seq, 0u);
  ASSERT_TRUE((*log)->append(sample(1)));  // the log still works after refusals
  EXPECT_EQ((*log)->head()->seq, 1u);
}

TEST(AuditLog, ReopeningContinuesTheChain) {
  TempDir dir;
  Hash head_before{};
  {
    auto log = AuditLog::open(dir.path() / "audit.db", "northgate-ed");
    ASSERT_TRUE(log);
    ASSERT_TRUE((*log)->append(sample(1)));
    ASSERT_TRUE((*log)->append(sample(2)));
    head_before = (*log)->head()->chain_hash;
  }
  auto log = AuditLog::open(dir.path() / "audit.db", "northgate-ed");
  ASSERT_TRUE(log);
  EXPECT_EQ((*log)->head()->seq, 2u);
  EXPECT_EQ((*log)->head()->chain_hash, head_before);
  ASSERT_TRUE((*log)->append(sample(3)));
  EXPECT_EQ((*log)->head()->chain_hash, chain_next(head_before, leaf_hash(3, sample(3))));
}

TEST(AuditLog, RefusesADatabaseThatIsNotAnAuditLog) {
  TempDir dir;
  {
    Sql other(dir.path() / "other.db");
    other.exec("CREATE TABLE t(x)");
  }
  EXPECT_FALSE(AuditLog::open(dir.path() / "other.db", "northgate-ed"));
  EXPECT_FALSE(AuditReader::open(dir.path() / "other.db"));
  EXPECT_FALSE(AuditReader::open(dir.path() / "missing.db"));
}

// ---- pending events ----------------------------------------------------------------------------

class PendingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = AuditLog::open(dir_.path() / "audit.db", "northgate-ed");
    ASSERT_TRUE(log);
    log_ = std::move(*log);
    source_ = std::make_unique<Sql>(dir_.path() / "state.db");
    source_->exec("PRAGMA journal_mode=WAL");
    source_->exec("CREATE TABLE state(id TEXT PRIMARY KEY, value TEXT)");
    ASSERT_TRUE(ensure_pending_table(source_->handle()));
  }

  // A state change and its event in one transaction, as the stores do.
  void change(int i, bool commit = true) {
    source_->exec("BEGIN");
    source_->exec("INSERT INTO state VALUES ('x" + std::to_string(i) + "', 'v')");
    ASSERT_TRUE(record_pending(source_->handle(), sample(i)));
    source_->exec(commit ? "COMMIT" : "ROLLBACK");
  }

  std::size_t drain() {
    auto n = log_->drain("state", dir_.path() / "state.db");
    EXPECT_TRUE(n) << (n ? "" : n.error().message());
    return n ? *n : 0;
  }

  TempDir dir_;
  std::unique_ptr<AuditLog> log_;
  std::unique_ptr<Sql> source_;
};

TEST_F(PendingTest, AnEventCommitsOrRollsBackWithItsStateChange) {
  change(1);
  change(2, /*commit=*/false);
  change(3);
  EXPECT_EQ(drain(), 2u);
  Sql db(dir_.path() / "audit.db");
  EXPECT_EQ(db.row("SELECT group_concat(object, ',') FROM (SELECT object FROM events ORDER BY seq)")[0],
            "ed-assaults-1001,ed-assaults-1003");
  // The drained rows are gone from the source; nothing is appended twice.
  EXPECT_EQ(source_->row("SELECT count(*) FROM audit_pending")[0], "0");
  EXPECT_EQ(drain(), 0u);
  EXPECT_EQ(log_->head()->seq, 2u);
}

TEST_F(PendingTest, RowsLeftInTheSourceAreNotAppendedTwice) {
  change(1);
  change(2);
  // The source's own writer holds the lock: the drain appends, but cannot delete what it took.
  Sql writer(dir_.path() / "state.db");
  writer.exec("BEGIN IMMEDIATE");
  EXPECT_EQ(drain(), 2u);
  writer.exec("COMMIT");
  EXPECT_EQ(source_->row("SELECT count(*) FROM audit_pending")[0], "2");
  change(3);
  EXPECT_EQ(drain(), 1u);  // only the new one; the leftovers are deleted now
  EXPECT_EQ(log_->head()->seq, 3u);
  EXPECT_EQ(source_->row("SELECT count(*) FROM audit_pending")[0], "0");
}

TEST_F(PendingTest, IdsAreNeverReusedAfterTheTableEmpties) {
  change(1);
  EXPECT_EQ(drain(), 1u);
  EXPECT_EQ(source_->row("SELECT count(*) FROM audit_pending")[0], "0");
  change(2);  // with a plain rowid this would reuse id 1 and be skipped as already drained
  EXPECT_EQ(drain(), 1u);
  EXPECT_EQ(log_->head()->seq, 2u);
}

// docs/operations.md, "Backup and restore": a state database restored from an older moment than
// audit.db issues pending ids the log has already taken. They must reach the chain, not be skipped.
TEST_F(PendingTest, ASourceRestoredFromAnOlderCopyIsRecordedAndItsNewEventsAreTaken) {
  change(1);
  source_.reset();  // the backup copy of the state database, taken here
  std::filesystem::copy_file(dir_.path() / "state.db", dir_.path() / "state-backup.db");
  source_ = std::make_unique<Sql>(dir_.path() / "state.db");
  change(2);
  change(3);
  EXPECT_EQ(drain(), 3u);  // audit.db has taken ids 1..3

  // Restored (service stopped): the older state database, then a restart and a new change.
  source_.reset();
  log_.reset();
  std::filesystem::rename(dir_.path() / "state-backup.db", dir_.path() / "state.db");
  auto log = AuditLog::open(dir_.path() / "audit.db", "northgate-ed");
  ASSERT_TRUE(log);
  log_ = std::move(*log);
  source_ = std::make_unique<Sql>(dir_.path() / "state.db");
  EXPECT_EQ(drain(), 0u);  // the gateway's drain at start: records the rewind, takes nothing
  change(4);  // gets pending id 2 again

  EXPECT_EQ(drain(), 1u);
  Sql db(dir_.path() / "audit.db");
  EXPECT_EQ(db.row("SELECT group_concat(action || ':' || object, ',') FROM (SELECT action, object FROM events ORDER BY seq)")[0],
            "extract.received:ed-assaults-1001,extract.received:ed-assaults-1002,extract.received:ed-assaults-1003,"
            "audit.source_rewound:state,extract.received:ed-assaults-1004");
  EXPECT_EQ(db.row("SELECT details FROM events WHERE action = 'audit.source_rewound'")[0],
            R"({"last_taken":3,"source_last":1})");
  change(5);
  EXPECT_EQ(drain(), 1u);  // and from then on as usual
  EXPECT_EQ(log_->head()->seq, 6u);
  log_.reset();
  VerifyInputs in;
  in.log = dir_.path() / "audit.db";
  auto report = verify(in);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->events, 6u);
}

TEST_F(PendingTest, AMissingSourceHasNothingPending) {
  auto n = log_->drain("nowhere", dir_.path() / "missing.db");
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
  EXPECT_FALSE(fs::exists(dir_.path() / "missing.db"));  // not created by looking
}

TEST_F(PendingTest, ABadPendingEventIsRefusedInsideTheTransaction) {
  Event bad = sample(1);
  bad.actor = "a\tb";
  source_->exec("BEGIN");
  EXPECT_FALSE(record_pending(source_->handle(), bad));
  source_->exec("ROLLBACK");
  EXPECT_EQ(source_->row("SELECT count(*) FROM audit_pending")[0], "0");
}

TEST_F(PendingTest, ManyEventsDrainInOrder) {
  source_->exec("BEGIN");
  for (int i = 1; i <= 1500; ++i) ASSERT_TRUE(record_pending(source_->handle(), sample(i % 60)));
  source_->exec("COMMIT");
  EXPECT_EQ(drain(), 1500u);
  EXPECT_EQ(log_->head()->seq, 1500u);
}

// ---- checkpoints -------------------------------------------------------------------------------

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = AuditLog::open(dir_.path() / "audit.db", "northgate-ed");
    ASSERT_TRUE(log);
    log_ = std::move(*log);
    ASSERT_TRUE(crypto::generate_signing_key(dir_.path() / "device.key", dir_.path() / "device.pub"));
    auto key = crypto::load_signing_key(dir_.path() / "device.key");
    ASSERT_TRUE(key);
    key_ = std::make_unique<crypto::SigningKey>(std::move(*key));
  }

  void append(int n) {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(log_->append(sample(i % 60)));
  }
  // Many events at once, the way the daemon takes them: pending in a state database, then drained
  // in a few transactions (one fsync each, not one per event).
  void append_burst(int n) {
    Sql source(dir_.path() / "state.db");
    ASSERT_TRUE(ensure_pending_table(source.handle()));
    source.exec("BEGIN");
    for (int i = 0; i < n; ++i) ASSERT_TRUE(record_pending(source.handle(), sample(i % 60)));
    source.exec("COMMIT");
    auto moved = log_->drain("state", dir_.path() / "state.db");
    ASSERT_TRUE(moved);
    ASSERT_EQ(*moved, static_cast<std::size_t>(n));
  }

  protocol::CheckpointReceipt receipt_for(const protocol::CheckpointMessage& m) {
    protocol::CheckpointReceipt r;
    r.checkpoint = m.checkpoint;
    r.status = protocol::CheckpointStatus::accepted;
    r.witnessed_at = "2026-11-23T10:00:00.000Z";
    r.cosignature = std::string(128, 'c');
    r.witness_fingerprint = "hub";
    return r;
  }

  TempDir dir_;
  std::unique_ptr<AuditLog> log_;
  std::unique_ptr<crypto::SigningKey> key_;
};

TEST_F(CheckpointTest, NothingToCheckpointInAnEmptyLogOrTwice) {
  auto none = log_->make_checkpoint(*key_);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  append(3);
  EXPECT_EQ(*log_->events_since_checkpoint(), 3u);
  auto made = log_->make_checkpoint(*key_);
  ASSERT_TRUE(made);
  ASSERT_TRUE(*made);
  EXPECT_EQ((*made)->checkpoint.seq, 3u);
  EXPECT_EQ((*made)->checkpoint.partner, "northgate-ed");
  EXPECT_EQ((*made)->checkpoint.chain_hash, to_hex(log_->head()->chain_hash));
  EXPECT_EQ(*log_->events_since_checkpoint(), 0u);
  auto again = log_->make_checkpoint(*key_);
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
}

TEST_F(CheckpointTest, TheSignatureCoversTheNote) {
  append(2);
  auto made = log_->make_checkpoint(*key_);
  ASSERT_TRUE(made && *made);
  std::string sig_bytes = unhex((*made)->signature);
  const std::span<const unsigned char> sig(reinterpret_cast<const unsigned char*>(sig_bytes.data()), sig_bytes.size());
  EXPECT_TRUE(crypto::verify_signature(key_->public_key(), protocol::checkpoint_note((*made)->checkpoint), sig));
  auto other = (*made)->checkpoint;
  other.seq = 1;
  EXPECT_FALSE(crypto::verify_signature(key_->public_key(), protocol::checkpoint_note(other), sig));
}

TEST_F(CheckpointTest, MessagesCarryTheProofFromTheCheckpointBefore) {
  append(3);
  ASSERT_TRUE(log_->make_checkpoint(*key_));
  append(2);
  ASSERT_TRUE(log_->make_checkpoint(*key_));

  auto first = log_->next_unwitnessed();
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((*first)->checkpoint.seq, 3u);
  EXPECT_FALSE((*first)->prev);
  ASSERT_EQ((*first)->leaves.size(), 3u);
  // The leaves rebuild the chain to the checkpoint's hash.
  Hash chain{};
  for (const auto& l : (*first)->leaves) {
    Hash leaf{};
    ASSERT_TRUE(from_hex(l, leaf));
    chain = chain_next(chain, leaf);
  }
  EXPECT_EQ(to_hex(chain), (*first)->checkpoint.chain_hash);

  // Until the hub answers, the same one is next (re-sent after a reconnect).
  EXPECT_EQ((*log_->next_unwitnessed())->checkpoint.seq, 3u);
  auto r = log_->record_receipt(receipt_for(**first));
  ASSERT_TRUE(r);
  EXPECT_TRUE(*r);
  EXPECT_FALSE(*log_->record_receipt(receipt_for(**first)));  // a second receipt changes nothing

  auto second = log_->next_unwitnessed();
  ASSERT_TRUE(second && *second);
  EXPECT_EQ((*second)->checkpoint.seq, 5u);
  ASSERT_TRUE((*second)->prev);
  EXPECT_EQ((*second)->prev->seq, 3u);
  EXPECT_EQ((*second)->prev->chain_hash, (*first)->checkpoint.chain_hash);
  EXPECT_EQ((*second)->leaves.size(), 2u);
  ASSERT_TRUE(log_->record_receipt(receipt_for(**second)));
  EXPECT_FALSE(*log_->next_unwitnessed());
}

TEST_F(CheckpointTest, ARejectedCheckpointIsOfferedAgain) {
  append(2);
  ASSERT_TRUE(log_->make_checkpoint(*key_));
  auto m = log_->next_unwitnessed();
  ASSERT_TRUE(m && *m);
  auto r = receipt_for(**m);
  r.status = protocol::CheckpointStatus::rejected;
  r.reason = "unknown_device_key";
  r.cosignature.clear();
  ASSERT_TRUE(*log_->record_receipt(r));
  // The hub's operator may install the device key; the checkpoint stays to be sent.
  auto again = log_->next_unwitnessed();
  ASSERT_TRUE(again && *again);
  EXPECT_EQ((*again)->checkpoint.seq, 2u);
  EXPECT_TRUE(*log_->record_receipt(receipt_for(**again)));
  EXPECT_FALSE(*log_->next_unwitnessed());
}

TEST_F(CheckpointTest, AReceiptForAnUnknownCheckpointIsIgnored) {
  append(2);
  ASSERT_TRUE(log_->make_checkpoint(*key_));
  auto m = log_->next_unwitnessed();
  ASSERT_TRUE(m && *m);
  auto wrong_hash = receipt_for(**m);
  wrong_hash.checkpoint.chain_hash = std::string(64, '0');
  EXPECT_FALSE(*log_->record_receipt(wrong_hash));
  auto wrong_partner = receipt_for(**m);
  wrong_partner.checkpoint.partner = "someone-else";
  EXPECT_FALSE(*log_->record_receipt(wrong_partner));
  EXPECT_TRUE(*log_->next_unwitnessed());
}

TEST_F(CheckpointTest, ABurstOfEventsGetsBoundedCheckpoints) {
  append_burst(static_cast<int>(protocol::kMaxCheckpointLeaves) + 10);
  auto made = log_->make_checkpoint(*key_);
  ASSERT_TRUE(made && *made);
  EXPECT_EQ((*made)->checkpoint.seq, protocol::kMaxCheckpointLeaves + 10);
  auto reader = AuditReader::open(dir_.path() / "audit.db");
  ASSERT_TRUE(reader);
  auto cps = (*reader)->checkpoints();
  ASSERT_TRUE(cps);
  ASSERT_EQ(cps->size(), 2u);
  EXPECT_EQ((*cps)[0].checkpoint.seq, protocol::kMaxCheckpointLeaves);
  auto first = log_->next_unwitnessed();
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((*first)->leaves.size(), protocol::kMaxCheckpointLeaves);
  ASSERT_TRUE(log_->record_receipt(receipt_for(**first)));
  EXPECT_EQ((*log_->next_unwitnessed())->leaves.size(), 10u);
}

TEST_F(CheckpointTest, CheckpointsCannotBeRewrittenThroughTheApiOrSql) {
  append(2);
  ASSERT_TRUE(log_->make_checkpoint(*key_));
  Sql db(dir_.path() / "audit.db");
  EXPECT_NE(db.exec_rc("UPDATE checkpoints SET chain_hash = 'x'"), SQLITE_OK);
  EXPECT_NE(db.exec_rc("DELETE FROM checkpoints"), SQLITE_OK);
  auto m = log_->next_unwitnessed();
  ASSERT_TRUE(log_->record_receipt(receipt_for(**m)));
  EXPECT_NE(db.exec_rc("UPDATE checkpoints SET cosignature = 'forged'"), SQLITE_OK);
}

TEST(AuditReader, ReadsARangeOfTimes) {
  TempDir dir;
  auto log = AuditLog::open(dir.path() / "audit.db", "northgate-ed");
  ASSERT_TRUE(log);
  for (int i = 1; i <= 9; ++i) ASSERT_TRUE((*log)->append(sample(i)));
  auto reader = AuditReader::open(dir.path() / "audit.db");
  ASSERT_TRUE(reader);
  std::vector<std::uint64_t> seqs;
  ASSERT_TRUE((*reader)->for_each(
      [&](const Entry& e) {
        seqs.push_back(e.seq);
        return true;
      },
      "2026-11-23T09:00:03", "2026-11-23T09:00:06"));
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{3, 4, 5}));
}

TEST(AuditEvents, BuildersMakeValidEventsWithoutControlCharacters) {
  events::Processed p;
  p.extract_id = "ed-assaults-0123456789abcdef";
  p.feed = "ed-assaults";
  p.schema = "ed-assaults";
  p.sha256 = std::string(64, 'b');
  p.key_ids = {"k1"};
  p.rows = 10;
  p.valid = 8;
  p.rejected = 2;
  p.rejected_by_code = {{"invalid_nhs_number", 2}};
  const Event all[] = {
      events::extract_received("northgate-ed-export", p.extract_id, p.feed, 123, p.sha256),
      events::nil_return("northgate-ed-export", p.extract_id, p.feed, "2026-11-23", p.sha256),
      events::extract_finished(p),
      events::rows_rejected(p),
      events::upload_refused("northgate-ed-export", "ed-assaults", 409, "name_conflict"),
      events::batch_published("b1", p.extract_id, p.feed, 0, 8, 1),
      events::batch_acknowledged("b1", p.extract_id, p.feed, 0, 8, "accepted"),
      events::batch_rejected("b1", p.extract_id, p.feed, 0, 8, "unknown_feed"),
      events::feed_watched(p.feed, "northgate-ed", "weekly by Monday 09:00", "2026-11-01T00:00:00Z"),
      events::feed_overdue(p.feed, "northgate-ed", "week to Monday 2026-11-23 09:00", "2026-11-23T09:00:00Z"),
      events::feed_overdue_cleared(p.feed, "northgate-ed", "week to Monday 2026-11-23 09:00", p.extract_id),
      events::gateway_started("0.1.0", "northgate-ed", p.sha256, {{"ed-assaults", p.sha256}}),
      events::gateway_stopped("SIGTERM"),
      events::config_reloaded(p.sha256, {{"ed-assaults", p.sha256}}),
      events::config_reload_refused("line 3:\nunknown key"),
      events::key_loaded("k1", "linkage", "abcd abcd"),
      events::certificate_loaded("upload-server", p.sha256, "2027-11-23T00:00:00Z"),
  };
  for (const Event& e : all) EXPECT_TRUE(valid_event(e)) << e.action << " " << e.details;
  EXPECT_EQ(all[2].action, "extract.processed");
  EXPECT_EQ(all[2].details.find("min_group"), std::string::npos) << "not counted: not said";
  p.min_group = 5;
  p.small_group_records = 3;
  EXPECT_NE(events::extract_finished(p).details.find(R"("min_group":5,"small_group_records":3)"), std::string::npos)
      << events::extract_finished(p).details;
  p.refused_reason = "reject_threshold_exceeded";
  EXPECT_EQ(events::extract_finished(p).action, "extract.refused");
}

}  // namespace
}  // namespace svd::audit
