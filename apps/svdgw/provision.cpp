// svdgw provision: a new appliance set up (gateway/provision.h), then checked as check-config does.

#include <CLI/CLI.hpp>

#include "apps/svdgw/command.h"
#include "gateway/provision.h"

namespace svd::svdgw {

std::vector<Command> add_provision(CLI::App& app) {
  auto options = std::make_shared<gateway::ProvisionOptions>();
  gateway::ProvisionOptions& po = *options;
  auto* provision_cmd = app.add_subcommand(
      "provision", "Set up a new appliance: TLS keys and certificate requests, the audit key, the area's linkage "
                   "key; then check the config");
  provision_cmd->add_option("--config", po.config, "Gateway config (TOML); only its paths are needed")->required();
  provision_cmd->add_option("--linkage-key", po.linkage_key,
                            "The area's linkage key file to install (e.g. from a USB stick); left out, the installed "
                            "key is kept");
  provision_cmd->add_option("--user", po.user,
                            "Owner of the key files (default: svdgw when run as root and that user exists, else you)");
  provision_cmd->add_option("--server-name", po.server_names,
                            "DNS name of the upload API ([http]) in its certificate request; repeatable, the first "
                            "is the CN");
  provision_cmd->add_flag("--force", po.force,
                          "Replace a key file that is not a usable key of its kind, or a linkage key other than "
                          "--linkage-key (the old file is renamed to <file>.old first)");
  provision_cmd->footer(
      "Makes only what is missing: a second run keeps every file. A usable key is never replaced, not even with "
      "--force (to rotate one, move it away and run again). Key files are mode 0600, requests and public keys "
      "0644, new directories 0750. Then runs the checks of svdgw check-config and prints the next steps.\n"
      "Exit status: 0 every file in place and the checks pass (certificates not signed yet are fine), 1 otherwise.");

  return {{provision_cmd, [options] { return gateway::provision_main(*options, check_config); }}};
}

}  // namespace svd::svdgw
