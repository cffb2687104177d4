#pragma once
// The JSON documents the upload API answers with (docs/daemon.md, "The API"): the receipt of an accepted
// extract and its status. They name the extract by its id and digest; the uploader's own name
// for it appears only in answers to the uploader's side (never in logs).

#include <string>

#include "deliver/outbox.h"
#include "ingest/extract_store.h"

namespace svd::gateway {

// {"extract_id", "feed", "kind", "name", "sha256", "bytes", "received_at", "status_url"}
std::string receipt_json(const ingest::StoredExtract& e);

// The receipt's fields plus "state", "finished_at", "report" (the validation report as stored,
// or null before processing) and "batches" {total, sent, acknowledged, rejected, records,
// records_acknowledged}.
std::string status_json(const ingest::StoredExtract& e, const deliver::ExtractProgress& progress);

// The stored form of a "nothing to share" return: small, and different for each feed and
// period, so that each return has its own digest (and id) and a re-send is recognised.
std::string nothing_to_share_document(const std::string& feed, const std::string& period);

}  // namespace svd::gateway
