#pragma once
// The `svdgw` command line, one file per subcommand: each adds its subcommand (options, help,
// exit codes in its footer) to the CLI11 app and says what runs it once the line is parsed.
// Output for people goes to stdout, problems to stderr; neither ever holds a raw identifier.

#include <filesystem>
#include <functional>
#include <vector>

namespace CLI {
class App;
}

namespace svd::svdgw {


struct Command {
  CLI::App* app;              // parsed: this one was given
  std::function<int()> run;   // its exit status
};

std::vector<Command> add_check_config(CLI::App& app);
std::vector<Command> add_process(CLI::App& app);
std::vector<Command> add_forward(CLI::App& app);
std::vector<Command> add_run(CLI::App& app);
std::vector<Command> add_submit(CLI::App& app);
std::vector<Command> add_provision(CLI::App& app);
std::vector<Command> add_keys(CLI::App& app);
std::vector<Command> add_requeue(CLI::App& app);
std::vector<Command> add_disclose(CLI::App& app);
// `audit verify | export | report`; their usage errors exit 2, so `group` is set for the caller
// to tell them apart.
std::vector<Command> add_audit(CLI::App& app, CLI::App*& group);

// `svdgw check-config`, which provision also runs at its end.
int check_config(const std::filesystem::path& config_file);

}  // namespace svd::svdgw
