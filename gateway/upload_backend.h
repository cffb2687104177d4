#pragma once
// What an upload means to `svdgw run`: the ingest::ApiBackend behind the HTTPS upload API. It
// admits or refuses a request (feed, client, storage quota), accepts the body into the extract
// store, answers status requests from the store and the outbox, and answers /healthz. Every
// refusal of an authenticated client is recorded in the audit log.
// Threads: admit() and health() on the network thread (they never block); the store and outbox
// work is posted to their own threads, whose io_contexts must outlive this object. Nothing here
// logs a name or an id that could identify someone.

#include <atomic>
#include <functional>
#include <string>

#include "config/gateway_config.h"
#include "gateway/stores.h"
#include "ingest/extract_store.h"
#include "ingest/http_api.h"

namespace svd::audit {
class AuditKeeper;
}

namespace svd::gateway {

class LiveConfig;
class StorageQuota;

class UploadBackend final : public ingest::ApiBackend {
 public:
  struct Parts {
    const LiveConfig& config;
    Stores stores;
    audit::AuditKeeper& audit;
    StorageQuota& storage;
    const std::atomic<bool>& stopping;
    // A new extract (or return) is in the store; on the store thread.
    std::function<void(const ingest::StoredExtract&)> delivered;
    // The /healthz body; on the network thread.
    std::function<ingest::ApiReply()> health;
  };
  explicit UploadBackend(Parts parts) : p_(std::move(parts)) {}

  ingest::Admitted admit(const ingest::Upload& upload, std::optional<std::uint64_t> content_length) override;
  void incoming_file(std::function<void(result<std::filesystem::path>)> done) override;
  void accept(const ingest::Upload& upload, const std::filesystem::path& file, const std::string& sha256,
              std::uint64_t bytes, std::function<void(result<ingest::AcceptResult>)> done) override;
  void status(const std::string& id, const std::string& client, std::function<void(ingest::ApiReply)> done) override;
  ingest::ApiReply health() override { return p_.health(); }

 private:
  Parts p_;
};

// True when `client` is one of the feed's allowed_clients.
bool client_allowed(const config::FeedConfig& feed, const std::string& client);

}  // namespace svd::gateway
