#include "apps/svdgw/audit_commands.h"

#include <iostream>

#include "audit/verify.h"
#include "config/diagnostic.h"
#include "crypto/signing_key.h"
#include "base/hex.h"

namespace svd::svdgw {

namespace fs = std::filesystem;

int run_audit_verify(const AuditVerifyOptions& options) {
  config::GatewayConfig cfg;
  try {
    cfg = config::load_gateway_config(options.config_file);
  } catch (const config::ConfigError& e) {
    for (const auto& d : e.diagnostics()) std::cerr << d.to_string() << '\n';
    return 1;
  }
  audit::VerifyInputs in;
  in.log = options.log.value_or(cfg.state_dir / "audit.db");
  in.partner = cfg.partner;
  in.hub_checkpoints = options.hub_checkpoints;
  const auto device = options.device_key ? *options.device_key : cfg.audit.device_key;
  if (!device.empty()) {
    auto k = crypto::load_public_half(device);
    if (!k) {
      std::cerr << device.string() << ": " << errc_problem(k.error()) << '\n';
      return 1;
    }
    in.device_key = *k;
  }
  const auto witness = options.witness_key ? *options.witness_key : cfg.audit.hub_witness_key;
  if (!witness.empty()) {
    auto k = crypto::load_public_key(witness);
    if (!k) {
      std::cerr << witness.string() << ": " << errc_problem(k.error()) << '\n';
      return 1;
    }
    in.witness_key = *k;
  }

  auto r = audit::verify(in);
  if (!r) {
    std::cerr << in.log.string() << ": cannot read the audit log"
              << (in.hub_checkpoints ? " or " + in.hub_checkpoints->string() : std::string()) << ": "
              << r.error().message() << '\n';
    return 1;
  }
  std::cout << "audit log " << in.log.string() << '\n'
            << "  events       " << r->events << ", chain head " << to_hex(r->head) << '\n'
            << "  checkpoints  " << r->checkpoints << ", " << r->checkpoints_witnessed
            << " witnessed by the hub (its receipts), up to seq " << r->last_witnessed_seq << '\n';
  if (in.hub_checkpoints) std::cout << "  hub export   " << r->hub_checkpoints << " checkpoint(s) compared\n";
  if (in.device_key) std::cout << "  device key   " << crypto::fingerprint(*in.device_key) << '\n';
  if (in.witness_key) std::cout << "  hub key      " << crypto::fingerprint(*in.witness_key) << '\n';
  for (const auto& n : r->notes) std::cout << "  note: " << n << '\n';
  if (r->ok) {
    std::cout << "OK: the audit log verifies\n";
    return 0;
  }
  std::cout << "FAILED at seq " << r->first_bad_seq.value_or(0) << ": " << r->problem << '\n';
  return 1;
}

bool print_audit_config(const config::GatewayConfig& cfg) {
  if (cfg.audit.device_key.empty()) {
    std::cout << "  audit       hash-chained log; no device key, so no signed checkpoints ([audit] device_key)\n";
    return true;
  }
  auto key = crypto::load_signing_key(cfg.audit.device_key);
  if (!key) {
    std::cerr << cfg.audit.device_key.string() << ": " << errc_problem(key.error()) << '\n';
    std::error_code ec;
    if (key.error() == errc::key_file_unreadable && std::filesystem::exists(cfg.audit.device_key, ec))
      std::cerr << "  the file is there but this user cannot read it: check its owner (svdgw) and mode (0600)\n";
    else if (key.error() == errc::key_file_unreadable)
      std::cerr << "  create one with: svdgw keys generate-device --out " << cfg.audit.device_key.string() << '\n';
    return false;
  }
  std::cout << "  audit       device key " << crypto::fingerprint(key->public_key()) << ", a checkpoint every "
            << cfg.audit.checkpoint_events << " events or " << cfg.audit.checkpoint_minutes << " min";
  if (cfg.audit.hub_witness_key.empty()) {
    std::cout << "; hub receipts not checked (no hub_witness_key)\n";
    return true;
  }
  auto witness = crypto::load_public_key(cfg.audit.hub_witness_key);
  if (!witness) {
    std::cout << '\n';
    std::cerr << cfg.audit.hub_witness_key.string() << ": " << errc_problem(witness.error()) << '\n';
    return false;
  }
  std::cout << "; hub witness key " << crypto::fingerprint(*witness) << '\n';
  return true;
}

}  // namespace svd::svdgw
