// svdhub: the reference receiver at the force. `svdhub run --config FILE` stores every gateway's
// batches and answers each with a receipt; `svdhub check-config` checks the config; `svdhub stats`
// shows what the store holds (read-only, also while `run` is running).

#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>

#include "config/diagnostic.h"
#include "config/hub_config.h"
#include "hub/hub_store.h"
#include "hub/receiver.h"
#include "hub/store_stats.h"

namespace {

std::atomic<bool> g_stop{false};  // set from the signal handler; lock-free, so async-signal-safe

extern "C" void on_signal(int) { g_stop = true; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"svdhub — receives pseudonymised batches from svd-gateway appliances"};
  app.set_version_flag("--version", "svdhub 0.1.0");
  app.require_subcommand(1);
  std::filesystem::path config_path;
  auto* run = app.add_subcommand("run", "Receive, store and answer batches until SIGTERM/SIGINT");
  run->add_option("--config", config_path, "svdhub config (TOML)")->required();
  auto* check = app.add_subcommand("check-config", "Check the config and its feed schemas");
  check->add_option("--config", config_path, "svdhub config (TOML)")->required();
  auto* stats = app.add_subcommand(
      "stats", "Show what the store holds: records and batches per feed and partner, and when each partner last sent");
  stats->add_option("--config", config_path, "svdhub config (TOML)")->required();
  stats->footer(
      "Opens the store read-only: safe while `svdhub run` is running, and never creates a store.\n"
      "Exit status: 0 shown, 1 usage or config error, or no readable store.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }

  svd::config::HubReceiverConfig cfg;
  try {
    cfg = svd::config::load_hub_config(config_path);
  } catch (const svd::config::ConfigError& e) {
    for (const auto& d : e.diagnostics()) std::cerr << d.to_string() << '\n';
    std::cerr << e.diagnostics().size() << " problem(s) found\n";
    return 1;
  }
  if (*check) {
    std::cout << config_path.string() << ": OK, " << cfg.feeds.size() << " feed(s), broker "
              << cfg.broker.host << ":" << cfg.broker.port << "\n";
    return 0;
  }
  if (*stats) {
    std::error_code ec;
    if (!std::filesystem::exists(cfg.database, ec)) {
      std::cerr << cfg.database.string() << ": no store there (`svdhub run` creates it when it starts)\n";
      return 1;
    }
    auto held = svd::hub::read_store_stats(cfg.database);
    if (!held) {
      std::cerr << cfg.database.string() << ": cannot read the store (not a svdhub store, or unreadable)\n";
      return 1;
    }
    std::vector<std::string> feeds;
    for (const auto& f : cfg.feeds) feeds.push_back(f.id);
    std::cout << svd::hub::format_store_stats(cfg.database, feeds, *held);
    return 0;
  }
  std::vector<svd::hub::FeedTable> tables;
  for (const auto& f : cfg.feeds) tables.push_back({f.id, svd::hub::output_columns(f.schema)});
  auto store = svd::hub::HubStore::open(cfg.database, std::move(tables));
  if (!store) {
    std::cerr << cfg.database.string() << ": cannot open the store: " << store.error().message() << '\n';
    return 1;
  }
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  svd::hub::BatchHandler handler(**store);
  std::cerr << "svdhub: store " << cfg.database.string() << ", " << cfg.feeds.size() << " feed(s)\n";
  return svd::hub::run_receiver(cfg, handler, g_stop, std::cerr);
}
