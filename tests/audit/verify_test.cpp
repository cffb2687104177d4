// `svdgw audit verify` against every kind of tampering (issue: an edited row, a deleted row, two
// rows swapped, a row inserted, the log truncated with and without rewriting the tail, a forged
// checkpoint signature), each in its own test, plus the clean log as the positive control.
//
// The attacker here has write access to audit.db (drops the triggers, edits rows, recomputes
// hashes) but not the device key or the hub's witness key.

#include "audit/verify.h"

#include <gtest/gtest.h>

#include <fstream>

#include "audit/audit_log.h"
#include "base/hex.h"
#include "crypto/sha256.h"
#include "crypto/signing_key.h"
#include "protocol/checkpoint.h"
#include "tests/audit/audit_test_support.h"

namespace svd::audit {
namespace {

namespace fs = std::filesystem;
using test::Sql;
using test::TempDir;

constexpr int kEvents = 30;  // checkpoints at 10, 20 and 30

Event sample(int i) {
  Event e;
  e.time = "2026-11-23T09:" + std::string(i < 10 ? "0" : "") + std::to_string(i) + ":00.000Z";
  e.actor = i % 2 ? "northgate-ed-export" : "gateway";
  e.action = i % 2 ? "extract.received" : "batch.published";
  e.object = "object-" + std::to_string(i);
  e.details = R"({"feed":"ed-assaults","n":)" + std::to_string(i) + "}";
  return e;
}

class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::generate_signing_key(dir_.path() / "device.key", dir_.path() / "device.pub"));
    ASSERT_TRUE(crypto::generate_signing_key(dir_.path() / "witness.key", dir_.path() / "witness.pub"));
    auto device = crypto::load_signing_key(dir_.path() / "device.key");
    auto witness = crypto::load_signing_key(dir_.path() / "witness.key");
    ASSERT_TRUE(device && witness);
    auto log = AuditLog::open(log_file(), "northgate-ed");
    ASSERT_TRUE(log);
    std::ofstream hub(hub_file());
    for (int i = 1; i <= kEvents; ++i) {
      ASSERT_TRUE((*log)->append(sample(i)));
      if (i % 10 != 0) continue;
      ASSERT_TRUE((*log)->make_checkpoint(*device));
      auto m = (*log)->next_unwitnessed();
      ASSERT_TRUE(m && *m);
      // What the hub does (hub/witness.cpp): cosign, answer, keep its copy.
      protocol::CheckpointReceipt r;
      r.checkpoint = (*m)->checkpoint;
      r.witnessed_at = "2026-11-23T10:00:0" + std::to_string(i / 10) + ".000Z";
      const auto cosig = witness->sign(protocol::witness_note(r.checkpoint, r.witnessed_at));
      r.cosignature = to_hex(cosig);
      r.witness_fingerprint = crypto::fingerprint(witness->public_key());
      ASSERT_TRUE(*(*log)->record_receipt(r));
      hub << protocol::to_json(r) << "\n";
    }
    device_pub_ = device->public_key();
    witness_pub_ = witness->public_key();
  }

  fs::path log_file() const { return dir_.path() / "audit.db"; }
  fs::path hub_file() const { return dir_.path() / "hub-checkpoints.jsonl"; }

  VerifyReport run(bool with_hub_export = true) {
    VerifyInputs in;
    in.log = log_file();
    in.device_key = device_pub_;
    in.witness_key = witness_pub_;
    if (with_hub_export) in.hub_checkpoints = hub_file();
    in.partner = "northgate-ed";
    auto r = verify(in);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return r ? *r : VerifyReport{};
  }

  // The attacker's tools.
  void drop_triggers() {
    Sql db(log_file());
    db.exec("DROP TRIGGER events_no_update");
    db.exec("DROP TRIGGER events_no_delete");
    db.exec("DROP TRIGGER checkpoints_no_delete");
    db.exec("DROP TRIGGER checkpoints_receipt_only");
  }
  // Recomputes leaf and chain hashes from `from` to the end, so that the chain is consistent.
  void rewrite_chain_from(std::uint64_t from) {
    auto reader = AuditReader::open(log_file());
    ASSERT_TRUE(reader);
    std::vector<Entry> all;
    ASSERT_TRUE((*reader)->for_each([&](const Entry& e) {
      all.push_back(e);
      return true;
    }));
    reader->reset();
    Sql db(log_file());
    Hash chain{};
    for (const Entry& e : all) {
      if (e.seq < from) {
        chain = e.chain_hash;
        continue;
      }
      const Hash leaf = leaf_hash(e.seq, e.event);
      chain = chain_next(chain, leaf);
      db.exec("UPDATE events SET leaf_hash = '" + to_hex(leaf) + "', chain_hash = '" + to_hex(chain) +
              "' WHERE seq = " + std::to_string(e.seq));
    }
  }
  void append_forged(std::uint64_t seq, const Event& e) {
    Sql db(log_file());
    db.exec("INSERT INTO events VALUES (" + std::to_string(seq) + ", '" + e.time + "', '" + e.actor + "', '" +
            e.action + "', '" + e.object + "', '" + e.details + "', '', '" + std::string(64, '0') + "', '" +
            std::string(64, '0') + "')");
  }

  TempDir dir_;
  crypto::PublicKey device_pub_, witness_pub_;
};

TEST_F(VerifyTest, TheUntouchedLogVerifies) {
  const auto r = run();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.events, 30u);
  EXPECT_EQ(r.checkpoints, 3u);
  EXPECT_EQ(r.checkpoints_witnessed, 3u);
  EXPECT_EQ(r.hub_checkpoints, 3u);
  EXPECT_EQ(r.last_witnessed_seq, 30u);
  EXPECT_FALSE(r.first_bad_seq);
  EXPECT_TRUE(r.notes.empty());
}

TEST_F(VerifyTest, AnEditedRowIsFound) {
  drop_triggers();
  Sql(log_file()).exec(R"(UPDATE events SET details = '{"feed":"ed-assaults","n":999}' WHERE seq = 15)");
  const auto r = run();
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.first_bad_seq);
  EXPECT_EQ(*r.first_bad_seq, 15u);
  EXPECT_NE(r.problem.find("leaf hash"), std::string::npos) << r.problem;
}

TEST_F(VerifyTest, AnEditedRowWithTheChainRewrittenIsFoundByTheCheckpoint) {
  drop_triggers();
  Sql(log_file()).exec("UPDATE events SET actor = 'another-client' WHERE seq = 15");
  rewrite_chain_from(15);
  const auto r = run(/*with_hub_export=*/false);
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.first_bad_seq);
  EXPECT_EQ(*r.first_bad_seq, 11u);  // somewhere after the last checkpoint that still holds
  EXPECT_NE(r.problem.find("checkpoint at seq 20"), std::string::npos) << r.problem;
}

TEST_F(VerifyTest, ADeletedRowIsFound) {
  drop_triggers();
  Sql(log_file()).exec("DELETE FROM events WHERE seq = 15");
  const auto r = run();
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.first_bad_seq);
  EXPECT_EQ(*r.first_bad_seq, 15u);
  EXPECT_NE(r.problem.find("event 15 is missing"), std::string::npos) << r.problem;
}

TEST_F(VerifyTest, ADeletedRowWithTheLogRenumberedIsFound) {
  drop_triggers();
  {
    Sql db(log_file());
    db.exec("DELETE FROM events WHERE seq = 15");
    db.exec("UPDATE events SET seq = seq - 1 WHERE seq > 15");
  }
  rewrite_chain_from(15);
  const auto r = run();
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.first_bad_seq);
  EXPECT_EQ(*r.first_bad_seq, 11u);
}

TEST_F(VerifyTest, TwoSwappedRowsAreFound) {
  drop_triggers();
  {
    Sql db(log_file());
    // Swap the contents of 14 and 15, keeping each position's stored hashes.
    db.exec("UPDATE events SET seq = -14 WHERE seq = 14");
    db.exec("UPDATE events SET seq = -15 WHERE seq = 15");
    db.exec("UPDATE events SET seq = 15 WHERE seq = -14");
    db.exec("UPDATE events SET seq = 14 WHERE seq = -15");
    // Hashes stay with the positions: swap them back so only the contents moved.
    const auto h14 = db.row("SELECT leaf_hash, chain_hash FROM events WHERE seq = 14");
    const auto h15 = db.row("SELECT leaf_hash, chain_hash FROM events WHERE seq = 15");
    db.exec("UPDATE events SET leaf_hash = '" + h15[0] + "', chain_hash = '" + h15[1] + "' WHERE seq = 14");
    db.exec("UPDATE events SET leaf_hash = '" + h14[0] + "', chain_hash = '" + h14[1] + "' WHERE seq = 15");
  }
  const auto r = run();
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.first_bad_seq);
  EXPECT_EQ(*r.first_bad_seq, 14u);
}

TEST_F(VerifyTest, AnInsertedRowIsFound) {
  drop_triggers();
  {
    Sql db(log_file());
    db.exec("UPDATE events SET seq = seq + 1000 WHERE seq >= 15");
    db.exec("UPDATE events SET seq = seq - 999 WHERE seq >= 1015");
  }
  // The inserted row hashes correctly for its place; the rows after it keep theirs.
  Event forged = sample(15);
  forged.object = "forged-object";
  append_forged(15, forged);
  {
    auto reader = AuditReader::open(log_file());
    ASSERT_TRUE(reader);
    Hash prev{};
    ASSERT_TRUE((*reader)->for_each([&](const Entry& e) {
      if (e.seq == 14) prev = e.chain_hash;
      return true;
    }));
    const Hash leaf = leaf_hash(15, forged);
    Sql(log_file()).exec("UPDATE events SET leaf_hash = '" + to_hex(leaf) + "', chain_hash = '" +
                         to_hex(chain_next(prev, leaf)) + "' WHERE seq = 15");
  }
  const auto r = run();
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.first_bad_seq);
  EXPECT_EQ(*r.first_bad_seq, 16u);  // the first original row out of place
}

TEST_F(VerifyTest, AnInsertedRowWithTheChainRewrittenIsFoundByTheCheckpoint) {
  drop_triggers();
  {
    Sql db(log_file());
    db.exec("UPDATE events SET seq = seq + 1000 WHERE seq >= 15");
    db.exec("UPDATE events SET seq = seq - 999 WHERE seq >= 1015");
  }
  append_forged(15, sample(15));
  rewrite_chain_from(15);
  const auto r = run();
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.first_bad_seq);
  EXPECT_EQ(*r.first_bad_seq, 11u);
}

TEST_F(VerifyTest, ATruncatedLogIsFound) {
  drop_triggers();
  Sql(log_file()).exec("DELETE FROM events WHERE seq > 25");
  const auto r = run(/*with_hub_export=*/false);
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.first_bad_seq);
  EXPECT_EQ(*r.first_bad_seq, 26u);
  EXPECT_NE(r.problem.find("cut short"), std::string::npos) << r.problem;
}

TEST_F(VerifyTest, ATruncatedLogWithItsCheckpointsRemovedIsFoundByTheHubsExport) {
  drop_triggers();
  {
    Sql db(log_file());
    db.exec("DELETE FROM events WHERE seq > 25");
    db.exec("DELETE FROM checkpoints WHERE seq > 25");
  }
  // Locally there is nothing left to contradict the cut ...
  EXPECT_TRUE(run(/*with_hub_export=*/false).ok);
  // ... but the hub witnessed seq 30.
  const auto r = run();
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.first_bad_seq);
  EXPECT_EQ(*r.first_bad_seq, 26u);
  EXPECT_NE(r.problem.find("hub"), std::string::npos) << r.problem;
}

TEST_F(VerifyTest, ATruncatedLogWithTheTailRewrittenIsFound) {
  drop_triggers();
  {
    Sql db(log_file());
    db.exec("DELETE FROM events WHERE seq > 25");
  }
  for (int i = 26; i <= 30; ++i) {
    Event e = sample(i);
    e.object = "rewritten-" + std::to_string(i);
    append_forged(static_cast<std::uint64_t>(i), e);
  }
  rewrite_chain_from(26);
  const auto r = run(/*with_hub_export=*/false);
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.first_bad_seq);
  EXPECT_EQ(*r.first_bad_seq, 21u);
  EXPECT_NE(r.problem.find("checkpoint at seq 30"), std::string::npos) << r.problem;
}

TEST_F(VerifyTest, ATailRewrittenWithItsCheckpointsRemovedIsFoundByTheHubsExport) {
  drop_triggers();
  {
    Sql db(log_file());
    db.exec("DELETE FROM events WHERE seq > 25");
    db.exec("DELETE FROM checkpoints WHERE seq > 25");
  }
  for (int i = 26; i <= 30; ++i) {
    Event e = sample(i);
    e.object = "rewritten-" + std::to_string(i);
    append_forged(static_cast<std::uint64_t>(i), e);
  }
  rewrite_chain_from(26);
  EXPECT_TRUE(run(/*with_hub_export=*/false).ok);
  const auto r = run();
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.first_bad_seq);
  EXPECT_EQ(*r.first_bad_seq, 21u);
  EXPECT_NE(r.problem.find("the hub's checkpoint at seq 30"), std::string::npos) << r.problem;
}

TEST_F(VerifyTest, AForgedCheckpointSignatureIsFound) {
  drop_triggers();
  // The attacker rewrites the chain from 15 and signs new checkpoints with a key of their own.
  Sql(log_file()).exec("UPDATE events SET actor = 'another-client' WHERE seq = 15");
  rewrite_chain_from(15);
  ASSERT_TRUE(crypto::generate_signing_key(dir_.path() / "attacker.key", dir_.path() / "attacker.pub"));
  auto attacker = crypto::load_signing_key(dir_.path() / "attacker.key");
  ASSERT_TRUE(attacker);
  {
    Sql db(log_file());
    for (int seq : {20, 30}) {
      const auto row = db.row("SELECT partner, chain_hash, time FROM checkpoints WHERE seq = " + std::to_string(seq));
      const auto chain = db.row("SELECT chain_hash FROM events WHERE seq = " + std::to_string(seq))[0];
      protocol::Checkpoint c{row[0], static_cast<std::uint64_t>(seq), chain, row[2]};
      const auto sig = attacker->sign(protocol::checkpoint_note(c));
      db.exec("UPDATE checkpoints SET chain_hash = '" + chain + "', signature = '" +
              to_hex(sig) + "' WHERE seq = " + std::to_string(seq));
    }
  }
  const auto r = run(/*with_hub_export=*/false);
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.first_bad_seq);
  EXPECT_EQ(*r.first_bad_seq, 20u);
  EXPECT_NE(r.problem.find("device key's signature does not verify"), std::string::npos) << r.problem;
}

TEST_F(VerifyTest, AForgedHubCosignatureIsFound) {
  drop_triggers();
  Sql(log_file()).exec("UPDATE checkpoints SET cosignature = '" + std::string(128, 'a') + "' WHERE seq = 10");
  const auto r = run();
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.first_bad_seq);
  EXPECT_EQ(*r.first_bad_seq, 10u);
  EXPECT_NE(r.problem.find("cosignature"), std::string::npos) << r.problem;
}

TEST_F(VerifyTest, WithoutKeysTheNotesSayWhatWasNotChecked) {
  VerifyInputs in;
  in.log = log_file();
  auto r = verify(in);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->ok);
  EXPECT_EQ(r->notes.size(), 3u);
}

TEST_F(VerifyTest, AMissingLogIsAnError) {
  VerifyInputs in;
  in.log = dir_.path() / "nothing.db";
  EXPECT_FALSE(verify(in));
}

}  // namespace
}  // namespace svd::audit
