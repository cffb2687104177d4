#pragma once
// The configuration and linkage keys in force in `svdgw run`: read from any thread as one
// consistent snapshot, replaced whole by a reload (SIGHUP). Readers keep the snapshot they took
// for as long as they need it, so a reload never changes what an extract in progress uses.

#include <memory>
#include <mutex>
#include <utility>

#include "config/gateway_config.h"
#include "crypto/key_ring.h"

namespace svd::gateway {

using ConfigPtr = std::shared_ptr<const config::GatewayConfig>;
using KeysPtr = std::shared_ptr<const crypto::KeyRing>;

class LiveConfig {
 public:
  LiveConfig(ConfigPtr cfg, KeysPtr keys) : cfg_(std::move(cfg)), keys_(std::move(keys)) {}

  ConfigPtr config() const {
    std::lock_guard lock(mu_);
    return cfg_;
  }
  KeysPtr keys() const {
    std::lock_guard lock(mu_);
    return keys_;
  }
  // Both at once, so no reader sees a new config with the old keys. Returns the keys before.
  KeysPtr replace(ConfigPtr cfg, KeysPtr keys) {
    std::lock_guard lock(mu_);
    cfg_ = std::move(cfg);
    keys_.swap(keys);
    return keys;
  }

 private:
  mutable std::mutex mu_;
  ConfigPtr cfg_;
  KeysPtr keys_;
};

}  // namespace svd::gateway
