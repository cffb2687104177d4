#pragma once
// The audit events the gateway records: one builder per action, so every producer writes the
// same shape and the report (audit/report.h) and auditors can rely on it. docs/audit.md lists
// them for people. Details are JSON objects of ids, counts, codes and digests, never a value
// from an extract, a file name or an uploaded name.
// Pure builders; any thread.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "audit/event.h"

namespace svd::audit::events {

// actor: the client's certificate CN or "spool"; object: the extract id.
// details {feed, kind ("extract"|"nothing_to_share"), bytes, sha256}; payload_sha256 = sha256.
// A nothing-to-share return has action "extract.nil_return" and details {feed, period} as well.
Event extract_received(const std::string& client, const std::string& extract_id, const std::string& feed,
                       std::uint64_t bytes, const std::string& sha256);
Event nil_return(const std::string& client, const std::string& extract_id, const std::string& feed,
                 const std::string& period, const std::string& sha256);

struct Processed {
  std::string extract_id, feed, schema, sha256;
  std::string schema_sha256;  // of the feed's schema file as processed: what was shared, provably
  std::vector<std::string> key_ids;
  std::uint64_t rows = 0, valid = 0, rejected = 0;   // data rows
  std::uint64_t filtered = 0;  // outside the schema's svd:filter
  // With the feed's min_group k: the records in groups of fewer than k sharing their
  // quasi-identifiers (counts only); min_group 0 = not counted.
  std::uint64_t min_group = 0, small_group_records = 0;
  std::map<std::string, std::uint64_t> rejected_by_code;  // problems per errc name
  std::uint64_t batches = 0, records = 0;
  std::string refused_reason;  // an errc name when the extract was refused as a whole, else ""
};
// "extract.processed" or "extract.refused" (details carry the reason), actor "gateway".
Event extract_finished(const Processed& p);
// "rows.rejected": {feed, rejected, by_code}; recorded beside extract_finished when rows were.
Event rows_rejected(const Processed& p);

// "upload.refused": an authenticated client's upload or call turned down before anything was
// stored (403, 409, 413, 507, …). actor: client CN; object: the feed; details {status, code}.
Event upload_refused(const std::string& client, const std::string& feed, int status, const std::string& code);

// "batch.published" (actor "gateway", details {extract, feed, seq, records, attempt}) and
// "batch.acknowledged" / "batch.rejected" (actor "hub", details {extract, feed, seq, records,
// status|reason}). object: the batch id.
Event batch_published(const std::string& batch_id, const std::string& extract_id, const std::string& feed,
                      std::uint64_t seq, std::uint64_t records, std::uint32_t attempt);
Event batch_acknowledged(const std::string& batch_id, const std::string& extract_id, const std::string& feed,
                         std::uint64_t seq, std::uint64_t records, const std::string& receipt_status);
Event batch_rejected(const std::string& batch_id, const std::string& extract_id, const std::string& feed,
                     std::uint64_t seq, std::uint64_t records, const std::string& reason);
// "batch.requeued": a rejected batch queued to be sent again (`svdgw requeue`). actor: who ran
// it (the operating-system user); object: the batch id; details {extract, feed, seq, records,
// reason (the hub's, when it was rejected)}.
Event batch_requeued(const std::string& by, const std::string& batch_id, const std::string& extract_id,
                     const std::string& feed, std::uint64_t seq, std::uint64_t records, const std::string& reason);

// "feed.watched" (the gateway starts expecting the feed: {partner, schedule, since}),
// "feed.overdue" ({partner, period, deadline}) and "feed.overdue_cleared" ({partner, period,
// extract}). actor "gateway"; object: the feed.
Event feed_watched(const std::string& feed, const std::string& partner, const std::string& schedule,
                   const std::string& since);
Event feed_overdue(const std::string& feed, const std::string& partner, const std::string& period,
                   const std::string& deadline);
Event feed_overdue_cleared(const std::string& feed, const std::string& partner, const std::string& period,
                           const std::string& extract_id);

// actor "gateway". "gateway.started" {version, partner, config_sha256, schemas}, "gateway.stopped"
// {reason}, "config.reloaded" {config_sha256, schemas}, "config.reload_refused" {reason}, where
// `schemas` is {feed id: SHA-256 of its schema file} for every configured feed, so that a schema
// edited to let another field leave the site leaves a trace even when the TOML is unchanged;
// "key.loaded" (object: key id; {kind: "linkage"|"device", fingerprint}),
// "certificate.loaded" (object: the certificate's role, "upload-server", "hub-client", "client-ca";
// {sha256 of the DER, not_after}).
Event gateway_started(const std::string& version, const std::string& partner, const std::string& config_sha256,
                      const std::map<std::string, std::string>& schemas);
Event gateway_stopped(const std::string& reason);
Event config_reloaded(const std::string& config_sha256, const std::map<std::string, std::string>& schemas);
Event config_reload_refused(const std::string& reason);
Event key_loaded(const std::string& key_id, const std::string& kind, const std::string& fingerprint);
// "key.loaded" for a linkage key: {kind: "linkage", fingerprint, from, until}, the window in which
// its tokens are written (ISO 8601 UTC; "" for an open bound, written as null). Recorded at start
// for every key, and on a reload for every key that is new or whose bytes or window changed.
Event linkage_key_loaded(const std::string& key_id, const std::string& fingerprint, const std::string& from,
                         const std::string& until);
Event certificate_loaded(const std::string& role, const std::string& der_sha256, const std::string& not_after);
// "certificate.refused" (actor "gateway", object: the role as above): a renewed certificate, key,
// CA or CRL that failed its checks, so the last good one stays in use. details {reason}: a fixed
// code (crypto/credentials.h: "expired", "key_mismatch", "untrusted", ...), never file contents.
Event certificate_refused(const std::string& role, const std::string& reason);
// "audit.source_rewound" (actor "gateway", object: the source, "extracts" or "outbox"): the
// source database is older than the audit log's record of it (restored from another moment than
// audit.db), so pending ids up to {last_taken} are issued again; the log takes them from
// {source_last} on instead of skipping them. Events recorded after the source's copy was taken
// and before audit.db's are in the chain; their state changes are not in the source.
Event audit_source_rewound(const std::string& source, std::int64_t last_taken, std::int64_t source_last);

}  // namespace svd::audit::events
