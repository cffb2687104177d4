// svdgw audit verify | export | report: the auditors' tools over the audit log (docs/audit.md).

#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>

#include "apps/svdgw/command.h"
#include "audit/export.h"
#include "audit/report.h"
#include "audit/snapshot.h"
#include "audit/verify.h"
#include "base/hex.h"
#include "config/diagnostic.h"
#include "config/gateway_config.h"
#include "crypto/signing_key.h"

namespace svd::svdgw {
namespace {

struct AuditVerifyOptions {
  std::filesystem::path config_file;
  std::optional<std::filesystem::path> log;              // default: <state_dir>/audit.db
  std::optional<std::filesystem::path> device_key;       // a public or private key; default: [audit] device_key
  std::optional<std::filesystem::path> witness_key;      // default: [audit] hub_witness_key
  std::optional<std::filesystem::path> hub_checkpoints;  // svdhub checkpoints export
};

// Prints what it checked and the outcome; 0 if the log verifies, 1 if not or it cannot be read.
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

}  // namespace

std::vector<Command> add_audit(CLI::App& app, CLI::App*& group) {
  // `svdgw audit ...`: the audit log's tools, one subcommand each. Their usage errors exit 2
  // (see the catch below), so a script tells a mistyped date from an unreadable log.
  auto* audit_group = group =
      app.add_subcommand("audit", "Audit log tools: verify the chain, export the events, report per feed and week");
  audit_group->require_subcommand(1);
  auto verify_options = std::make_shared<AuditVerifyOptions>();
  AuditVerifyOptions& va = *verify_options;
  auto* audit_verify = audit_group->add_subcommand(
      "verify", "Check the audit log's hash chain, its signed checkpoints and the hub's receipts");
  audit_verify->add_option("--config", va.config_file, "Gateway config (TOML); the log is <state_dir>/audit.db")
      ->required();
  audit_verify->add_option("--log", va.log, "Another copy of the log to check (e.g. from a backup)");
  audit_verify->add_option("--device-key", va.device_key,
                           "The gateway's device key, public or private (default: [audit] device_key)");
  audit_verify->add_option("--witness-key", va.witness_key,
                           "The hub's public witness key (default: [audit] hub_witness_key)");
  audit_verify->add_option("--hub-checkpoints", va.hub_checkpoints,
                           "The hub's record of this gateway's checkpoints (svdhub checkpoints export)");
  audit_verify->footer(
      "Names the first bad sequence number and what is wrong with it.\n"
      "Exit status: 0 the log verifies, 1 it does not or cannot be read, 2 bad arguments.");
  auto export_args = std::make_shared<audit::AuditExportArgs>();
  audit::AuditExportArgs& xa = *export_args;
  auto* audit_export = audit_group->add_subcommand(
      "export", "Write the audit events of a date range as CSV or JSON Lines, for auditors' own tools");
  audit_export->add_option("--config", xa.config, "Gateway config (TOML); the log is <state_dir>/audit.db");
  audit_export->add_option("--log", xa.log, "A copy of audit.db to read instead (no config needed)");
  audit_export->add_option("--from", xa.from, "First day, YYYY-MM-DD (UTC)")->required();
  audit_export->add_option("--to", xa.to, "Last day, YYYY-MM-DD (UTC), included whole")->required();
  audit_export->add_option("--feed", xa.feed, "Only the events about this feed");
  audit_export->add_option("--format", xa.format, "csv or jsonl")->required()->check(CLI::IsMember({"csv", "jsonl"}));
  audit_export->add_option("--out", xa.out, "Output file (written whole, then renamed into place; default: stdout)");
  audit_export->footer(
      "Columns: seq,time,actor,action,object,feed,details,payload_sha256,leaf_hash,chain_hash (CSV: RFC 4180 with a "
      "header row, details as the exact JSON text hashed; JSON Lines: details as an object).\n"
      "Give --config, or --log alone: everything the export needs is in the log.\n"
      "Exit status: 0 written, 1 config, log or output error, 2 bad arguments.");
  auto report_args = std::make_shared<audit::AuditReportArgs>();
  audit::AuditReportArgs& ra = *report_args;
  auto* audit_report = audit_group->add_subcommand(
      "report", "Write report.html and report.csv: extracts expected, received, late and missing, rows and "
                "records, per feed and week, and the chain's status");
  audit_report->add_option("--config", ra.config, "Gateway config (TOML); the log is <state_dir>/audit.db");
  audit_report->add_option("--log", ra.log, "A copy of audit.db to read instead (no config needed)");
  audit_report->add_option("--device-key", ra.device_key, "The gateway's device key (public half) to check checkpoints with");
  audit_report->add_option("--witness-key", ra.witness_key, "The hub's witness public key to check its receipts with");
  audit_report->add_option("--from", ra.from, "First day, YYYY-MM-DD (UTC)")->required();
  audit_report->add_option("--to", ra.to, "Last day, YYYY-MM-DD (UTC), included whole")->required();
  audit_report->add_option("--out", ra.out_dir, "Output directory (created if absent)")->required();
  audit_report->footer(
      "Weeks are ISO weeks (Monday to Sunday, UTC); deadlines and period labels are local time: run it in the "
      "gateway's time zone. Give --config, or --log alone (a copy of audit.db: the partner, feeds and schedules are "
      "read from the log; with --device-key and --witness-key the signatures are checked too).\n"
      "Exit status: 0 written and the chain verifies, 3 written but the chain does not verify, 1 config, log or "
      "output error, 2 bad arguments.");

  auto snapshot_args = std::make_shared<audit::AuditSnapshotArgs>();
  auto* audit_snapshot = audit_group->add_subcommand(
      "snapshot", "Write a consistent, group-readable copy of the live audit log for auditors (--log)");
  audit_snapshot->add_option("--config", snapshot_args->config, "Gateway config (TOML); the log is <state_dir>/audit.db");
  audit_snapshot->add_option("--log", snapshot_args->log, "The log to copy instead");
  audit_snapshot->add_option("--out", snapshot_args->out, "The copy (written whole, then renamed into place)")->required();
  audit_snapshot->footer(
      "Safe while svdgw run writes the log. The copy is mode 0640, takes its folder's group, and needs no write "
      "access to be read: auditors in that group run `svdgw audit report --log <copy>` and `export --log`.\n"
      "Exit status: 0 written and its chain verifies, 3 written but the chain does not verify, 1 config, log or "
      "output error, 2 bad arguments.");

  return {{audit_snapshot, [snapshot_args] { return audit::audit_snapshot_main(*snapshot_args); }},
          {audit_verify, [verify_options] { return run_audit_verify(*verify_options); }},
          {audit_export, [export_args] { return audit::audit_export_main(*export_args); }},
          {audit_report, [report_args] { return audit::audit_report_main(*report_args); }}};
}

}  // namespace svd::svdgw
