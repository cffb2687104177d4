// svdgw requeue: batches the hub rejected, listed, and queued to be sent again once the hub's
// operator has fixed what made it refuse them (docs/operations.md, "The hub rejected batches").

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>

#include "apps/svdgw/command.h"
#include "apps/svdgw/common.h"
#include "base/identity.h"
#include "deliver/outbox.h"

namespace svd::svdgw {
namespace {

struct RequeueOptions {
  std::filesystem::path config;
  std::string extract, feed, reason;
  bool all = false;
};

void print_counts(const std::vector<deliver::RejectedCount>& counts) {
  for (const auto& c : counts)
    std::cout << "  feed " << c.feed << ", " << c.reason << ": " << c.batches << " batch(es), " << c.records
              << " record(s)\n";
}

// The audit actor: the account that ran the command.
std::string operator_name() {
  const passwd* pw = ::getpwuid(::geteuid());
  return pw && pw->pw_name && *pw->pw_name ? std::string(pw->pw_name) : "uid " + std::to_string(::geteuid());
}

int run_requeue(const RequeueOptions& o) {
  auto cfg = load_config_or_explain(o.config);
  if (!cfg) return 1;
  const std::filesystem::path file = cfg->state_dir / "outbox.db";
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    std::cerr << file.string() << ": no outbox here; has svdgw run ever started with this config?\n";
    return 1;
  }
  // SQLite creates its journal files as whoever writes: as root they would lock the service out.
  if (st.st_uid != ::geteuid()) {
    std::cerr << "run this as the owner of " << file.string() << " (e.g. sudo -u svdgw svdgw requeue …), so "
              << "that the database's journal files stay the service's\n";
    return 1;
  }
  auto outbox = deliver::Outbox::open(file);
  if (!outbox) {
    std::cerr << file.string() << ": cannot open the outbox (" << outbox.error().message() << ")\n";
    return 1;
  }
  const bool filtered = !o.extract.empty() || !o.feed.empty() || !o.reason.empty();
  if (!filtered && !o.all) {
    auto now = (*outbox)->rejected();
    if (!now) {
      std::cerr << file.string() << ": cannot read the outbox (" << now.error().message() << ")\n";
      return 1;
    }
    if (now->empty()) {
      std::cout << "no rejected batches\n";
      return 0;
    }
    std::cout << "rejected batches, by feed and the hub's reason:\n";
    print_counts(*now);
    std::cout << "Once the hub can take them (see the reason), queue them again with --all, --feed, --extract "
                 "or --reason.\n";
    return 0;
  }
  deliver::RejectedFilter filter;
  if (!o.extract.empty()) filter.extract_id = o.extract;
  if (!o.feed.empty()) filter.feed = o.feed;
  if (!o.reason.empty()) filter.reason = o.reason;
  auto done = (*outbox)->requeue_rejected(filter, operator_name());
  if (!done) {
    std::cerr << file.string() << ": nothing was re-queued: " << done.error().message()
              << " (the database may be busy; try again)\n";
    return 1;
  }
  if (done->empty()) {
    std::cout << "no rejected batch matches; nothing was re-queued\n";
    return 0;
  }
  std::cout << "re-queued, each recorded in the audit log as batch.requeued:\n";
  print_counts(*done);
  std::cout << "svdgw run sends them once nothing else is awaiting the hub's receipt; each gets the hub's "
               "answer again (GET /v1/extracts/<id>, /metrics).\n";
  return 0;
}

}  // namespace

std::vector<Command> add_requeue(CLI::App& app) {
  auto o = std::make_shared<RequeueOptions>();
  auto* cmd = app.add_subcommand(
      "requeue", "List the batches the hub rejected, or queue them to be sent again once the hub can take them");
  cmd->add_option("--config", o->config, "The gateway's config (for its state directory)")->required();
  cmd->add_option("--extract", o->extract, "Only this extract's rejected batches");
  cmd->add_option("--feed", o->feed, "Only this feed's")->check([](const std::string& v) {
    return valid_identity(v) ? std::string() : std::string("a feed id is 1-64 of a-z, 0-9, '-'");
  });
  cmd->add_option("--reason", o->reason, "Only those rejected for this reason (the hub's code, e.g. unknown_feed)");
  cmd->add_flag("--all", o->all, "Every rejected batch");
  cmd->footer(
      "Without --all, --feed, --extract or --reason, lists the rejected batches and changes nothing.\n"
      "Run it as the service's user; svdgw run may be running.\n"
      "Exit status: 0 done (also when nothing matched), 1 config or outbox problem.");
  return {{cmd, [o] { return run_requeue(*o); }}};
}

}  // namespace svd::svdgw
