#pragma once
// `svdgw audit verify` and the audit part of `svdgw check-config` (docs/audit.md). The export
// and the report are in audit/export.h and audit/report.h.

#include <filesystem>
#include <optional>

#include "base/errc.h"
#include "config/gateway_config.h"
#include "crypto/signing_key.h"

namespace svd::svdgw {

struct AuditVerifyOptions {
  std::filesystem::path config_file;
  std::optional<std::filesystem::path> log;              // default: <state_dir>/audit.db
  std::optional<std::filesystem::path> device_key;       // a public or private key; default: [audit] device_key
  std::optional<std::filesystem::path> witness_key;      // default: [audit] hub_witness_key
  std::optional<std::filesystem::path> hub_checkpoints;  // svdhub checkpoints export
};

// Prints what it checked and the outcome; 0 if the log verifies, 1 if not or it cannot be read.
int run_audit_verify(const AuditVerifyOptions& options);

// check-config's audit lines: the device key (loaded, so a bad key or mode fails here rather than
// at start) and the witness key; false after printing the problem.
bool print_audit_config(const config::GatewayConfig& cfg);

}  // namespace svd::svdgw
