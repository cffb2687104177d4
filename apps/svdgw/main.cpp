// svdgw: the gateway's command line. Each subcommand is in a file of its own (command.h).

#include <CLI/CLI.hpp>

#include "apps/svdgw/command.h"
#include "base/version.h"

int main(int argc, char** argv) {
  using namespace svd::svdgw;
  CLI::App app{"svdgw — Serious Violence Duty data-sharing gateway"};
  app.set_version_flag("--version", "svdgw " + std::string(svd::version()));
  app.require_subcommand(1);

  CLI::App* audit_group = nullptr;
  std::vector<Command> commands;
  for (auto add : {add_check_config, add_process, add_forward, add_run, add_submit, add_provision, add_keys,
                    add_requeue, add_disclose}) {
    auto more = add(app);
    commands.insert(commands.end(), more.begin(), more.end());
  }
  auto audit = add_audit(app, audit_group);
  commands.insert(commands.end(), audit.begin(), audit.end());

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    if (status == 0) return 0;
    // The audit tools' usage errors exit 2, so a script tells a mistyped date from an unreadable log.
    return audit_group->parsed() ? 2 : 1;
  }
  for (const auto& c : commands)
    if (c.app->parsed()) return c.run();
  return 1;
}
