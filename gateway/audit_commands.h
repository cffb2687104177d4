#pragma once
// `svdgw audit verify` and the audit part of `svdgw check-config` (docs/audit.md). The export
// and the report are in gateway/audit_export.h and gateway/audit_report.h.

#include <filesystem>
#include <optional>

#include "config/errc.h"
#include "config/gateway_config.h"
#include "crypto/signing_key.h"

namespace svd::gateway {

struct AuditVerifyOptions {
  std::filesystem::path config_file;
  std::optional<std::filesystem::path> log;              // default: <state_dir>/audit.db
  std::optional<std::filesystem::path> device_key;       // a public or private key; default: [audit] device_key
  std::optional<std::filesystem::path> witness_key;      // default: [audit] hub_witness_key
  std::optional<std::filesystem::path> hub_checkpoints;  // svdhub checkpoints export
};

// Prints what it checked and the outcome; 0 if the log verifies, 1 if not or it cannot be read.
int run_audit_verify(const AuditVerifyOptions& options);

// The device key's public half, from a public or a private key file. For a private key "x.key"
// the public "x.pub" beside it (as `svdgw keys generate-device` writes it) is read instead when
// it exists, so an auditor never needs read access to the private key.
result<crypto::PublicKey> device_public_key(const std::filesystem::path& file);

// "<message> [<code>]" for a key file error.
std::string key_problem(const boost::system::error_code& ec);

// check-config's audit lines: the device key (loaded, so a bad key or mode fails here rather than
// at start) and the witness key; false after printing the problem.
bool print_audit_config(const config::GatewayConfig& cfg);

}  // namespace svd::gateway
