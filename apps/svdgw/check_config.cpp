// svdgw check-config: the config, every feed schema and every key file checked, and a summary.

#include <ctime>
#include <iostream>

#include <CLI/CLI.hpp>

#include "apps/svdgw/command.h"
#include "apps/svdgw/common.h"
#include "crypto/signing_key.h"
#include "transport/mqtt.h"

namespace svd::svdgw {
namespace {

// The audit lines: the device key (loaded, so a bad key or mode fails here rather than at start)
// and the witness key; false after printing the problem.
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

}  // namespace

int check_config(const std::filesystem::path& path) {
  auto loaded = load_config_or_explain(path);
  if (!loaded) return 1;
  const config::GatewayConfig& cfg = *loaded;
  auto keys = load_keys_or_explain(cfg);
  if (!keys) return 1;
  std::cout << path.string() << ": OK\n"
            << "  partner     " << cfg.partner << '\n'
            << "  state dir   " << cfg.state_dir.string() << '\n';
  for (const auto& e : keys->entries()) std::cout << "  linkage key " << describe_key(e) << '\n';
  if (keys->entries().size() > 1) {
    std::string now;
    for (const auto& id : keys->ids_in_force(std::time(nullptr))) now += (now.empty() ? "" : " and ") + id;
    std::cout << "  tokens now  under " << now << '\n';
  }
  if (cfg.hub) {
    std::cout << "  hub         " << transport::broker_uri(cfg.hub->broker) << ", MQTT "
              << (cfg.hub->broker.mqtt_version == 5 ? "5" : "3.1.1") << ", certificate "
              << cfg.hub->broker.cert.string() << ", " << cfg.hub->inflight << " in flight, window "
              << cfg.hub->window << ", receipt timeout " << cfg.hub->receipt_timeout_seconds << " s\n";
  } else {
    std::cout << "  hub         none ([hub] is needed to forward)\n";
  }
  if (cfg.http) {
    std::cout << "  upload API  " << cfg.http->listen << " port " << cfg.http->port << ", certificate "
              << cfg.http->cert.string() << ", clients of " << cfg.http->client_ca.string()
              << (cfg.http->crl.empty() ? ", no CRL" : ", CRL " + cfg.http->crl.string()) << ", at most "
              << cfg.http->max_extract_bytes << " bytes per extract\n";
    if (cfg.http->crl.empty()) std::cout << "  warning     " << config::kNoCrlWarning << '\n';
  } else {
    std::cout << "  upload API  none (spool directory only)\n";
  }
  std::cout << "  ops port    " << (cfg.ops.port == 0 ? std::string("off") : cfg.ops.listen + ":" + std::to_string(cfg.ops.port))
            << "; storage quota " << cfg.storage.quota_bytes << " bytes\n";
  if (!print_audit_config(cfg)) return 1;
  for (const auto& f : cfg.feeds) {
    std::size_t shared = 0;
    for (const auto& field : f.schema.fields) shared += field.transform != config::TransformKind::drop;
    std::cout << "  feed " << f.id << ": " << (f.format == config::Format::csv ? "csv" : "jsonl") << ", "
              << (f.encoding == config::TextEncoding::utf8 ? "utf-8" : "windows-1252") << ", schema " << f.schema.name
              << " (" << f.schema.fields.size() << " fields, " << shared << " shared"
              << (f.schema.person ? " + person token" : "") << "), " << f.schedule.to_string()
              << ", refuse above " << f.reject_threshold * 100 << " % bad rows"
              << (f.min_group > 1 ? ", min_group " + std::to_string(f.min_group) +
                                        (f.small_groups == config::SmallGroups::refuse ? " (refuse)" : " (warn)")
                                  : std::string())
              << ", " << f.allowed_clients.size() << " allowed client(s)\n";
  }
  return 0;
}

std::vector<Command> add_check_config(CLI::App& app) {
  auto path = std::make_shared<std::filesystem::path>();
  auto* check = app.add_subcommand("check-config", "Check a gateway config and its feed schemas");
  check->add_option("--config", *path, "Gateway config (TOML)")->required();
  check->footer("Exit status: 0 the config, its schemas and its keys are usable, 1 otherwise (each problem with "
                "file:line and what to do).");
  return {{check, [path] { return check_config(*path); }}};
}

}  // namespace svd::svdgw
