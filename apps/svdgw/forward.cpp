// svdgw forward: one extract processed into the outbox and delivered to the hub, without the
// daemon.

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <CLI/CLI.hpp>

#include "apps/svdgw/command.h"
#include "apps/svdgw/common.h"
#include "base/time.h"
#include "base/version.h"
#include "crypto/sha256.h"
#include "deliver/batcher.h"
#include "deliver/forwarder.h"
#include "deliver/outbox.h"
#include "gateway/options.h"
#include "transport/mqtt.h"

namespace svd::svdgw {
namespace {

struct ForwardArgs {
  std::filesystem::path config, input;
  std::string feed;
  bool quiet = false;
  unsigned workers = 0;
  unsigned timeout_seconds = 600;
};

// Processes the extract into the outbox (one transaction) and delivers every unacknowledged
// batch in the outbox — this extract's and any an earlier run left — to the hub.
int cmd_forward(const ForwardArgs& a) {
  auto setup = load_feed_setup(a.config, a.feed, true);
  if (!setup || !make_directory(setup->cfg.state_dir, "state directory")) return 1;
  const config::GatewayConfig& cfg = setup->cfg;
  const config::FeedConfig* feed = setup->feed;
  ::chmod(cfg.state_dir.c_str(), 0700);
  const auto outbox_file = cfg.state_dir / "outbox.db";
  auto outbox = deliver::Outbox::open(outbox_file);
  if (!outbox) {
    std::cerr << outbox_file.string() << ": cannot open the outbox: " << outbox.error().message() << '\n';
    return 1;
  }

  const auto started = std::chrono::steady_clock::now();
  // The extract's digest goes into every batch header and its batch ids, so it is needed before
  // the first batch is written.
  const auto file_digest = crypto::sha256_file(a.input);
  if (!file_digest) {
    std::cerr << a.input.string() << ": cannot read the extract\n";
    return 1;
  }
  const std::string& digest = file_digest->sha256;
  // The received time picks the keys, as in the daemon: the header's key_ids and the tokens agree.
  const std::int64_t received = std::time(nullptr);
  deliver::BatchContext context{cfg.partner, feed->id, feed->schema.name, setup->keys->ids_in_force(received),
                       {feed->id + "-" + digest.substr(0, 16), digest, utc_iso(received)}};
  const std::string extract_id = context.extract.id;
  auto sink = deliver::open_outbox_sink(**outbox, std::move(context), {cfg.batches.max_records, cfg.batches.max_bytes});
  if (!sink) {
    std::cerr << outbox_file.string() << ": cannot write to the outbox: " << sink.error().message() << '\n';
    return 1;
  }
  auto report = run_with_progress(*setup, a.input, a.quiet, a.workers, received, **sink);
  sink->reset();  // commits or abandons the extract before delivery starts
  if (!report) return 1;
  if (!a.quiet) std::cout << report->summary();
  if (report->refused) {
    std::cout << "  nothing was queued for the hub\n";
    return 2;
  }
  if (report->extract_sha256 != digest) {
    std::cerr << a.input.string() << ": the file changed while it was being read; forward it again once it is "
              << "complete\n";
  }
  if (!a.quiet) std::cout << "  queued as extract " << extract_id << " in " << outbox_file.string() << '\n';

  boost::asio::io_context io;
  deliver::Forwarder forwarder(io, **outbox, gateway::forwarder_options(cfg, cfg.hub->broker, std::string(version())), [&](const std::string& line) {
    if (!a.quiet) std::cerr << line << '\n';
  });
  bool delivered = false;
  boost::asio::steady_timer deadline(io, std::chrono::seconds(a.timeout_seconds));
  forwarder.on_drained([&] {
    delivered = true;
    deadline.cancel();
    forwarder.stop([&] { io.stop(); });
  });
  deadline.async_wait([&](const boost::system::error_code& e) {
    if (!e) forwarder.stop([&] { io.stop(); });
  });
  if (!a.quiet) std::cout << "forwarding to " << transport::broker_uri(cfg.hub->broker) << " as " << cfg.partner << '\n';
  forwarder.start();
  io.run();

  const auto c = forwarder.counters();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto stats = (*outbox)->stats();
  if (!a.quiet) {
    std::printf("  %llu batch(es) published, %llu acknowledged (%llu accepted, %llu duplicate), %llu rejected; "
                "%.2f s in all\n",
                static_cast<unsigned long long>(c.publishes),
                static_cast<unsigned long long>(c.accepted + c.duplicates),
                static_cast<unsigned long long>(c.accepted), static_cast<unsigned long long>(c.duplicates),
                static_cast<unsigned long long>(c.rejected), seconds);
    std::fflush(stdout);
  }
  if (!delivered) {
    std::cerr << "not every batch was acknowledged within " << a.timeout_seconds << " s";
    if (stats) std::cerr << ": " << stats->queued + stats->published << " batch(es), " << stats->unacknowledged_records
                         << " record(s) wait in the outbox and go out on the next run";
    std::cerr << '\n';
    return 3;
  }
  if (c.rejected > 0 || (stats && stats->rejected > 0)) {
    std::cerr << (stats ? stats->rejected : c.rejected)
              << " batch(es) in the outbox were rejected by the hub (see the reasons above); ask the hub's operator\n";
    return 3;
  }
  if (!a.quiet) std::cout << "  every batch is acknowledged by the hub\n";
  return 0;
}

}  // namespace

std::vector<Command> add_forward(CLI::App& app) {
  auto args = std::make_shared<ForwardArgs>();
  ForwardArgs& fa = *args;
  auto* forward = app.add_subcommand(
      "forward", "Process one extract into the outbox and deliver it to the hub over mutual TLS MQTT");
  forward->add_option("--config", fa.config, "Gateway config (TOML) with a [hub] section")->required();
  forward->add_option("--feed", fa.feed, "Feed id from the config")->required();
  forward->add_option("file", fa.input, "The extract")->required()->check(CLI::ExistingFile);
  forward->add_flag("--quiet,-q", fa.quiet, "No summary, progress or connection log");
  forward->add_option("--workers", fa.workers, "Threads to use, at most 64 (default: one per core, up to 4)");
  forward->add_option("--timeout", fa.timeout_seconds, "Give up delivering after this many seconds (default 600)")
      ->check(CLI::Range(1u, 86400u));
  forward->footer(
      "Exit status: 0 every batch acknowledged by the hub, 2 extract refused (nothing queued), 3 not delivered "
      "(timeout, or the hub rejected a batch; what is unacknowledged stays queued), 1 usage or configuration "
      "error.");

  return {{forward, [args] { return cmd_forward(*args); }}};
}

}  // namespace svd::svdgw
