#include "protocol/envelope.h"

#include <gtest/gtest.h>

#include "crypto/sha256.h"

namespace svd::protocol {
namespace {

const std::string kRecords = "{\"a\":1}\n{\"a\":2,\"s\":\"x\\ny\"}\n";

BatchHeader header() {
  BatchHeader h;
  h.batch_id = batch_id_for("northgate-ed", "ed-assaults", std::string(64, 'a'), 0);
  h.partner = "northgate-ed";
  h.feed = "ed-assaults";
  h.schema = "ed-assaults";
  h.key_ids = {"k2026a"};
  h.extract = {"ex-1", std::string(64, 'a'), "2026-11-23T09:00:00Z"};
  h.seq = 0;
  h.last = true;
  return h;
}

TEST(Envelope, RoundTrip) {
  std::string payload = make_batch_payload(header(), kRecords);
  auto b = parse_batch(payload);
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(b->header.batch_id, header().batch_id);
  EXPECT_EQ(b->header.partner, "northgate-ed");
  EXPECT_EQ(b->header.key_ids, std::vector<std::string>{"k2026a"});
  EXPECT_EQ(b->header.extract.sha256, std::string(64, 'a'));
  EXPECT_EQ(b->header.count, 2u);
  EXPECT_TRUE(b->header.last);
  EXPECT_EQ(b->records, kRecords);
}

// Any consumer can check the digest by slicing after the first newline: no JSON needed.
TEST(Envelope, RecordsDigestIsOverTheBytesAfterTheHeaderLine) {
  std::string payload = make_batch_payload(header(), kRecords);
  std::string after = payload.substr(payload.find('\n') + 1);
  EXPECT_EQ(after, kRecords);
  EXPECT_NE(payload.find("\"records_sha256\":\"" + crypto::sha256_hex(after) + "\""), std::string::npos);
  EXPECT_EQ(payload.find("\"v\":1"), 1u);
}

TEST(Envelope, TamperingIsDetected) {
  const std::string payload = make_batch_payload(header(), kRecords);
  std::string edited = payload;
  edited[edited.size() - 3] = 'z';
  EXPECT_EQ(parse_batch(edited).error(), errc::records_digest_mismatch);
  std::string truncated = payload.substr(0, payload.size() - 8);
  EXPECT_EQ(parse_batch(truncated).error(), errc::records_digest_mismatch);
  std::string appended = payload + "{\"a\":3}\n";
  EXPECT_EQ(parse_batch(appended).error(), errc::records_digest_mismatch);
}

TEST(Envelope, CountMustMatch) {
  std::string payload = make_batch_payload(header(), kRecords);
  std::string::size_type at = payload.find("\"count\":2");
  ASSERT_NE(at, std::string::npos);
  payload.replace(at, 9, "\"count\":3");
  EXPECT_EQ(parse_batch(payload).error(), errc::record_count_mismatch);
}

TEST(Envelope, MalformedHeaders) {
  EXPECT_EQ(parse_batch("").error(), errc::bad_envelope);
  EXPECT_EQ(parse_batch("{\"v\":1}").error(), errc::bad_envelope);  // no newline at all
  EXPECT_EQ(parse_batch("not json\n").error(), errc::bad_envelope);
  EXPECT_EQ(parse_batch("[1]\n").error(), errc::bad_envelope);
  std::string payload = make_batch_payload(header(), kRecords);
  std::string no_feed = payload;
  no_feed.replace(no_feed.find("\"feed\""), 6, "\"food\"");
  EXPECT_EQ(parse_batch(no_feed).error(), errc::bad_envelope);
  std::string v2 = payload;
  v2.replace(v2.find("\"v\":1"), 5, "\"v\":2");
  EXPECT_EQ(parse_batch(v2).error(), errc::unsupported_version);
  std::string big(70000, ' ');
  EXPECT_EQ(parse_batch(big + "\n").error(), errc::bad_envelope);
}

TEST(Envelope, EmptyBatch) {
  auto b = parse_batch(make_batch_payload(header(), ""));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->header.count, 0u);
  EXPECT_EQ(b->records, "");
}

// A nothing-to-share return says so; other batches do not carry the field at all, which is how
// gateways before it wrote them (and hubs before it ignore it).
TEST(Envelope, ANilReturnIsMarkedAndOtherBatchesAreAsBefore) {
  BatchHeader nil = header();
  nil.nil_return = true;
  const std::string payload = make_batch_payload(nil, "");
  EXPECT_NE(payload.find(",\"nil_return\":true}"), std::string::npos) << payload;
  auto b = parse_batch(payload);
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->header.nil_return);
  const std::string plain = make_batch_payload(header(), kRecords);
  EXPECT_EQ(plain.find("nil_return"), std::string::npos) << plain;
  EXPECT_FALSE(parse_batch(plain)->header.nil_return);
  std::string wrong = payload;
  wrong.replace(wrong.find("\"nil_return\":true"), 17, "\"nil_return\":\"y\"");
  EXPECT_EQ(parse_batch(wrong).error(), errc::bad_envelope);
}

TEST(BatchId, DeterministicAndDistinct) {
  const std::string sha(64, 'c');
  EXPECT_EQ(batch_id_for("p", "f", sha, 3), batch_id_for("p", "f", sha, 3));
  EXPECT_EQ(batch_id_for("p", "f", sha, 3).size(), 32u);
  EXPECT_NE(batch_id_for("p", "f", sha, 3), batch_id_for("p", "f", sha, 4));
  EXPECT_NE(batch_id_for("p", "f", sha, 3), batch_id_for("q", "f", sha, 3));
  EXPECT_NE(batch_id_for("p", "f", sha, 3), batch_id_for("p", "g", sha, 3));
  EXPECT_NE(batch_id_for("p", "f", sha, 3), batch_id_for("p", "f", std::string(64, 'd'), 3));
  // Separators keep fields apart: ("ab","c") and ("a","bc") differ.
  EXPECT_NE(batch_id_for("ab", "c", sha, 0), batch_id_for("a", "bc", sha, 0));
}

TEST(Topics, BuildAndParse) {
  EXPECT_EQ(batch_topic("northgate-ed", "ed-assaults"), "svd/v1/northgate-ed/ed-assaults/batch");
  EXPECT_EQ(receipt_topic("p"), "svd/v1/p/receipt");
  EXPECT_EQ(audit_topic("p"), "svd/v1/p/audit");
  EXPECT_EQ(status_topic("p"), "svd/v1/p/status");
  std::string partner, feed;
  ASSERT_TRUE(parse_batch_topic("svd/v1/northgate-ed/ed-assaults/batch", partner, feed));
  EXPECT_EQ(partner, "northgate-ed");
  EXPECT_EQ(feed, "ed-assaults");
  for (const char* bad : {"svd/v1/p/batch", "svd/v1//f/batch", "svd/v1/p//batch", "svd/v1/p/f/x/batch",
                          "svd/v2/p/f/batch", "svd/v1/p/f/receipt"})
    EXPECT_FALSE(parse_batch_topic(bad, partner, feed)) << bad;
}

TEST(Receipt, RoundTripAndErrors) {
  Receipt r{"abc", ReceiptStatus::rejected, "records_digest_mismatch"};
  auto back = parse_receipt(to_json(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->batch_id, "abc");
  EXPECT_EQ(back->status, ReceiptStatus::rejected);
  EXPECT_EQ(back->reason, "records_digest_mismatch");
  EXPECT_EQ(parse_receipt("{\"batch_id\":\"x\",\"status\":\"maybe\"}").error(), errc::bad_receipt);
  EXPECT_EQ(parse_receipt("{\"status\":\"accepted\"}").error(), errc::bad_receipt);
  EXPECT_EQ(parse_receipt("nope").error(), errc::bad_receipt);
}

}  // namespace
}  // namespace svd::protocol

namespace svd::protocol {
namespace {

TEST(PeekBatchId, ReadsTheHeaderOfABatchThatFailedItsChecks) {
  std::string payload = make_batch_payload(header(), kRecords);
  payload[payload.size() - 3] = 'z';  // digest no longer matches
  ASSERT_FALSE(parse_batch(payload));
  EXPECT_EQ(peek_batch_id(payload), header().batch_id);
  EXPECT_EQ(peek_batch_id("not json\n"), "");
  EXPECT_EQ(peek_batch_id("{\"batch_id\":7}\n"), "");
  EXPECT_EQ(peek_batch_id("{\"batch_id\":\"abc\"}"), "");  // no header line at all
}

}  // namespace
}  // namespace svd::protocol
