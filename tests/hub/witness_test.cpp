// The hub as witness of the gateways' audit checkpoints: what it accepts, cosigns, answers as a
// duplicate, and raises as an alarm; what it stores, and what `svdhub checkpoints` and `svdhub
// stats` show of it.

#include "hub/witness.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "crypto/sha256.h"
#include "crypto/signing_key.h"
#include "protocol/checkpoint.h"
#include "tests/support/temp_dir.h"

namespace svd::hub {
namespace {

namespace fs = std::filesystem;
using protocol::CheckpointStatus;

constexpr const char* kPartner = "northgate-ed";
constexpr const char* kOther = "southgate-ed";

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string hex(const std::array<unsigned char, 32>& h) { return crypto::to_hex(h.data(), h.size()); }

// A tiny audit log: leaf_n = SHA-256("event n"), chain_0 = zeros, chain_n = SHA-256(chain_{n-1} ||
// leaf_n), computed here independently of the witness.
struct Chain {
  explicit Chain(std::string salt = "") {
    chain.push_back({});
    leaves.push_back({});
    for (int n = 1; n <= 20; ++n) {
      crypto::Sha256 l;
      l.update(salt + "event " + std::to_string(n));
      leaves.push_back(l.finish());
      crypto::Sha256 c;
      c.update(std::string_view(reinterpret_cast<const char*>(chain.back().data()), 32));
      c.update(std::string_view(reinterpret_cast<const char*>(leaves.back().data()), 32));
      chain.push_back(c.finish());
    }
  }
  std::vector<std::array<unsigned char, 32>> chain, leaves;  // index = seq
};

class WitnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::generate_signing_key(dir_ / "device.key", dir_ / "device.pub"));
    ASSERT_TRUE(crypto::generate_signing_key(dir_ / "forger.key", dir_ / "forger.pub"));
    ASSERT_TRUE(crypto::generate_signing_key(dir_ / "witness.key", dir_ / "witness.pub"));
    auto device = crypto::load_signing_key(dir_ / "device.key");
    auto forger = crypto::load_signing_key(dir_ / "forger.key");
    ASSERT_TRUE(device && forger);
    device_.emplace(std::move(*device));
    forger_.emplace(std::move(*forger));
    auto witness_pub = crypto::load_public_key(dir_ / "witness.pub");
    ASSERT_TRUE(witness_pub);
    witness_pub_ = *witness_pub;
    reopen();
  }
  void TearDown() override { witness_.reset(); }

  void reopen() {
    witness_.reset();
    auto key = crypto::load_signing_key(dir_ / "witness.key");
    ASSERT_TRUE(key);
    auto device_pub = crypto::load_public_key(dir_ / "device.pub");
    ASSERT_TRUE(device_pub);
    std::map<std::string, crypto::PublicKey, std::less<>> devices{{kPartner, *device_pub}};
    auto w = Witness::open(db(), std::move(*key), std::move(devices), log_, [this] { return now_; });
    ASSERT_TRUE(w);
    witness_ = std::move(*w);
  }

  fs::path db() const { return dir_ / "hub.db"; }

  // The message a gateway sends for the checkpoint at `to`, extending the one at `from` (none
  // when from is 0), signed with `key`.
  protocol::CheckpointMessage message(std::uint64_t from, std::uint64_t to, const Chain& chain,
                                      const crypto::SigningKey& key, std::string time = "2026-11-23T09:00:00.000Z") {
    protocol::CheckpointMessage m;
    m.checkpoint = {kPartner, to, hex(chain.chain[to]), std::move(time)};
    if (from > 0) m.prev = protocol::ChainPoint{from, hex(chain.chain[from])};
    for (std::uint64_t n = from + 1; n <= to; ++n) m.leaves.push_back(hex(chain.leaves[n]));
    sign(m, key);
    return m;
  }
  void sign(protocol::CheckpointMessage& m, const crypto::SigningKey& key) {
    const crypto::Signature s = key.sign(protocol::checkpoint_note(m.checkpoint));
    m.signature = crypto::to_hex(s.data(), s.size());
    m.key_fingerprint = crypto::fingerprint(key.public_key());
  }
  protocol::CheckpointMessage message(std::uint64_t from, std::uint64_t to) { return message(from, to, chain_, *device_); }

  WitnessOutcome handle(const protocol::CheckpointMessage& m, std::string_view partner = kPartner) {
    auto out = witness_->handle(partner, protocol::to_json(m));
    EXPECT_TRUE(out) << out.error().message();
    return out ? *out : WitnessOutcome{};
  }

  void expect_alarm(const WitnessOutcome& out, std::string_view reason) {
    EXPECT_EQ(out.receipt.status, CheckpointStatus::rejected);
    EXPECT_EQ(out.receipt.reason, reason);
    EXPECT_TRUE(out.alarm);
  }

  bool cosignature_verifies(const protocol::CheckpointReceipt& r) {
    std::vector<unsigned char> sig;
    if (r.cosignature.size() != 128) return false;
    for (std::size_t i = 0; i < 128; i += 2) sig.push_back(static_cast<unsigned char>(std::stoi(r.cosignature.substr(i, 2), nullptr, 16)));
    return crypto::verify_signature(witness_pub_, protocol::witness_note(r.checkpoint, r.witnessed_at), sig);
  }

  std::uint64_t alarm_count() {
    auto stats = read_witness_stats(db());
    EXPECT_TRUE(stats);
    for (const auto& w : stats ? *stats : std::vector<WitnessStats>{})
      if (w.partner == kPartner) return w.alarms;
    return 0;
  }

  std::vector<protocol::CheckpointReceipt> exported() {
    auto r = read_witnessed_checkpoints(db(), kPartner);
    EXPECT_TRUE(r);
    return r ? *r : std::vector<protocol::CheckpointReceipt>{};
  }

  test_support::TempDir tmp_{"svd-witness"};
  const fs::path& dir_ = tmp_.path();
  std::optional<crypto::SigningKey> device_, forger_;
  crypto::PublicKey witness_pub_;
  // 2026-11-23T09:15:20.123Z
  std::chrono::system_clock::time_point now_{std::chrono::milliseconds(1795425320123)};
  std::ostringstream log_;
  std::unique_ptr<Witness> witness_;
  Chain chain_;
};

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
  m.checkpoint.chain_hash = hex(chain_.chain[2]);
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
  m.prev->chain_hash = hex(chain_.chain[6]);
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
  m.leaves[1] = hex(Chain("rewritten ").leaves[2]);
  expect_alarm(handle(m), "checkpoint_does_not_extend");
  // A signed chain hash that the (genuine) leaves do not reach.
  const Chain other("other ");
  auto wrong = message(0, 3);
  wrong.checkpoint.chain_hash = hex(other.chain[3]);
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
  at7.prev = protocol::ChainPoint{3, hex(chain_.chain[3])};
  expect_alarm(handle(at7), "checkpoint_does_not_extend");
  auto alarms = read_alarms(db());
  ASSERT_TRUE(alarms);
  ASSERT_EQ(alarms->size(), 2u);
  EXPECT_NE((*alarms)[0].detail.find("seq 3 was accepted with chain hash " + hex(chain_.chain[3])), std::string::npos)
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

// `svdhub checkpoints export|alarms` and `svdhub stats` on a store the witness wrote.
class WitnessCliTest : public WitnessTest {
 protected:
  struct RunResult {
    int exit_code = -1;
    std::string out, err;
  };
  RunResult svdhub(const std::string& args) {
    std::ofstream(dir_ / "svdhub.toml") << "[store]\ndatabase = \"hub.db\"\n"
                                        << "[broker]\nhost = \"127.0.0.1\"\nca = \"ca.crt\"\ncert = \"c.crt\"\n"
                                        << "key = \"c.key\"\n"
                                        << "[[feed]]\nid = \"ed-assaults\"\nschema = \"" << SVD_EXAMPLES_DIR
                                        << "/schemas/ed-assaults.json\"\n"
                                        << "[witness]\nkey = \"witness.key\"\n"
                                        << "[[partner]]\nid = \"northgate-ed\"\ndevice_key = \"device.pub\"\n";
    RunResult r;
    const fs::path out = dir_ / "stdout.txt", err = dir_ / "stderr.txt";
    const std::string cmd = std::string("'") + SVD_SVDHUB + "' " + args + " --config '" + (dir_ / "svdhub.toml").string() +
                            "' >'" + out.string() + "' 2>'" + err.string() + "'";
    const int status = std::system(cmd.c_str());
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_file(out);
    r.err = read_file(err);
    return r;
  }
};

TEST_F(WitnessCliTest, ExportWritesOneReceiptPerLine) {
  ASSERT_EQ(handle(message(0, 3)).receipt.status, CheckpointStatus::accepted);
  ASSERT_EQ(handle(message(3, 5)).receipt.status, CheckpointStatus::accepted);
  RunResult r = svdhub("checkpoints export --partner northgate-ed");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  std::vector<std::uint64_t> seqs;
  while (std::getline(lines, line)) {
    auto receipt = protocol::parse_checkpoint_receipt(line);
    ASSERT_TRUE(receipt) << line;
    EXPECT_TRUE(cosignature_verifies(*receipt));
    seqs.push_back(receipt->checkpoint.seq);
  }
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{3, 5}));

  RunResult to_file = svdhub("checkpoints export --partner northgate-ed --out '" + (dir_ / "hub.jsonl").string() + "'");
  ASSERT_EQ(to_file.exit_code, 0) << to_file.err;
  EXPECT_EQ(read_file(dir_ / "hub.jsonl"), r.out);
  EXPECT_FALSE(fs::exists(dir_ / "hub.jsonl.part"));

  RunResult none = svdhub("checkpoints export --partner southgate-ed");
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(none.out, "");
  EXPECT_EQ(svdhub("checkpoints export --partner 'North/Gate'").exit_code, 1);
  EXPECT_EQ(svdhub("checkpoints export").exit_code, 1);  // --partner is required
}

TEST_F(WitnessCliTest, AlarmsAndStatsShowWhatWasRaised) {
  ASSERT_EQ(handle(message(0, 3)).receipt.status, CheckpointStatus::accepted);
  expect_alarm(handle(message(3, 5, chain_, *forger_)), "bad_signature");
  RunResult alarms = svdhub("checkpoints alarms");
  ASSERT_EQ(alarms.exit_code, 0) << alarms.err;
  EXPECT_NE(alarms.out.find("2026-11-23T09:15:20.123Z partner northgate-ed checkpoint seq 5: bad_signature ("),
            std::string::npos)
      << alarms.out;
  EXPECT_NE(alarms.out.find("1 audit alarm(s) stored\n"), std::string::npos) << alarms.out;
  EXPECT_NE(svdhub("checkpoints alarms --partner southgate-ed").out.find("0 audit alarm(s) stored\n"),
            std::string::npos);

  // A store with no batches yet, only checkpoints: stats still reads it.
  sqlite3* db_handle = nullptr;
  ASSERT_EQ(sqlite3_open(db().c_str(), &db_handle), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db_handle,
                         "CREATE TABLE IF NOT EXISTS batches (partner TEXT, batch_id TEXT, feed TEXT, extract_id TEXT, "
                         "seq INTEGER, last INTEGER, records INTEGER, received_at INTEGER)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db_handle);
  RunResult stats = svdhub("stats");
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_NE(stats.out.find("  audit checkpoints witnessed:\n"
                           "    northgate-ed: 1 checkpoints, last seq 3 witnessed 2026-11-23T09:15:20.123Z; "
                           "audit alarms: 1, last 2026-11-23T09:15:20.123Z\n"),
            std::string::npos)
      << stats.out;
}

TEST_F(WitnessCliTest, CheckConfigLoadsTheKeys) {
  RunResult ok = svdhub("check-config");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("witness key " + crypto::fingerprint(witness_pub_) + " for 1 partner(s)"), std::string::npos)
      << ok.out;
  fs::remove(dir_ / "device.pub");
  RunResult missing = svdhub("check-config");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("device.pub: cannot load the device key of partner northgate-ed"), std::string::npos)
      << missing.err;
  fs::permissions(dir_ / "witness.key", fs::perms::group_read, fs::perm_options::add);
  RunResult loose = svdhub("check-config");
  EXPECT_EQ(loose.exit_code, 1);
  EXPECT_NE(loose.err.find("witness.key: cannot load the [witness] key"), std::string::npos) << loose.err;
}

}  // namespace
}  // namespace svd::hub
