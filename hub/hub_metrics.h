#pragma once
// svdhub's /metrics and /healthz (docs/operations.md, "Metrics at the hub"): what it stored and
// rejected and why, how long since each partner's last batch and since its gateway was last
// online, the feeds overdue now, witness alarms, the intake's pending bytes and the store's
// commit time. The receive loop updates it (after every group, and every minute from the store);
// the operations port reads it. Label values are partner and feed ids from the config, outcomes
// and errc names: a batch from a partner the config does not list counts under partner "other".
//
// Thread-safety: every member may be called from any thread (the registry has its own mutex, the
// rest one of this object's).

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/hub_config.h"
#include "hub/sharing.h"
#include "hub/store.h"
#include "ops/metrics.h"

namespace svd::hub {

class HubMetrics {
 public:
  HubMetrics(ops::Metrics& metrics, std::string_view version, const config::HubReceiverConfig& config);

  // One batch answered: `outcome` accepted, duplicate or rejected (with `reason`, an errc name),
  // its records when stored. `now` for the partner's last batch.
  void batch(std::string_view partner, std::string_view feed, std::string_view outcome, std::string_view reason,
             std::uint64_t records, std::int64_t now);
  // A group's commit took `seconds` (store_group, whether it stored or failed).
  void commit(double seconds, bool ok);
  void witness_alarm(std::string_view partner);
  void broker_connected(bool connected);
  // What the store says, every minute: each gateway's state, the feeds' status (its seconds overdue
  // are counted at each scrape), each partner's last stored batch (Unix seconds).
  void gateways(const std::map<std::string, GatewayState, std::less<>>& latest);
  void feeds(std::vector<OverdueFeed> statuses);
  void last_batches(const std::map<std::string, std::int64_t, std::less<>>& at);
  // When the hub's broker certificate expires.
  void certificate_expiry(config::SystemTime not_after);

  // The text of /metrics at `now`, with the intake's pending bytes.
  std::string render(std::int64_t now, std::size_t pending_bytes);
  // The body of /healthz: {"status","version","broker_connected","store_available",
  // "overdue_feeds":[{"partner","feed","period","overdue_seconds"}],"gateways_offline":[...]}.
  std::string health_json(bool stopping, std::int64_t now) const;

 private:
  std::string label(std::string_view partner) const;

  ops::Metrics& m_;
  std::string version_;
  std::set<std::string, std::less<>> partners_;
  ops::Counter batches_, rejected_, records_, commits_, commit_seconds_, alarms_;
  ops::Gauge last_batch_, since_batch_, online_, since_online_, queued_, overdue_, overdue_seconds_, pending_,
      budget_, commit_last_, connected_, store_up_, build_info_, cert_expiry_;

  mutable std::mutex mutex_;
  std::map<std::string, std::int64_t, std::less<>> last_batch_at_;   // partner -> Unix seconds
  std::map<std::string, GatewayState, std::less<>> gateway_states_;  // partner -> latest
  std::vector<OverdueFeed> statuses_;  // every scheduled feed, as of the last feeds(); seconds at render
  bool broker_connected_ = false, store_ok_ = true;
};

}  // namespace svd::hub
