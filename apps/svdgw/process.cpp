// svdgw process: one extract offline, as the gateway would process it, into records.jsonl and
// report.json: what a partner's data team runs before going live.

#include <ctime>
#include <iostream>

#include <CLI/CLI.hpp>

#include "apps/svdgw/command.h"
#include "apps/svdgw/common.h"
#include "process/record_sink.h"

namespace svd::svdgw {
namespace {

struct ProcessArgs {
  std::filesystem::path config, input, out;
  std::string feed;
  bool quiet = false;
  unsigned workers = 0;
  std::string at;  // pick the linkage keys in force then, not now
};

int cmd_process(const ProcessArgs& a) {
  std::int64_t keys_at = std::time(nullptr);
  if (!a.at.empty()) {
    auto at = parse_instant(a.at);
    if (!at) {
      std::cerr << "--at: \"" << a.at << "\" is not a date-time with a UTC offset, e.g. 2027-01-15T00:00:00Z\n";
      return 1;
    }
    keys_at = *at;
  }
  auto setup = load_feed_setup(a.config, a.feed, false);
  if (!setup || !make_directory(a.out, "output directory")) return 1;
  // Stale output from an earlier run must not pass for this run's result.
  const auto records_path = a.out / "records.jsonl", report_path = a.out / "report.json";
  std::error_code ec;
  std::filesystem::remove(records_path, ec);
  std::filesystem::remove(report_path, ec);

  auto sink = process::open_jsonl_file_sink(records_path);
  if (!sink) {
    std::cerr << records_path.string() << ": cannot write the records file\n";
    return 1;
  }
  auto report = run_with_progress(*setup, a.input, a.quiet, a.workers, keys_at, **sink);
  if (!report) return 1;
  if (!write_private_file(report_path, report->to_json())) {
    std::cerr << report_path.string() << ": cannot write the report\n";
    return 1;
  }
  if (!a.quiet) {
    std::cout << report->summary();
    if (!report->refused) std::cout << "  records: " << records_path.string() << '\n';
    std::cout << "  report:  " << report_path.string() << '\n';
  }
  return report->refused ? 2 : 0;
}

}  // namespace

std::vector<Command> add_process(CLI::App& app) {
  auto args = std::make_shared<ProcessArgs>();
  ProcessArgs& pa = *args;
  auto* process = app.add_subcommand(
      "process", "Validate and pseudonymise one extract offline: writes records.jsonl and report.json");
  process->add_option("--config", pa.config, "Gateway config (TOML)")->required();
  process->add_option("--feed", pa.feed, "Feed id from the config")->required();
  process->add_option("--out", pa.out, "Output directory")->required();
  process->add_option("file", pa.input, "The extract")->required()->check(CLI::ExistingFile);
  process->add_flag("--quiet,-q", pa.quiet, "No summary or progress");
  process->add_option("--workers", pa.workers, "Threads to use, at most 64 (default: one per core, up to 4)");
  process->add_option("--at", pa.at,
                      "Tokenise with the linkage keys in force at this instant, e.g. 2027-01-15T00:00:00Z, to try "
                      "a configured key rotation (default: now)");
  process->footer("Exit status: 0 processed, 2 extract refused, 1 usage or configuration error.");

  return {{process, [args] { return cmd_process(*args); }}};
}

}  // namespace svd::svdgw
