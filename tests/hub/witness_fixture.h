#pragma once
// The witness test fixture: a gateway's device key, the hub's witness key, an independent hash
// chain, and a Witness on a store in a temporary folder. Shared by the witness's unit tests and
// the svdhub command tests that read what it stored.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <sstream>

#include "base/hex.h"
#include "crypto/sha256.h"
#include "crypto/signing_key.h"
#include "hub/witness.h"
#include "protocol/checkpoint.h"
#include "tests/support/temp_dir.h"

namespace svd::hub::testing {

namespace fs = std::filesystem;
using protocol::CheckpointStatus;

inline constexpr const char* kPartner = "northgate-ed";
inline constexpr const char* kOther = "southgate-ed";

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}


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
    m.checkpoint = {kPartner, to, to_hex(chain.chain[to]), std::move(time)};
    if (from > 0) m.prev = protocol::ChainPoint{from, to_hex(chain.chain[from])};
    for (std::uint64_t n = from + 1; n <= to; ++n) m.leaves.push_back(to_hex(chain.leaves[n]));
    sign(m, key);
    return m;
  }
  void sign(protocol::CheckpointMessage& m, const crypto::SigningKey& key) {
    const crypto::Signature s = key.sign(protocol::checkpoint_note(m.checkpoint));
    m.signature = to_hex(s);
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

}  // namespace svd::hub::testing
