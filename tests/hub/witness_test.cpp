// The hub as witness of the gateways' audit checkpoints: what it accepts, cosigns, answers as a
// duplicate, and raises as an alarm, and what it stores.

#include "hub/witness.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "tests/hub/witness_fixture.h"

namespace svd::hub::testing {
namespace {


TEST_F(WitnessTest, AcceptsTheFirstCheckpointAndCosignsIt) {
  const auto m = message(0, 3);
  WitnessOutcome out = handle(m);
  const protocol::CheckpointReceipt& r = out.receipt;
  EXPECT_EQ(r.status, CheckpointStatus::accepted) << r.reason;
  EXPECT_FALSE(out.alarm);
  EXPECT_EQ(r.checkpoint, m.checkpoint);
  EXPECT_EQ(r.witnessed_at, "2026-11-23T09:15:20.123Z");
  EXPECT_EQ(r.witness_fingerprint, crypto::fingerprint(witness_pub_));
  EXPECT_TRUE(cosignature_verifies(r));
  // What goes on the wire parses back as the same receipt.
  auto back = protocol::parse_checkpoint_receipt(protocol::to_json(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->cosignature, r.cosignature);
  EXPECT_EQ(alarm_count(), 0u);
}

TEST_F(WitnessTest, AcceptsACheckpointThatExtendsTheLastOne) {
  ASSERT_EQ(handle(message(0, 3)).receipt.status, CheckpointStatus::accepted);
  now_ += std::chrono::minutes(5);
  WitnessOutcome out = handle(message(3, 7));
  EXPECT_EQ(out.receipt.status, CheckpointStatus::accepted) << out.receipt.reason;
  EXPECT_EQ(out.receipt.witnessed_at, "2026-11-23T09:20:20.123Z");
  EXPECT_TRUE(cosignature_verifies(out.receipt));
  EXPECT_EQ(handle(message(7, 8)).receipt.status, CheckpointStatus::accepted);
  // A reopened witness (svdhub restarted) goes on from what it stored.
  reopen();
  EXPECT_EQ(handle(message(8, 12)).receipt.status, CheckpointStatus::accepted);
  EXPECT_EQ(exported().size(), 4u);
}

TEST_F(WitnessTest, AnExactResendIsADuplicateWithTheStoredCosignature) {
  const auto m = message(0, 3);
  const protocol::CheckpointReceipt first = handle(m).receipt;
  ASSERT_EQ(first.status, CheckpointStatus::accepted);
  now_ += std::chrono::hours(1);
  WitnessOutcome again = handle(m);
  EXPECT_EQ(again.receipt.status, CheckpointStatus::duplicate);
  EXPECT_FALSE(again.alarm);
  EXPECT_EQ(again.receipt.witnessed_at, first.witnessed_at);
  EXPECT_EQ(again.receipt.cosignature, first.cosignature);
  EXPECT_EQ(again.receipt.checkpoint, first.checkpoint);
  EXPECT_TRUE(cosignature_verifies(again.receipt));

  // The same head re-made later (a restarted gateway): same seq and chain hash, another time.
  // The receipt carries the stored checkpoint, which is what the cosignature covers.
  WitnessOutcome remade = handle(message(0, 3, chain_, *device_, "2026-11-23T10:00:00.000Z"));
  EXPECT_EQ(remade.receipt.status, CheckpointStatus::duplicate);
  EXPECT_EQ(remade.receipt.checkpoint.time, "2026-11-23T09:00:00.000Z");
  EXPECT_TRUE(cosignature_verifies(remade.receipt));

  // An older checkpoint re-sent after a newer one was accepted is still a duplicate.
  ASSERT_EQ(handle(message(3, 5)).receipt.status, CheckpointStatus::accepted);
  EXPECT_EQ(handle(m).receipt.status, CheckpointStatus::duplicate);
  EXPECT_EQ(exported().size(), 2u);
  EXPECT_EQ(alarm_count(), 0u);
}

TEST_F(WitnessTest, AForgedSignatureIsAnAlarm) {
  WitnessOutcome out = handle(message(0, 3, chain_, *forger_));
  expect_alarm(out, "bad_signature");
  EXPECT_NE(log_.str().find("audit.alarm: partner northgate-ed checkpoint seq 3: bad_signature"), std::string::npos)
      << log_.str();

  // The device's signature over another checkpoint: the chain hash was changed after signing.
  auto m = message(0, 3);
  m.checkpoint.chain_hash = to_hex(chain_.chain[2]);
  expect_alarm(handle(m), "bad_signature");
  EXPECT_TRUE(exported().empty());
  EXPECT_EQ(alarm_count(), 2u);
  // The genuine one is still accepted afterwards.
  EXPECT_EQ(handle(message(0, 3)).receipt.status, CheckpointStatus::accepted);
}

TEST_F(WitnessTest, APayloadNamingAnotherPartnerIsRejected) {
  auto m = message(0, 3);
  m.checkpoint.partner = kOther;
  sign(m, *device_);
  WitnessOutcome out = handle(m);
  EXPECT_EQ(out.receipt.status, CheckpointStatus::rejected);
  EXPECT_EQ(out.receipt.reason, "topic_mismatch");
  EXPECT_FALSE(out.alarm);
  EXPECT_TRUE(exported().empty());
  auto other = read_witnessed_checkpoints(db(), kOther);
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->empty());
}

TEST_F(WitnessTest, APrevThatIsNotTheLastAcceptedIsAnAlarm) {
  // prev present while nothing was accepted yet.
  expect_alarm(handle(message(3, 7)), "checkpoint_does_not_extend");
  ASSERT_EQ(handle(message(0, 3)).receipt.status, CheckpointStatus::accepted);
  ASSERT_EQ(handle(message(3, 7)).receipt.status, CheckpointStatus::accepted);
  // From an accepted checkpoint that is not the last one (a gap in what the hub saw).
  expect_alarm(handle(message(3, 9)), "checkpoint_does_not_extend");
  // prev absent while checkpoints were accepted: the log was started again.
  expect_alarm(handle(message(0, 9)), "checkpoint_does_not_extend");
  // prev with the last seq but another chain hash.
  auto m = message(7, 9);
  m.prev->chain_hash = to_hex(chain_.chain[6]);
  expect_alarm(handle(m), "checkpoint_does_not_extend");
  EXPECT_NE(log_.str().find("audit.alarm: partner northgate-ed checkpoint seq 9: checkpoint_does_not_extend"),
            std::string::npos)
      << log_.str();
  EXPECT_EQ(alarm_count(), 4u);
  EXPECT_EQ(handle(message(7, 9)).receipt.status, CheckpointStatus::accepted);
}

TEST_F(WitnessTest, LeavesThatDoNotReachTheChainHashAreAnAlarm) {
  // A rewritten event: the signed chain hash is the genuine one, a leaf is not.
  auto m = message(0, 3);
  m.leaves[1] = to_hex(Chain("rewritten ").leaves[2]);
  expect_alarm(handle(m), "checkpoint_does_not_extend");
  // A signed chain hash that the (genuine) leaves do not reach.
  const Chain other("other ");
  auto wrong = message(0, 3);
  wrong.checkpoint.chain_hash = to_hex(other.chain[3]);
  sign(wrong, *device_);
  expect_alarm(handle(wrong), "checkpoint_does_not_extend");
  EXPECT_TRUE(exported().empty());
}

TEST_F(WitnessTest, APartnerWithoutADeviceKeyIsRejected) {
  auto m = message(0, 3);
  m.checkpoint.partner = kOther;
  sign(m, *device_);
  WitnessOutcome out = handle(m, kOther);
  EXPECT_EQ(out.receipt.status, CheckpointStatus::rejected);
  EXPECT_EQ(out.receipt.reason, "unknown_device_key");
  EXPECT_FALSE(out.alarm);
}

TEST_F(WitnessTest, AMalformedMessageIsRejectedWithoutAnAlarm) {
  for (const std::string& payload : {std::string("not json"), std::string("{}"), std::string(600 << 10, ' ')}) {
    auto out = witness_->handle(kPartner, payload);
    ASSERT_TRUE(out);
    EXPECT_EQ(out->receipt.status, CheckpointStatus::rejected);
    EXPECT_EQ(out->receipt.reason, "bad_checkpoint");
    EXPECT_EQ(out->receipt.checkpoint.partner, kPartner);
    EXPECT_FALSE(out->alarm);
    // The rejection is a valid receipt on the wire.
    EXPECT_TRUE(protocol::parse_checkpoint_receipt(protocol::to_json(out->receipt)));
  }
  EXPECT_EQ(alarm_count(), 0u);
}

TEST_F(WitnessTest, AConflictingCheckpointAtAnOldSeqIsAnAlarm) {
  ASSERT_EQ(handle(message(0, 3)).receipt.status, CheckpointStatus::accepted);
  ASSERT_EQ(handle(message(3, 7)).receipt.status, CheckpointStatus::accepted);
  // A fork: another history, validly signed, claims seq 3 (and seq 7).
  const Chain fork("fork ");
  expect_alarm(handle(message(0, 3, fork, *device_)), "checkpoint_does_not_extend");
  auto at7 = message(3, 7, fork, *device_);
  at7.prev = protocol::ChainPoint{3, to_hex(chain_.chain[3])};
  expect_alarm(handle(at7), "checkpoint_does_not_extend");
  auto alarms = read_alarms(db());
  ASSERT_TRUE(alarms);
  ASSERT_EQ(alarms->size(), 2u);
  EXPECT_NE((*alarms)[0].detail.find("seq 3 was accepted with chain hash " + to_hex(chain_.chain[3])), std::string::npos)
      << (*alarms)[0].detail;
  EXPECT_EQ(exported().size(), 2u);
}

TEST_F(WitnessTest, AlarmsAreStoredAndCounted) {
  const auto forged = message(0, 3, chain_, *forger_);
  const std::string payload = protocol::to_json(forged);
  ASSERT_TRUE(witness_->handle(kPartner, payload));
  now_ += std::chrono::seconds(1);
  expect_alarm(handle(message(2, 4)), "checkpoint_does_not_extend");

  auto alarms = read_alarms(db());
  ASSERT_TRUE(alarms);
  ASSERT_EQ(alarms->size(), 2u);
  const StoredAlarm& a = (*alarms)[0];
  EXPECT_EQ(a.partner, kPartner);
  EXPECT_EQ(a.at, "2026-11-23T09:15:20.123Z");
  EXPECT_EQ(a.reason, "bad_signature");
  EXPECT_EQ(a.seq, 3u);
  EXPECT_EQ(a.chain_hash, forged.checkpoint.chain_hash);
  EXPECT_EQ(a.checkpoint_time, forged.checkpoint.time);
  EXPECT_EQ(a.payload_sha256, crypto::sha256_hex(payload));
  EXPECT_EQ((*alarms)[1].reason, "checkpoint_does_not_extend");
  EXPECT_EQ((*alarms)[1].seq, 4u);

  auto stats = read_witness_stats(db());
  ASSERT_TRUE(stats);
  ASSERT_EQ(stats->size(), 1u);
  EXPECT_EQ((*stats)[0].alarms, 2u);
  EXPECT_EQ((*stats)[0].last_alarm_at, "2026-11-23T09:15:21.123Z");
  EXPECT_EQ(format_witness_stats({kPartner, kOther}, *stats),
            "  audit checkpoints witnessed:\n"
            "    northgate-ed: 0 checkpoints; audit alarms: 2, last 2026-11-23T09:15:21.123Z\n"
            "    southgate-ed: 0 checkpoints; audit alarms: 0\n");
  ASSERT_EQ(handle(message(0, 3)).receipt.status, CheckpointStatus::accepted);
  stats = read_witness_stats(db());
  ASSERT_TRUE(stats);
  EXPECT_EQ(format_witness_stats({}, *stats),
            "  audit checkpoints witnessed:\n"
            "    northgate-ed (not configured): 1 checkpoints, last seq 3 witnessed 2026-11-23T09:15:21.123Z; "
            "audit alarms: 2, last 2026-11-23T09:15:21.123Z\n");
}

TEST_F(WitnessTest, StoredAlarmsAreBoundedButAllAreCounted) {
  // As if kMaxStoredAlarmsPerPartner alarms had been raised already (one transaction, not a
  // thousand fsyncs).
  sqlite3* db_handle = nullptr;
  ASSERT_EQ(sqlite3_open(db().c_str(), &db_handle), SQLITE_OK);
  std::string fill = "BEGIN;";
  for (std::size_t i = 0; i < kMaxStoredAlarmsPerPartner; ++i)
    fill += "INSERT INTO witness_alarms (partner, at, reason, detail, seq, chain_hash, checkpoint_time, payload_sha256) "
            "VALUES ('northgate-ed', 'then', 'bad_signature', '', " + std::to_string(i) + ", '', '', '');";
  fill += "INSERT INTO witness_alarm_counts VALUES ('northgate-ed', " + std::to_string(kMaxStoredAlarmsPerPartner) +
          ", 'then'); COMMIT;";
  ASSERT_EQ(sqlite3_exec(db_handle, fill.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db_handle);

  expect_alarm(handle(message(0, 3, chain_, *forger_)), "bad_signature");
  auto alarms = read_alarms(db());
  ASSERT_TRUE(alarms);
  ASSERT_EQ(alarms->size(), kMaxStoredAlarmsPerPartner);
  EXPECT_EQ(alarms->front().seq, 1u);  // the oldest went
  EXPECT_EQ(alarms->back().seq, 3u);
  EXPECT_EQ(alarm_count(), kMaxStoredAlarmsPerPartner + 1);
}

TEST_F(WitnessTest, WitnessedCheckpointsAreAppendOnly) {
  ASSERT_EQ(handle(message(0, 3)).receipt.status, CheckpointStatus::accepted);
  sqlite3* db_handle = nullptr;
  ASSERT_EQ(sqlite3_open(db().c_str(), &db_handle), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db_handle, "UPDATE witness_checkpoints SET seq = 4", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db_handle, "DELETE FROM witness_checkpoints", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db_handle);
  EXPECT_EQ(exported().size(), 1u);
}

TEST_F(WitnessTest, ExportedReceiptsParseInSeqOrder) {
  ASSERT_EQ(handle(message(0, 3)).receipt.status, CheckpointStatus::accepted);
  ASSERT_EQ(handle(message(3, 10)).receipt.status, CheckpointStatus::accepted);
  ASSERT_EQ(handle(message(10, 11)).receipt.status, CheckpointStatus::accepted);
  std::vector<std::uint64_t> seqs;
  for (const auto& r : exported()) {
    auto back = protocol::parse_checkpoint_receipt(protocol::to_json(r));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->status, CheckpointStatus::accepted);
    EXPECT_TRUE(cosignature_verifies(*back));
    seqs.push_back(back->checkpoint.seq);
  }
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{3, 10, 11}));
}

TEST(AuditTopic, ParsesOnlyAPartnersAuditTopic) {
  std::string p;
  EXPECT_TRUE(parse_audit_topic("svd/v1/northgate-ed/audit", p));
  EXPECT_EQ(p, "northgate-ed");
  for (const char* bad : {"svd/v1//audit", "svd/v1/a/b/audit", "svd/v1/North/audit", "svd/v1/a/receipt",
                          "svd/v2/a/audit", "svd/v1/audit"})
    EXPECT_FALSE(parse_audit_topic(bad, p)) << bad;
}

}  // namespace
}  // namespace svd::hub::testing
