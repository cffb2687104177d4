#include "hub/status_handler.h"

#include <algorithm>

#include "base/log_safe.h"
#include "protocol/status.h"

namespace svd::hub {

StatusHandler::StatusHandler(Store& store, const config::HubReceiverConfig& config) : store_(store) {
  for (const auto& p : config.partners) known_.insert(p.id);
  // What the store already knows, so that /metrics does not start blank after a restart; the
  // retained messages the broker sends on subscribing bring it up to date anyway.
  if (auto states = store_.gateway_states()) {
    for (auto& s : *states)
      if (known_.contains(s.partner)) latest_[s.partner] = std::move(s);
  }
}

std::string StatusHandler::handle(std::string_view topic, std::string_view payload, std::int64_t now) {
  std::string partner;
  if (!protocol::parse_status_topic(topic, partner)) return "";
  if (!known_.contains(partner)) {
    if (!told_.insert(partner).second) return "";
    return "status of " + log_safe(partner) + ": ignored, not a partner in the config (told once)";
  }
  auto status = protocol::parse_status(payload);
  if (!status) {
    if (!told_.insert(partner).second) return "";
    return "status of " + log_safe(partner) + ": ignored, not a status message (told once)";
  }
  if (!store_.record_status(partner, *status, now)) {
    // The next one comes within a minute; say so once, not every minute.
    if (store_failing_) return "";
    store_failing_ = true;
    return "status of " + log_safe(partner) + ": not recorded (store unavailable)";
  }
  store_failing_ = false;

  GatewayState& s = latest_[partner];
  const bool changed = s.partner.empty() || s.online != status->online;
  s.partner = partner;
  s.online = status->online;
  s.version = status->version;
  s.queued_batches = status->queued_batches;
  s.unacknowledged_records = status->unacknowledged_records;
  s.rejected_batches = status->rejected_batches;
  s.updated_at = now;
  if (const auto at = online_at(*status, now)) s.last_online_at = std::max(s.last_online_at.value_or(*at), *at);
  if (!changed) return "";
  std::string line = "gateway " + log_safe(partner) + ": " + (status->online ? "online" : "offline");
  if (!status->online && status->time.empty()) line += " (its link died: the broker sent its last will)";
  if (status->queued_batches) line += ", " + std::to_string(*status->queued_batches) + " batch(es) queued";
  if (!status->version.empty()) line += ", svdgw " + log_safe(status->version);
  return line;
}

}  // namespace svd::hub
