// svdgw run: the gateway daemon (gateway/daemon.h).

#include <CLI/CLI.hpp>

#include "apps/svdgw/command.h"
#include "base/version.h"
#include "gateway/daemon.h"

namespace svd::svdgw {

std::vector<Command> add_run(CLI::App& app) {
  auto run_config = std::make_shared<std::filesystem::path>();
  auto* run = app.add_subcommand(
      "run", "Run the gateway daemon: HTTPS upload API, spool directory, processing and forwarding to the hub");
  run->add_option("--config", *run_config, "Gateway config (TOML) with a [hub] section")->required();
  run->footer(
      "Runs until SIGTERM or SIGINT (exit status 0); SIGHUP reloads the config and certificates. Exit status 1: "
      "it could not start (the reasons are logged on stderr).");

  return {{run, [run_config] { return gateway::run_daemon({*run_config, std::string(version())}); }}};
}

}  // namespace svd::svdgw
