#pragma once
// The components' options as the gateway's config sets them, in one place for every command
// that builds them (`svdgw run` and `svdgw forward`). Pure, apart from reading key files.

#include <string>

#include "audit/keeper.h"
#include "config/gateway_config.h"
#include "deliver/forwarder.h"

namespace svd::gateway {

// The forwarder's options from [gateway] and [hub]; `broker` is [hub]'s endpoint, or the same
// with the private copies of its TLS files that the daemon hands Paho. `cfg.hub` must be set.
deliver::ForwarderOptions forwarder_options(const config::GatewayConfig& cfg, const config::MqttEndpoint& broker,
                                            std::string version);

// The audit keeper's options from [gateway], [audit] and [hub], with the device key and the
// hub's witness key loaded. Errors: what loading a key file gives (errc::key_file_*), with
// `problem` set to "<file>: <message> [<code>]".
result<audit::AuditKeeperOptions> audit_keeper_options(const config::GatewayConfig& cfg, std::string& problem);

}  // namespace svd::gateway
