#pragma once
// The wire contract between gateways and the hub (docs/forwarding.md, "Wire format"): topics,
// the batch payload and receipts. Shared by svdgw and svdhub so that both sides agree byte for
// byte.
//
// A batch payload (application/x-ndjson) is one header line, a JSON object
//   {v, batch_id, partner, feed, schema, key_ids, extract: {id, sha256, received_at},
//    seq, last, count, records_sha256[, nil_return]}
// then `count` record lines, each a JSON object followed by '\n'. records_sha256 is the SHA-256
// (hex) of the exact bytes after the first newline, so any consumer in any language checks it
// by slicing, without re-serialising JSON.
// Pure functions; any thread. Parsers fail with the errc codes named below.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/errc.h"

namespace svd::protocol {

constexpr int kVersion = 1;

struct ExtractRef {
  std::string id;           // the gateway's id for the extract
  std::string sha256;       // of the extract as received
  std::string received_at;  // UTC, ISO 8601
};

struct BatchHeader {
  int v = kVersion;
  std::string batch_id;
  std::string partner;
  std::string feed;
  std::string schema;  // schema name
  std::vector<std::string> key_ids;
  ExtractRef extract;
  std::uint64_t seq = 0;  // 0-based within the extract
  bool last = false;
  std::uint64_t count = 0;
  std::string records_sha256;
  // The extract is an explicit "nothing to share" return (one empty last batch). Sent only when
  // true: a hub before it ignores the field, and a gateway before it never sends one.
  bool nil_return = false;
};

// Derived from the extract's digest and the sequence number (and the partner and feed, so two
// partners sending identical bytes never collide), so re-processing an extract after a crash
// yields the same ids and the hub can de-duplicate: the first 32 hex digits of
// SHA-256("svd-batch-v1" 0x00 partner 0x00 feed 0x00 extract_sha256 0x00 seq).
// svdhub computes it again from the topic's partner and feed and refuses any other id
// (batch_id_mismatch): the id is never the sender's to choose.
std::string batch_id_for(std::string_view partner, std::string_view feed, std::string_view extract_sha256,
                         std::uint64_t seq);

// The payload: `header` with count and records_sha256 filled in from `records`, which must be
// complete record lines (each ending in '\n'; empty for an empty batch).
std::string make_batch_payload(BatchHeader header, std::string_view records);

struct Batch {
  BatchHeader header;
  std::string_view records;  // into the payload given to parse_batch
};

// Checks the header's fields and types, the version, records_sha256 and count. Errors:
// bad_envelope, unsupported_version, records_digest_mismatch, record_count_mismatch.
result<Batch> parse_batch(std::string_view payload);

// The batch_id of a payload whose header line is a JSON object with a string batch_id, else "".
// For answering a batch that failed parse_batch, so the sender can match the rejection.
std::string peek_batch_id(std::string_view payload);

// Topics. Ids are [a-z0-9-] (valid_identity), so they never contain '/', '+' or '#'.
std::string batch_topic(std::string_view partner, std::string_view feed);
std::string receipt_topic(std::string_view partner);
std::string audit_topic(std::string_view partner);
std::string status_topic(std::string_view partner);

// The partner and feed of a batch topic "svd/v1/{partner}/{feed}/batch"; false otherwise.
bool parse_batch_topic(std::string_view topic, std::string& partner, std::string& feed);

enum class ReceiptStatus { accepted, duplicate, rejected };

struct Receipt {
  std::string batch_id;
  ReceiptStatus status = ReceiptStatus::accepted;
  std::string reason;  // an errc name for rejections; never record content
};

std::string to_json(const Receipt& r);
result<Receipt> parse_receipt(std::string_view json);
std::string_view to_string(ReceiptStatus s);

}  // namespace svd::protocol
