#include "gateway/options.h"

#include "crypto/signing_key.h"

namespace svd::gateway {

deliver::ForwarderOptions forwarder_options(const config::GatewayConfig& cfg, const config::MqttEndpoint& broker,
                                            std::string version) {
  deliver::ForwarderOptions o;
  o.broker = broker;
  o.partner = cfg.partner;
  o.version = std::move(version);
  o.inflight = static_cast<std::size_t>(cfg.hub->inflight);
  o.window = static_cast<std::size_t>(cfg.hub->window);
  o.receipt_timeout = std::chrono::seconds(cfg.hub->receipt_timeout_seconds);
  o.receipt_timeout_max = std::chrono::seconds(cfg.hub->receipt_timeout_max_seconds);
  return o;
}

result<audit::AuditKeeperOptions> audit_keeper_options(const config::GatewayConfig& cfg, std::string& problem) {
  audit::AuditKeeperOptions o;
  o.state_dir = cfg.state_dir;
  o.partner = cfg.partner;
  o.checkpoint_events = static_cast<std::uint64_t>(cfg.audit.checkpoint_events);
  o.checkpoint_every = std::chrono::minutes(cfg.audit.checkpoint_minutes);
  if (cfg.hub) o.receipt_timeout = std::chrono::seconds(cfg.hub->receipt_timeout_seconds);
  if (!cfg.audit.device_key.empty()) {
    auto device = crypto::load_signing_key(cfg.audit.device_key);
    if (!device) {
      problem = cfg.audit.device_key.string() + ": " + errc_problem(device.error());
      return device.error();
    }
    o.device_key = std::move(*device);
  }
  if (!cfg.audit.hub_witness_key.empty()) {
    auto witness = crypto::load_public_key(cfg.audit.hub_witness_key);
    if (!witness) {
      problem = cfg.audit.hub_witness_key.string() + ": " + errc_problem(witness.error());
      return witness.error();
    }
    o.witness_key = *witness;
  }
  return o;
}

}  // namespace svd::gateway
