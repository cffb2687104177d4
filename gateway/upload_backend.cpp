#include "gateway/upload_backend.h"

#include <algorithm>
#include <cstdio>
#include <limits>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "audit/events.h"
#include "audit/keeper.h"
#include "base/identity.h"
#include "base/service.h"
#include "deliver/outbox.h"
#include "gateway/api_documents.h"
#include "gateway/live_config.h"
#include "gateway/storage.h"

namespace svd::gateway {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

ingest::ApiReply internal_error() {
  return ingest::problem_reply(500, "internal_error", "Internal Server Error", "The gateway could not read its store.");
}

bool write_document(const fs::path& file, const std::string& doc) {
  std::FILE* f = std::fopen(file.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(doc.data(), 1, doc.size(), f) == doc.size();
  return std::fclose(f) == 0 && ok;
}

// An accepted extract needs room three times over until it is processed and forwarded: its
// file, its batches in the outbox, and the outbox's WAL while they are written.
constexpr std::uint64_t kRoomPerByte = 3;

// An upload's share of the quota while its body arrives: what its Content-Length claims from the
// start, or (chunked) as much as has arrived so far.
class QuotaRoom final : public ingest::BodyRoom {
 public:
  // `refused` runs when a body outgrows the room (the upload is then answered 507).
  QuotaRoom(StorageQuota& storage, std::uint64_t quota, std::function<void()> refused)
      : storage_(storage), quota_(quota), refused_(std::move(refused)) {}
  ~QuotaRoom() override { storage_.release(held_); }
  QuotaRoom(const QuotaRoom&) = delete;
  QuotaRoom& operator=(const QuotaRoom&) = delete;

  bool grow_to(std::uint64_t bytes) override {
    if (bytes <= held_ / kRoomPerByte) return true;
    if (bytes > std::numeric_limits<std::uint64_t>::max() / kRoomPerByte ||
        !storage_.hold(kRoomPerByte * bytes - held_, quota_)) {
      if (refused_) refused_();
      return false;
    }
    held_ = kRoomPerByte * bytes;
    return true;
  }

 private:
  StorageQuota& storage_;
  const std::uint64_t quota_;
  const std::function<void()> refused_;
  std::uint64_t held_ = 0;
};

}  // namespace

bool client_allowed(const config::FeedConfig& feed, const std::string& client) {
  return std::find(feed.allowed_clients.begin(), feed.allowed_clients.end(), client) != feed.allowed_clients.end();
}

ingest::Admitted UploadBackend::admit(const ingest::Upload& upload, std::optional<std::uint64_t> content_length) {
  if (p_.stopping) return ingest::Admission::unavailable;
  const ConfigPtr cfg = p_.config.config();
  const config::FeedConfig* feed = cfg->find_feed(upload.feed);
  // Every refusal of an authenticated client is on record: who tried to share, and why not.
  auto refuse = [&](ingest::Admission a, int status, const char* code) {
    p_.audit.record(audit::events::upload_refused(upload.client, upload.feed, status, code));
    return a;
  };
  if (!feed) return refuse(ingest::Admission::unknown_feed, 404, "unknown_feed");
  if (!client_allowed(*feed, upload.client)) return refuse(ingest::Admission::forbidden, 403, "forbidden");
  // Refusing now (507) is better than accepting what could not then be processed. A chunked body
  // (no length) takes room as it arrives and is refused when it outgrows what is left.
  const std::uint64_t quota = cfg->storage.quota_bytes;
  if (!p_.storage.room_for(0, quota)) return refuse(ingest::Admission::storage_full, 507, "storage_full");
  auto room = std::make_unique<QuotaRoom>(p_.storage, quota, [this, client = upload.client, feed = upload.feed] {
    p_.audit.record(audit::events::upload_refused(client, feed, 507, "storage_full"));
  });
  if (!room->grow_to(content_length.value_or(0))) return ingest::Admission::storage_full;  // recorded by the room
  return {ingest::Admission::ok, std::move(room)};
}

void UploadBackend::incoming_file(std::function<void(result<fs::path>)> done) {
  asio::post(p_.stores.store_io, [this, done = std::move(done)] { done(p_.stores.store.new_incoming()); });
}

// `bytes` is not needed: the store takes the size from the file it fsyncs.
void UploadBackend::accept(const ingest::Upload& upload, const fs::path& file, const std::string& sha256,
                           std::uint64_t /*bytes*/, std::function<void(result<ingest::AcceptResult>)> done) {
  asio::post(p_.stores.store_io, [this, upload, file, sha256, done = std::move(done)] {
    std::optional<std::string> digest = sha256;
    ingest::ExtractKind kind = ingest::ExtractKind::extract;
    if (upload.kind == ingest::UploadKind::nothing_to_share) {
      kind = ingest::ExtractKind::nothing_to_share;
      if (!write_document(file, nothing_to_share_document(upload.feed, upload.name))) {
        std::error_code ec;
        fs::remove(file, ec);
        done(errc::io_error);
        return;
      }
      digest.reset();  // the store hashes the document
    }
    auto r = p_.stores.store.accept(file, upload.feed, upload.name, upload.client, digest, kind);
    if (!r) {
      done(r.error());
      return;
    }
    p_.storage.refresh();
    ingest::AcceptResult out;
    out.extract_id = r->extract.id;
    switch (r->outcome) {
      case ingest::AcceptOutcome::created:
        out.outcome = ingest::AcceptResult::Outcome::created;
        service::log(service::Level::info, "extract " + r->extract.id + " (" + std::string(to_string(kind)) +
                                               ") received from " + upload.client + ", " +
                                               std::to_string(r->extract.bytes) + " bytes");
        p_.delivered(r->extract);
        break;
      case ingest::AcceptOutcome::same: out.outcome = ingest::AcceptResult::Outcome::same; break;
      case ingest::AcceptOutcome::conflict:
        out.outcome = ingest::AcceptResult::Outcome::conflict;
        p_.audit.record(audit::events::upload_refused(upload.client, upload.feed, 409, "conflict"));
        break;
    }
    out.receipt_json = receipt_json(r->extract);
    done(std::move(out));
  });
}

void UploadBackend::status(const std::string& id, const std::string& client, std::function<void(ingest::ApiReply)> done) {
  asio::post(p_.stores.store_io, [this, id, client, done = std::move(done)]() mutable {
    auto e = p_.stores.store.get(id);
    if (!e) {
      done(internal_error());
      return;
    }
    const ConfigPtr cfg = p_.config.config();
    const config::FeedConfig* feed = *e ? cfg->find_feed((*e)->feed) : nullptr;
    // Only a client that may send the feed (or sent this extract) sees it; to anyone else it
    // does not exist. A reserved name is never the sender: the spool's extracts are recorded as
    // sent by "spool" (and the upload API refuses such a CN before this).
    const bool sender = *e && (*e)->client == client && !reserved_client_identity(client);
    if (!*e || (!sender && !(feed && client_allowed(*feed, client)))) {
      done(ingest::problem_reply(404, "not_found", "Not Found", "No extract with this id is visible to this client."));
      return;
    }
    asio::post(p_.stores.outbox_io, [this, extract = std::move(**e), done = std::move(done)] {
      auto progress = p_.stores.outbox.progress(extract.id);
      if (!progress) {
        done(internal_error());
        return;
      }
      done({200, "application/json", status_json(extract, *progress)});
    });
  });
}

}  // namespace svd::gateway
