#include "protocol/checkpoint.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "protocol/envelope.h"

namespace svd::protocol {
namespace {

const std::string kChainHash = "5e1f0c9a7d3b2e4f6a8c0b1d3e5f7a9c2b4d6e8f0a1c3e5b7d9f1a3c5e7b9d0f";
const std::string kPrevHash = "0a1b2c3d4e5f60718293a4b5c6d7e8f90123456789abcdef0fedcba987654321";
const std::string kLeaf1 = "1111111111111111111111111111111111111111111111111111111111111111";
const std::string kLeaf2 = "2222222222222222222222222222222222222222222222222222222222222222";
const std::string kSignature = std::string(64, 'a') + std::string(64, 'b');
const std::string kCosignature = std::string(64, 'c') + std::string(64, 'd');
const std::string kFingerprint = "3762 07a3 19a7 a3ce aa62 f488 fa7b 4115";
const std::string kWitnessFingerprint = "68fb e044 e4a9 a76f 789f 0c10 a867 a099";

const std::string kCheckpointJson = "{\"partner\":\"northgate-ed\",\"seq\":42,\"chain_hash\":\"" + kChainHash +
                                    "\",\"time\":\"2026-11-23T09:15:20.123Z\"}";

Checkpoint checkpoint() { return {"northgate-ed", 42, kChainHash, "2026-11-23T09:15:20.123Z"}; }

// Checkpoint 42 extending checkpoint 40 by two leaves.
CheckpointMessage message() {
  CheckpointMessage m;
  m.checkpoint = checkpoint();
  m.signature = kSignature;
  m.key_fingerprint = kFingerprint;
  m.prev = ChainPoint{40, kPrevHash};
  m.leaves = {kLeaf1, kLeaf2};
  return m;
}

// The first checkpoint of a log: no prev, leaves 1 … seq.
CheckpointMessage first_message(std::uint64_t seq) {
  CheckpointMessage m = message();
  m.checkpoint.seq = seq;
  m.prev.reset();
  m.leaves.assign(seq, kLeaf1);
  return m;
}

CheckpointReceipt accepted_receipt() {
  CheckpointReceipt r;
  r.checkpoint = checkpoint();
  r.status = CheckpointStatus::accepted;
  r.witnessed_at = "2026-11-23T09:15:21.456Z";
  r.cosignature = kCosignature;
  r.witness_fingerprint = kWitnessFingerprint;
  return r;
}

// Replaces the one occurrence of `from` (the test is wrong if there is none).
std::string replace(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from << " not in " << text;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

void expect_message_equal(const CheckpointMessage& a, const CheckpointMessage& b) {
  EXPECT_EQ(a.v, b.v);
  EXPECT_EQ(a.checkpoint, b.checkpoint);
  EXPECT_EQ(a.signature, b.signature);
  EXPECT_EQ(a.key_fingerprint, b.key_fingerprint);
  EXPECT_EQ(a.prev, b.prev);
  EXPECT_EQ(a.leaves, b.leaves);
}

void expect_receipt_equal(const CheckpointReceipt& a, const CheckpointReceipt& b) {
  EXPECT_EQ(a.checkpoint, b.checkpoint);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.witnessed_at, b.witnessed_at);
  EXPECT_EQ(a.cosignature, b.cosignature);
  EXPECT_EQ(a.witness_fingerprint, b.witness_fingerprint);
}

// --- notes -------------------------------------------------------------------------------------

TEST(CheckpointNote, ExactBytes) {
  EXPECT_EQ(checkpoint_note(checkpoint()),
            "svd-gateway audit checkpoint v1\n"
            "northgate-ed\n"
            "42\n"
            "5e1f0c9a7d3b2e4f6a8c0b1d3e5f7a9c2b4d6e8f0a1c3e5b7d9f1a3c5e7b9d0f\n"
            "2026-11-23T09:15:20.123Z\n");
}

TEST(CheckpointNote, SeqIsPlainDecimal) {
  Checkpoint c = checkpoint();
  c.seq = 0;
  EXPECT_NE(checkpoint_note(c).find("\n0\n"), std::string::npos);
  c.seq = std::numeric_limits<std::uint64_t>::max();
  EXPECT_NE(checkpoint_note(c).find("\n18446744073709551615\n"), std::string::npos);
}

TEST(CheckpointNote, WitnessNoteExtendsTheCheckpointNote) {
  EXPECT_EQ(witness_note(checkpoint(), "2026-11-23T09:15:21.456Z"),
            "svd-gateway audit checkpoint v1\n"
            "northgate-ed\n"
            "42\n"
            "5e1f0c9a7d3b2e4f6a8c0b1d3e5f7a9c2b4d6e8f0a1c3e5b7d9f1a3c5e7b9d0f\n"
            "2026-11-23T09:15:20.123Z\n"
            "witnessed 2026-11-23T09:15:21.456Z\n");
}

// --- checkpoint messages -----------------------------------------------------------------------

TEST(CheckpointMessage, JsonIsTheWireContract) {
  EXPECT_EQ(to_json(message()),
            "{\"v\":1,\"checkpoint\":" + kCheckpointJson + ",\"signature\":\"" + kSignature +
                "\",\"key_fingerprint\":\"" + kFingerprint + "\",\"prev\":{\"seq\":40,\"chain_hash\":\"" +
                kPrevHash + "\"},\"leaves\":[\"" + kLeaf1 + "\",\"" + kLeaf2 + "\"]}");
  // No prev member at all for the first checkpoint.
  EXPECT_EQ(to_json(first_message(1)).find("prev"), std::string::npos);
}

TEST(CheckpointMessage, RoundTripWithPrev) {
  auto m = parse_checkpoint_message(to_json(message()));
  ASSERT_TRUE(m) << m.error().message();
  expect_message_equal(*m, message());
}

TEST(CheckpointMessage, RoundTripFirstCheckpoint) {
  for (std::uint64_t seq : {0u, 1u, 3u}) {
    auto m = parse_checkpoint_message(to_json(first_message(seq)));
    ASSERT_TRUE(m) << seq << ": " << m.error().message();
    expect_message_equal(*m, first_message(seq));
  }
}

// A restart with no new events checkpoints the same head again: prev.seq == seq, no leaves.
TEST(CheckpointMessage, SameSeqAsPrevWithNoLeaves) {
  CheckpointMessage m = message();
  m.prev->seq = m.checkpoint.seq;
  m.leaves.clear();
  auto parsed = parse_checkpoint_message(to_json(m));
  ASSERT_TRUE(parsed) << parsed.error().message();
  expect_message_equal(*parsed, m);
}

TEST(CheckpointMessage, NullPrevMeansAbsent) {
  const std::string json = to_json(first_message(2));
  auto m = parse_checkpoint_message(replace(json, "\"leaves\"", "\"prev\":null,\"leaves\""));
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_FALSE(m->prev);
}

TEST(CheckpointMessage, UnknownVersionIsUnsupported) {
  for (int v : {0, 2}) {
    CheckpointMessage m = message();
    m.v = v;
    auto parsed = parse_checkpoint_message(to_json(m));
    EXPECT_FALSE(parsed) << v;
    if (!parsed) { EXPECT_EQ(parsed.error(), errc::unsupported_version) << v; }
  }
  // The version is read first: nothing else of a later version is judged.
  EXPECT_EQ(parse_checkpoint_message("{\"v\":2}").error(), errc::unsupported_version);
}

TEST(CheckpointMessage, MalformedValuesAreRefused) {
  struct Case {
    const char* what;
    void (*mutate)(CheckpointMessage&);
  };
  const Case cases[] = {
      {"empty partner", [](CheckpointMessage& m) { m.checkpoint.partner = ""; }},
      {"uppercase partner", [](CheckpointMessage& m) { m.checkpoint.partner = "Northgate"; }},
      {"partner with a slash", [](CheckpointMessage& m) { m.checkpoint.partner = "a/b"; }},
      {"partner starting with -", [](CheckpointMessage& m) { m.checkpoint.partner = "-ed"; }},
      {"partner too long", [](CheckpointMessage& m) { m.checkpoint.partner = std::string(65, 'a'); }},
      {"chain hash short", [](CheckpointMessage& m) { m.checkpoint.chain_hash.pop_back(); }},
      {"chain hash long", [](CheckpointMessage& m) { m.checkpoint.chain_hash += "0"; }},
      {"chain hash uppercase", [](CheckpointMessage& m) { m.checkpoint.chain_hash[0] = 'A'; }},
      {"chain hash not hex", [](CheckpointMessage& m) { m.checkpoint.chain_hash[5] = 'g'; }},
      {"empty time", [](CheckpointMessage& m) { m.checkpoint.time = ""; }},
      {"time too long", [](CheckpointMessage& m) { m.checkpoint.time = std::string(65, '1'); }},
      {"time with a newline", [](CheckpointMessage& m) { m.checkpoint.time += "\nwitnessed x"; }},
      {"time with a space", [](CheckpointMessage& m) { m.checkpoint.time = "2026-11-23 09:15:20Z"; }},
      {"signature short", [](CheckpointMessage& m) { m.signature.pop_back(); }},
      {"signature long", [](CheckpointMessage& m) { m.signature += "a"; }},
      {"signature uppercase", [](CheckpointMessage& m) { m.signature[10] = 'B'; }},
      {"empty fingerprint", [](CheckpointMessage& m) { m.key_fingerprint = ""; }},
      {"fingerprint without spaces", [](CheckpointMessage& m) { m.key_fingerprint = std::string(39, 'a'); }},
      {"fingerprint uppercase", [](CheckpointMessage& m) { m.key_fingerprint[0] = 'F'; }},
      {"prev hash short", [](CheckpointMessage& m) { m.prev->chain_hash.pop_back(); }},
      {"prev hash uppercase", [](CheckpointMessage& m) { m.prev->chain_hash[1] = 'A'; }},
      {"prev after the checkpoint", [](CheckpointMessage& m) { m.prev->seq = 43; }},
      {"leaf short", [](CheckpointMessage& m) { m.leaves[1].pop_back(); }},
      {"leaf uppercase", [](CheckpointMessage& m) { m.leaves[0][0] = 'F'; }},
      {"one leaf too many", [](CheckpointMessage& m) { m.leaves.push_back(kLeaf1); }},
      {"one leaf too few", [](CheckpointMessage& m) { m.leaves.pop_back(); }},
      {"leaves for a first checkpoint counted from prev", [](CheckpointMessage& m) { m.prev.reset(); }},
      {"a prev where leaves start at 1", [](CheckpointMessage& m) { m.prev->seq = 0; }},
  };
  // The unmutated message parses, so each failure below is the mutation's.
  ASSERT_TRUE(parse_checkpoint_message(to_json(message())));
  for (const Case& c : cases) {
    CheckpointMessage m = message();
    c.mutate(m);
    auto parsed = parse_checkpoint_message(to_json(m));
    EXPECT_FALSE(parsed) << c.what;
    if (!parsed) { EXPECT_EQ(parsed.error(), errc::bad_checkpoint) << c.what; }
  }
}

TEST(CheckpointMessage, MalformedJsonAndTypesAreRefused) {
  const std::string good = to_json(message());
  const std::string seq = "\"seq\":42";
  const std::string cases[] = {
      "",
      "not json",
      "[]",
      "\"a string\"",
      good.substr(0, good.size() - 1),
      replace(good, "\"v\":1", "\"v\":\"1\""),
      replace(good, "\"v\":1", "\"v\":1.0"),
      replace(good, "\"v\":1,", ""),
      replace(good, seq, "\"seq\":\"42\""),
      replace(good, seq, "\"seq\":-42"),
      replace(good, seq, "\"seq\":42.0"),
      replace(good, seq, "\"seq\":null"),
      replace(good, "\"partner\":\"northgate-ed\"", "\"partner\":7"),
      replace(good, "\"time\":\"2026-11-23T09:15:20.123Z\"", "\"time\":20261123"),
      replace(good, "\"partner\":\"northgate-ed\",", ""),
      replace(good, "\"signature\":\"" + kSignature + "\",", ""),
      replace(good, "\"key_fingerprint\":\"" + kFingerprint + "\",", ""),
      replace(good, "\"prev\":{\"seq\":40,\"chain_hash\":\"" + kPrevHash + "\"}", "\"prev\":[40]"),
      replace(good, "\"prev\":{\"seq\":40", "\"prev\":{\"seq\":\"40\""),
      replace(good, "\"leaves\":[\"" + kLeaf1 + "\"", "\"leaves\":[1"),
      replace(good, "\"leaves\":[", "\"leaves\":{\"a\":[") + "}",
      "{\"v\":1,\"checkpoint\":[],\"signature\":\"" + kSignature + "\"}",
  };
  int i = 0;
  for (const std::string& text : cases) {
    auto parsed = parse_checkpoint_message(text);
    EXPECT_FALSE(parsed) << i << ": " << text;
    if (!parsed) { EXPECT_EQ(parsed.error(), errc::bad_checkpoint) << i << ": " << text; }
    ++i;
  }
}

TEST(CheckpointMessage, AtMostMaxLeaves) {
  auto at_limit = parse_checkpoint_message(to_json(first_message(kMaxCheckpointLeaves)));
  ASSERT_TRUE(at_limit) << at_limit.error().message();
  EXPECT_EQ(at_limit->leaves.size(), kMaxCheckpointLeaves);

  auto over = parse_checkpoint_message(to_json(first_message(kMaxCheckpointLeaves + 1)));
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error(), errc::bad_checkpoint);

  // The same bound counted from prev.
  CheckpointMessage m = message();
  m.checkpoint.seq = m.prev->seq + kMaxCheckpointLeaves + 1;
  m.leaves.assign(kMaxCheckpointLeaves + 1, kLeaf2);
  EXPECT_EQ(parse_checkpoint_message(to_json(m)).error(), errc::bad_checkpoint);
}

// A seq claiming billions of events is refused on the count, before any leaf is looked at.
TEST(CheckpointMessage, HugeSeqWithoutLeavesIsRefused) {
  CheckpointMessage m = first_message(0);
  m.checkpoint.seq = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(parse_checkpoint_message(to_json(m)).error(), errc::bad_checkpoint);
}

TEST(CheckpointMessage, OversizedPayloadIsRefusedBeforeParsing) {
  const std::string good = to_json(first_message(1));
  // Valid JSON (trailing whitespace) but over 512 KiB.
  const std::string padded = good + std::string((512 << 10) - good.size() + 1, ' ');
  EXPECT_EQ(parse_checkpoint_message(padded).error(), errc::bad_checkpoint);
  // Just within the bound it is fine: the bound is on size, not on the content.
  const std::string within = good + std::string((512 << 10) - good.size(), ' ');
  EXPECT_TRUE(parse_checkpoint_message(within));
}

// --- receipts ----------------------------------------------------------------------------------

TEST(CheckpointReceipt, AcceptedRoundTrip) {
  auto r = parse_checkpoint_receipt(to_json(accepted_receipt()));
  ASSERT_TRUE(r) << r.error().message();
  expect_receipt_equal(*r, accepted_receipt());
}

TEST(CheckpointReceipt, DuplicateRoundTrip) {
  CheckpointReceipt d = accepted_receipt();
  d.status = CheckpointStatus::duplicate;
  auto r = parse_checkpoint_receipt(to_json(d));
  ASSERT_TRUE(r) << r.error().message();
  expect_receipt_equal(*r, d);
  EXPECT_NE(to_json(d).find("\"status\":\"duplicate\""), std::string::npos);
}

TEST(CheckpointReceipt, RejectedRoundTrip) {
  CheckpointReceipt rej;
  rej.checkpoint = checkpoint();
  rej.status = CheckpointStatus::rejected;
  rej.reason = "checkpoint_does_not_extend";
  auto r = parse_checkpoint_receipt(to_json(rej));
  ASSERT_TRUE(r) << r.error().message();
  expect_receipt_equal(*r, rej);
}

// The hub answers a message it could not parse with what it knows: the partner from the topic.
TEST(CheckpointReceipt, RejectionOfAnUnreadableMessage) {
  CheckpointReceipt rej;
  rej.checkpoint.partner = "northgate-ed";
  rej.status = CheckpointStatus::rejected;
  rej.reason = "bad_checkpoint";
  auto r = parse_checkpoint_receipt(to_json(rej));
  ASSERT_TRUE(r) << r.error().message();
  expect_receipt_equal(*r, rej);
}

TEST(CheckpointReceipt, WitnessFingerprintMayBeAbsent) {
  CheckpointReceipt a = accepted_receipt();
  const std::string json =
      replace(to_json(a), ",\"witness_fingerprint\":\"" + kWitnessFingerprint + "\"", "");
  auto r = parse_checkpoint_receipt(json);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->witness_fingerprint, "");
  EXPECT_EQ(r->cosignature, kCosignature);
}

TEST(CheckpointReceipt, MalformedReceiptsAreRefused) {
  struct Case {
    const char* what;
    void (*mutate)(CheckpointReceipt&);
  };
  const Case cases[] = {
      {"accepted without witness time", [](CheckpointReceipt& r) { r.witnessed_at = ""; }},
      {"witness time with a newline", [](CheckpointReceipt& r) { r.witnessed_at += "\n"; }},
      {"accepted without cosignature", [](CheckpointReceipt& r) { r.cosignature = ""; }},
      {"cosignature short", [](CheckpointReceipt& r) { r.cosignature.pop_back(); }},
      {"cosignature uppercase", [](CheckpointReceipt& r) { r.cosignature[0] = 'C'; }},
      {"witness fingerprint malformed", [](CheckpointReceipt& r) { r.witness_fingerprint = "hub key"; }},
      {"accepted with an empty chain hash", [](CheckpointReceipt& r) { r.checkpoint.chain_hash = ""; }},
      {"accepted with an empty time", [](CheckpointReceipt& r) { r.checkpoint.time = ""; }},
      {"accepted with a bad partner", [](CheckpointReceipt& r) { r.checkpoint.partner = "North Gate"; }},
      {"duplicate without cosignature",
       [](CheckpointReceipt& r) {
         r.status = CheckpointStatus::duplicate;
         r.cosignature = "";
       }},
      {"rejected without reason",
       [](CheckpointReceipt& r) {
         r.status = CheckpointStatus::rejected;
         r.reason = "";
       }},
      {"rejected with free text as reason",
       [](CheckpointReceipt& r) {
         r.status = CheckpointStatus::rejected;
         r.reason = "Bad signature!";
       }},
      {"rejected with a malformed chain hash",
       [](CheckpointReceipt& r) {
         r.status = CheckpointStatus::rejected;
         r.reason = "bad_signature";
         r.checkpoint.chain_hash = "abc";
       }},
      {"rejected with a bad partner",
       [](CheckpointReceipt& r) {
         r.status = CheckpointStatus::rejected;
         r.reason = "bad_signature";
         r.checkpoint.partner = "a/b";
       }},
  };
  ASSERT_TRUE(parse_checkpoint_receipt(to_json(accepted_receipt())));
  for (const Case& c : cases) {
    CheckpointReceipt r = accepted_receipt();
    c.mutate(r);
    auto parsed = parse_checkpoint_receipt(to_json(r));
    EXPECT_FALSE(parsed) << c.what;
    if (!parsed) { EXPECT_EQ(parsed.error(), errc::bad_receipt) << c.what; }
  }

  const std::string good = to_json(accepted_receipt());
  const std::string texts[] = {
      "",
      "not json",
      "[]",
      replace(good, "\"status\":\"accepted\"", "\"status\":\"ok\""),
      replace(good, "\"status\":\"accepted\"", "\"status\":1"),
      replace(good, "\"status\":\"accepted\",", ""),
      replace(good, "\"seq\":42", "\"seq\":\"42\""),
      replace(good, kCheckpointJson, "[]"),
      replace(good, kCheckpointJson, "\"northgate-ed 42\""),
      replace(good, "\"witness_fingerprint\":\"" + kWitnessFingerprint + "\"", "\"witness_fingerprint\":5"),
      good + std::string(64 << 10, ' '),
  };
  int i = 0;
  for (const std::string& text : texts) {
    auto parsed = parse_checkpoint_receipt(text);
    EXPECT_FALSE(parsed) << i;
    if (!parsed) { EXPECT_EQ(parsed.error(), errc::bad_receipt) << i; }
    ++i;
  }
}

TEST(CheckpointReceipt, TellsCheckpointReceiptsFromBatchReceipts) {
  const std::string checkpoint_receipt = to_json(accepted_receipt());
  const std::string batch_receipt = to_json(Receipt{"0123456789abcdef0123456789abcdef", ReceiptStatus::accepted, ""});
  EXPECT_TRUE(is_checkpoint_receipt(checkpoint_receipt));
  EXPECT_FALSE(is_checkpoint_receipt(batch_receipt));
  EXPECT_FALSE(is_checkpoint_receipt("not json"));
  EXPECT_FALSE(is_checkpoint_receipt("[{\"checkpoint\":{}}]"));
  EXPECT_FALSE(is_checkpoint_receipt(""));

  // Each parser refuses the other kind, so a misrouted receipt is an error, not a misreading.
  EXPECT_EQ(parse_checkpoint_receipt(batch_receipt).error(), errc::bad_receipt);
  EXPECT_FALSE(parse_receipt(checkpoint_receipt));
  EXPECT_TRUE(parse_receipt(batch_receipt));
}

TEST(CheckpointReceipt, StatusNames) {
  EXPECT_EQ(to_string(CheckpointStatus::accepted), "accepted");
  EXPECT_EQ(to_string(CheckpointStatus::duplicate), "duplicate");
  EXPECT_EQ(to_string(CheckpointStatus::rejected), "rejected");
}

}  // namespace
}  // namespace svd::protocol
