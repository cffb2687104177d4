#include "apps/svdgw/cli.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <CLI/CLI.hpp>

#include "config/diagnostic.h"
#include "config/gateway_config.h"
#include "config/temporal.h"
#include "crypto/key_ring.h"
#include "crypto/linkage_key.h"
#include "crypto/sha256.h"
#include "crypto/signing_key.h"
#include "apps/svdgw/audit_commands.h"
#include "audit/export.h"
#include "audit/report.h"
#include "deliver/batcher.h"
#include "gateway/daemon.h"
#include "deliver/forwarder.h"
#include "deliver/outbox.h"
#include "process/pipeline.h"
#include "base/progress.h"
#include "base/time.h"
#include "gateway/provision.h"
#include "process/record_sink.h"
#include "ingest/submit.h"
#include "transport/mqtt.h"

namespace svd::svdgw {
namespace {

constexpr const char* kVersion = "0.1.0";

void print_diagnostics(const config::ConfigError& e) {
  for (const auto& d : e.diagnostics()) std::cerr << d.to_string() << '\n';
  std::cerr << e.diagnostics().size() << " problem(s) found\n";
}

std::optional<config::GatewayConfig> load_config_or_explain(const std::filesystem::path& path) {
  try {
    return config::load_gateway_config(path);
  } catch (const config::ConfigError& e) {
    print_diagnostics(e);
    return std::nullopt;
  }
}

const config::FeedConfig* find_feed_or_explain(const config::GatewayConfig& cfg, const std::string& id) {
  const config::FeedConfig* feed = cfg.find_feed(id);
  if (!feed) {
    std::cerr << "unknown feed \"" << id << "\"; " << cfg.file.string() << " defines:";
    for (const auto& f : cfg.feeds) std::cerr << ' ' << f.id;
    std::cerr << '\n';
  }
  return feed;
}

// Every configured linkage key (one, or those of a rotation).
std::optional<crypto::KeyRing> load_keys_or_explain(const config::GatewayConfig& cfg) {
  auto ring = crypto::KeyRing::load(cfg.linkage_keys);
  if (!ring) {
    const crypto::KeyRingError& e = ring.error();
    std::cerr << e.message << '\n';
    std::error_code ec;
    if (e.code == errc::key_file_unreadable && std::filesystem::exists(e.file, ec))
      // Never suggest a new key here: a second area key would silently break linkage.
      std::cerr << "  the file is there but this user cannot read it: check its owner (svdgw) and mode (0600)\n";
    else if (e.code == errc::key_file_unreadable)
      std::cerr << "  create one with: svdgw keys generate --out " << e.file.string()
                << " (once per area; every partner installs the same key)\n";
    return std::nullopt;
  }
  return std::move(*ring);
}

// "k2026a, fingerprint 1a2b …, until 2027-02-01T00:00:00Z"
std::string describe_key(const crypto::KeyRing::Entry& e) {
  std::string s = e.key.id() + ", fingerprint " + crypto::fingerprint(e.key);
  if (e.window.from) s += ", from " + utc_iso(*e.window.from);
  if (e.window.until) s += ", until " + utc_iso(*e.window.until);
  return s;
}

// "2027-01-15T00:00:00Z" (any UTC offset) -> Unix seconds; nullopt without an offset.
std::optional<std::int64_t> parse_instant(const std::string& text) {
  auto dt = config::parse_datetime(text, "default");
  if (!dt || !dt->offset_minutes) return std::nullopt;
  return config::to_unix_seconds(*dt);
}

bool write_private_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path part = path;
  part += ".part";
  {
    std::ofstream out(part, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    ::chmod(part.c_str(), 0600);
    out << text;
    if (!out.flush()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(part, path, ec);
  return !ec;
}

// What process and forward both need: the config, the feed and the linkage key, each problem
// explained on stderr.
struct FeedSetup {
  config::GatewayConfig cfg;
  const config::FeedConfig* feed = nullptr;
  std::optional<crypto::KeyRing> keys;
};

std::optional<FeedSetup> load_feed_setup(const std::filesystem::path& config_path, const std::string& feed_id,
                                         bool needs_hub) {
  auto loaded = load_config_or_explain(config_path);
  if (!loaded) return std::nullopt;
  FeedSetup s{std::move(*loaded), nullptr, std::nullopt};
  if (needs_hub && !s.cfg.hub) {
    std::cerr << config_path.string() << ": no [hub] section: svdgw forward needs the hub broker's address and "
              << "this gateway's certificate\n";
    return std::nullopt;
  }
  s.feed = find_feed_or_explain(s.cfg, feed_id);
  if (!s.feed) return std::nullopt;
  s.keys = load_keys_or_explain(s.cfg);
  if (!s.keys) return std::nullopt;
  return s;
}

bool make_directory(const std::filesystem::path& dir, const char* what) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) {
    std::cerr << dir.string() << ": cannot create the " << what << '\n';
    return false;
  }
  return true;
}

// Runs the pipeline into `sink`, with progress on a terminal; explains an error on stderr.
std::optional<process::ExtractReport> run_with_progress(const FeedSetup& s, const std::filesystem::path& input, bool quiet,
                                               unsigned workers, std::int64_t keys_at, process::RecordSink& sink) {
  std::error_code ec;
  const std::uint64_t size = std::filesystem::file_size(input, ec);
  Progress progress(ec ? 0 : size, !quiet && ::isatty(STDERR_FILENO));
  process::ExtractJob job{&s.cfg, s.feed, input, process::Now::system(),
                 [&](std::uint64_t bytes, std::uint64_t rows) { progress.update(bytes, rows, false); }, workers,
                 keys_at};
  auto report = run_pipeline(job, *s.keys, sink);
  if (!report) {
    std::cerr << input.string() << ": " << report.error().message() << '\n';
    return std::nullopt;
  }
  progress.update(report->extract_bytes, report->rows_total, true);
  return std::move(*report);
}

int cmd_check_config(const std::filesystem::path& path) {
  auto loaded = load_config_or_explain(path);
  if (!loaded) return 1;
  const config::GatewayConfig& cfg = *loaded;
  auto keys = load_keys_or_explain(cfg);
  if (!keys) return 1;
  std::cout << path.string() << ": OK\n"
            << "  partner     " << cfg.partner << '\n'
            << "  state dir   " << cfg.state_dir.string() << '\n';
  for (const auto& e : keys->entries()) std::cout << "  linkage key " << describe_key(e) << '\n';
  if (keys->entries().size() > 1) {
    std::string now;
    for (const auto& id : keys->ids_in_force(std::time(nullptr))) now += (now.empty() ? "" : " and ") + id;
    std::cout << "  tokens now  under " << now << '\n';
  }
  if (cfg.hub) {
    std::cout << "  hub         " << transport::broker_uri(cfg.hub->broker) << ", MQTT "
              << (cfg.hub->broker.mqtt_version == 5 ? "5" : "3.1.1") << ", certificate "
              << cfg.hub->broker.cert.string() << ", " << cfg.hub->inflight << " in flight, window "
              << cfg.hub->window << ", receipt timeout " << cfg.hub->receipt_timeout_seconds << " s\n";
  } else {
    std::cout << "  hub         none ([hub] is needed to forward)\n";
  }
  if (cfg.http) {
    std::cout << "  upload API  " << cfg.http->listen << " port " << cfg.http->port << ", certificate "
              << cfg.http->cert.string() << ", clients of " << cfg.http->client_ca.string()
              << (cfg.http->crl.empty() ? ", no CRL" : ", CRL " + cfg.http->crl.string()) << ", at most "
              << cfg.http->max_extract_bytes << " bytes per extract\n";
  } else {
    std::cout << "  upload API  none (spool directory only)\n";
  }
  std::cout << "  ops port    " << (cfg.ops.port == 0 ? std::string("off") : cfg.ops.listen + ":" + std::to_string(cfg.ops.port))
            << "; storage quota " << cfg.storage.quota_bytes << " bytes\n";
  if (!print_audit_config(cfg)) return 1;
  for (const auto& f : cfg.feeds) {
    std::size_t shared = 0;
    for (const auto& field : f.schema.fields) shared += field.transform != config::TransformKind::drop;
    std::cout << "  feed " << f.id << ": " << (f.format == config::Format::csv ? "csv" : "jsonl") << ", "
              << (f.encoding == config::TextEncoding::utf8 ? "utf-8" : "windows-1252") << ", schema " << f.schema.name
              << " (" << f.schema.fields.size() << " fields, " << shared << " shared"
              << (f.schema.person ? " + person token" : "") << "), " << f.schedule.to_string()
              << ", refuse above " << f.reject_threshold * 100 << " % bad rows, " << f.allowed_clients.size()
              << " allowed client(s)\n";
  }
  return 0;
}

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
  auto sink = open_outbox_sink(**outbox, std::move(context), {cfg.batches.max_records, cfg.batches.max_bytes});
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
  deliver::ForwarderOptions options;
  options.broker = cfg.hub->broker;
  options.partner = cfg.partner;
  options.version = kVersion;
  options.inflight = static_cast<std::size_t>(cfg.hub->inflight);
  options.window = static_cast<std::size_t>(cfg.hub->window);
  options.receipt_timeout = std::chrono::seconds(cfg.hub->receipt_timeout_seconds);
  deliver::Forwarder forwarder(io, **outbox, options, [&](const std::string& line) {
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

int cmd_keys_generate(const std::filesystem::path& out) {
  auto r = crypto::generate_linkage_key(out);
  if (!r) {
    auto code = static_cast<errc>(r.error().value());
    std::cerr << out.string() << ": " << errc_message(code) << " [" << errc_name(code) << "]\n";
    return 1;
  }
  auto key = crypto::load_linkage_key(out, "new");
  std::cout << "wrote a new linkage key to " << out.string() << " (mode 0600)\n";
  if (key) std::cout << "fingerprint " << crypto::fingerprint(*key) << '\n';
  std::cout << "Share it with the area's other partners over a secure channel; never with the hub.\n";
  return 0;
}

// With --key: the fingerprint alone. With --config: one line per configured key, "<id> <fingerprint>"
// and its window, so partners compare every key of a rotation.
int cmd_keys_fingerprint(const std::filesystem::path& key_file, const std::filesystem::path& config_file) {
  if (key_file.empty()) {
    auto cfg = load_config_or_explain(config_file);
    if (!cfg) return 1;
    auto keys = load_keys_or_explain(*cfg);
    if (!keys) return 1;
    for (const auto& e : keys->entries()) {
      std::cout << e.key.id() << "  " << crypto::fingerprint(e.key);
      if (e.window.from) std::cout << "  from " << utc_iso(*e.window.from);
      if (e.window.until) std::cout << "  until " << utc_iso(*e.window.until);
      std::cout << '\n';
    }
    return 0;
  }
  const std::filesystem::path& file = key_file;
  auto key = crypto::load_linkage_key(file, "key");
  if (!key) {
    auto code = static_cast<errc>(key.error().value());
    std::cerr << file.string() << ": " << errc_message(code) << " [" << errc_name(code) << "]\n";
    return 1;
  }
  std::cout << crypto::fingerprint(*key) << '\n';
  return 0;
}

// errc_message describes the linkage key's hex file; a device key file is PEM.
std::string device_key_problem(errc code) {
  if (code == errc::key_file_malformed) return "not a PEM Ed25519 key (svdgw keys generate-device writes one)";
  return std::string(errc_message(code));
}

// Beside the private key unless told otherwise: device.key -> device.pub, anything else + ".pub".
std::filesystem::path default_public_file(std::filesystem::path private_file) {
  if (private_file.extension() == ".key") return private_file.replace_extension(".pub");
  private_file += ".pub";
  return private_file;
}

int cmd_keys_generate_device(const std::filesystem::path& out, std::filesystem::path public_file) {
  if (public_file.empty()) public_file = default_public_file(out);
  if (public_file.lexically_normal() == out.lexically_normal()) {
    std::cerr << "--public must name another file than --out (" << out.string() << ")\n";
    return 1;
  }
  auto pub = crypto::generate_signing_key(out, public_file);
  if (!pub) {
    auto code = static_cast<errc>(pub.error().value());
    if (code == errc::key_file_exists) {
      std::error_code ec;
      const bool out_exists = std::filesystem::exists(std::filesystem::symlink_status(out, ec));
      std::cerr << (out_exists ? out : public_file).string() << ": " << errc_message(code);
    } else if (code == errc::key_file_unreadable) {
      std::cerr << "cannot create or write " << out.string() << " and " << public_file.string()
                << " (does the directory exist, and may this user write there?)";
    } else {
      std::cerr << errc_message(code);
    }
    std::cerr << " [" << errc_name(code) << "]\nnothing was written\n";
    return 1;
  }
  std::cout << "wrote a new device signing key (Ed25519) to " << out.string() << " (mode 0600)\n"
            << "and its public key to " << public_file.string() << '\n'
            << "fingerprint " << crypto::fingerprint(*pub) << '\n'
            << "Give the public key to the hub's operator, who checks this gateway's audit checkpoints with it;\n"
            << "the private key never leaves this gateway.\n";
  return 0;
}

// Accepts the public or the private key file, so the fingerprint can be read on either side.
int cmd_keys_device_fingerprint(const std::filesystem::path& file) {
  auto report = [&file](errc code) {
    std::cerr << file.string() << ": " << device_key_problem(code) << " [" << errc_name(code) << "]\n";
    return 1;
  };
  auto pub = crypto::load_public_key(file);
  if (pub) {
    std::cout << crypto::fingerprint(*pub) << '\n';
    return 0;
  }
  if (pub.error() != errc::key_file_malformed) return report(static_cast<errc>(pub.error().value()));
  auto key = crypto::load_signing_key(file);
  if (!key && key.error() == errc::key_file_permissions) {
    // The permission check comes before parsing, so the file may not be a private key at all.
    std::cerr << file.string() << ": not a PEM Ed25519 public key, and as a private key it is readable by group "
              << "or others (chmod 600 it) [key_file_permissions]\n";
    return 1;
  }
  if (!key) return report(static_cast<errc>(key.error().value()));
  std::cout << crypto::fingerprint(key->public_key()) << '\n';
  return 0;
}

}  // namespace

int cli_main(int argc, char** argv) {
  CLI::App app{"svdgw — Serious Violence Duty data-sharing gateway"};
  app.set_version_flag("--version", std::string("svdgw ") + kVersion);
  app.require_subcommand(1);

  std::filesystem::path config_path;
  auto* check = app.add_subcommand("check-config", "Check a gateway config and its feed schemas");
  check->add_option("--config", config_path, "Gateway config (TOML)")->required();

  ProcessArgs pa;
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

  ForwardArgs fa;
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

  std::filesystem::path run_config;
  auto* run = app.add_subcommand(
      "run", "Run the gateway daemon: HTTPS upload API, spool directory, processing and forwarding to the hub");
  run->add_option("--config", run_config, "Gateway config (TOML) with a [hub] section")->required();
  run->footer(
      "Runs until SIGTERM or SIGINT (exit status 0); SIGHUP reloads the config and certificates. Exit status 1: "
      "it could not start (the reasons are logged on stderr).");

  ingest::SubmitOptions so;
  auto* submit = app.add_subcommand(
      "submit", "Send an extract to a gateway's HTTPS upload API with this partner's client certificate");
  submit->add_option("--url", so.url, "The gateway's upload API, e.g. https://gateway.example.org:8443")->required();
  submit->add_option("--feed", so.feed, "Feed id")->required();
  submit->add_option("--cert", so.cert, "This partner's client certificate (PEM, then any intermediates)")
      ->required()
      ->check(CLI::ExistingFile);
  submit->add_option("--key", so.key, "Its private key (PEM, unencrypted; keep it chmod 600)")
      ->required()
      ->check(CLI::ExistingFile);
  submit->add_option("--ca", so.ca, "The CA the gateway's certificate must chain to (the only one trusted)")
      ->required()
      ->check(CLI::ExistingFile);
  auto* submit_file = submit->add_option("file", so.file, "The extract")->check(CLI::ExistingFile);
  auto* submit_name =
      submit->add_option("--name", so.name, "Name of the extract on the gateway (default: the file's name)");
  submit
      ->add_option_function<std::string>(
          "--nothing-to-share", [&so](const std::string& period) { so.nothing_to_share = period; },
          "Send no file, but an explicit 'nothing to share' return for PERIOD (e.g. 2026-W03)")
      ->type_name("PERIOD")
      ->excludes(submit_file)
      ->excludes(submit_name);
  submit
      ->add_option("--retries", so.retries, "Attempts after the first when one fails in a way that may pass (default 4)")
      ->check(CLI::Range(0u, 100u));
  submit->add_option("--timeout", so.timeout_seconds, "Seconds without progress before an attempt fails (default 60)")
      ->check(CLI::Range(0.001, 86400.0));
  submit->add_option("--max-backoff", so.max_backoff_seconds, "Longest wait between attempts in seconds (default 60)")
      ->check(CLI::Range(0.0, 3600.0));
  submit->add_flag("--quiet,-q", so.quiet, "No progress bar or retry notes (errors and the receipt still print)");
  submit->callback([&] {
    if (!*submit_file && !so.nothing_to_share) throw CLI::RequiredError("FILE or --nothing-to-share");
  });
  submit->footer(
      "Names are 1-128 characters of A-Z a-z 0-9 . _ - not starting with '.'. The file is hashed first and sent "
      "with its SHA-256 (Content-Digest): if it changes while being sent, the gateway refuses it and nothing is "
      "stored. Network failures, timeouts, 5xx and 507 (gateway storage full) are retried with growing waits; "
      "re-sending an extract the gateway already has is safe (it answers with the first receipt).\n"
      "Exit status: 0 accepted (receipt on stdout), 2 refused by the gateway, 3 gave up after the last "
      "attempt, 1 usage or configuration error (options, file, certificates, server not trusted).");

  gateway::ProvisionOptions po;
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

  auto* keys = app.add_subcommand("keys", "Linkage key and device signing key tools");
  keys->require_subcommand(1);
  std::filesystem::path key_out, key_file, key_config, device_out, device_public, device_file;
  auto* generate = keys->add_subcommand("generate", "Create a new random linkage key file (mode 0600)");
  generate->add_option("--out", key_out, "Where to write the key")->required();
  auto* fingerprint = keys->add_subcommand("fingerprint", "Print a key's fingerprint (safe to share)");
  auto* key_opt = fingerprint->add_option("--key", key_file, "Key file");
  auto* cfg_opt = fingerprint->add_option("--config", key_config,
                                         "Gateway config naming the key(s): prints each key's id, fingerprint and window");
  key_opt->excludes(cfg_opt);
  fingerprint->callback([&] {
    if (key_file.empty() && key_config.empty()) throw CLI::RequiredError("--key or --config");
  });
  auto* generate_device = keys->add_subcommand(
      "generate-device", "Create this gateway's Ed25519 key pair that signs its audit checkpoints");
  generate_device->add_option("--out", device_out, "Where to write the private key (PEM, mode 0600)")->required();
  generate_device->add_option("--public", device_public,
                              "Where to write the public key (default: --out with .key replaced by .pub, or .pub "
                              "appended)");
  generate_device->footer("Refuses to overwrite: if either file exists, neither is written. Exit status: 0 written, 1 "
                          "not written.");
  auto* device_fingerprint = keys->add_subcommand(
      "device-fingerprint", "Print a device key's fingerprint (safe to share) from its public or private key file");
  device_fingerprint->add_option("file", device_file, "The public or private key file (PEM)")->required();

  // `svdgw audit ...`: the audit log's tools, one subcommand each. Their usage errors exit 2
  // (see the catch below), so a script tells a mistyped date from an unreadable log.
  auto* audit_group =
      app.add_subcommand("audit", "Audit log tools: verify the chain, export the events, report per feed and week");
  audit_group->require_subcommand(1);
  AuditVerifyOptions va;
  auto* audit_verify = audit_group->add_subcommand(
      "verify", "Check the audit log's hash chain, its signed checkpoints and the hub's receipts");
  audit_verify->add_option("--config", va.config_file, "Gateway config (TOML); the log is <state_dir>/audit.db")
      ->required();
  audit_verify->add_option("--log", va.log, "Another copy of the log to check (e.g. from a backup)");
  audit_verify->add_option("--device-key", va.device_key,
                           "The gateway's device key, public or private (default: [audit] device_key)");
  audit_verify->add_option("--witness-key", va.witness_key,
                           "The hub's public witness key (default: [audit] hub_witness_key)");
  audit_verify->add_option("--hub-checkpoints", va.hub_checkpoints,
                           "The hub's record of this gateway's checkpoints (svdhub checkpoints export)");
  audit_verify->footer(
      "Names the first bad sequence number and what is wrong with it.\n"
      "Exit status: 0 the log verifies, 1 it does not or cannot be read, 2 bad arguments.");
  audit::AuditExportArgs xa;
  auto* audit_export = audit_group->add_subcommand(
      "export", "Write the audit events of a date range as CSV or JSON Lines, for auditors' own tools");
  audit_export->add_option("--config", xa.config, "Gateway config (TOML); the log is <state_dir>/audit.db")
      ->required();
  audit_export->add_option("--from", xa.from, "First day, YYYY-MM-DD (UTC)")->required();
  audit_export->add_option("--to", xa.to, "Last day, YYYY-MM-DD (UTC), included whole")->required();
  audit_export->add_option("--feed", xa.feed, "Only the events about this feed");
  audit_export->add_option("--format", xa.format, "csv or jsonl")->required()->check(CLI::IsMember({"csv", "jsonl"}));
  audit_export->add_option("--out", xa.out, "Output file (written whole, then renamed into place; default: stdout)");
  audit_export->footer(
      "Columns: seq,time,actor,action,object,feed,details,payload_sha256,leaf_hash,chain_hash (CSV: RFC 4180 with a "
      "header row, details as the exact JSON text hashed; JSON Lines: details as an object).\n"
      "Exit status: 0 written, 1 config, log or output error, 2 bad arguments.");
  audit::AuditReportArgs ra;
  auto* audit_report = audit_group->add_subcommand(
      "report", "Write report.html and report.csv: extracts expected, received, late and missing, rows and "
                "records, per feed and week, and the chain's status");
  audit_report->add_option("--config", ra.config, "Gateway config (TOML); the log is <state_dir>/audit.db")
      ->required();
  audit_report->add_option("--from", ra.from, "First day, YYYY-MM-DD (UTC)")->required();
  audit_report->add_option("--to", ra.to, "Last day, YYYY-MM-DD (UTC), included whole")->required();
  audit_report->add_option("--out", ra.out_dir, "Output directory (created if absent)")->required();
  audit_report->footer(
      "Weeks are ISO weeks (Monday to Sunday, UTC); deadlines and period labels are local time: run it in the "
      "gateway's time zone.\n"
      "Exit status: 0 written and the chain verifies, 3 written but the chain does not verify, 1 config, log or "
      "output error, 2 bad arguments.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    if (status == 0) return 0;
    return audit_group->parsed() ? 2 : 1;
  }
  if (*audit_verify) return run_audit_verify(va);
  if (*audit_export) return audit_export_main(xa);
  if (*audit_report) return audit_report_main(ra);
  if (*check) return cmd_check_config(config_path);
  if (*process) return cmd_process(pa);
  if (*forward) return cmd_forward(fa);
  if (*submit) return run_submit(so);
  if (*run) return gateway::run_daemon({run_config, kVersion});
  if (*generate) return cmd_keys_generate(key_out);
  if (*fingerprint) return cmd_keys_fingerprint(key_file, key_config);
  if (*generate_device) return cmd_keys_generate_device(device_out, device_public);
  if (*device_fingerprint) return cmd_keys_device_fingerprint(device_file);
  if (*provision_cmd) return gateway::provision_main(po, cmd_check_config);
  return 1;
}

}  // namespace svd::svdgw
