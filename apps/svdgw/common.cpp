#include "apps/svdgw/common.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "base/progress.h"
#include "base/time.h"
#include "config/diagnostic.h"
#include "config/temporal.h"
#include "crypto/linkage_key.h"
#include "process/pipeline.h"

namespace svd::svdgw {

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

std::string describe_key(const crypto::KeyRing::Entry& e) {
  std::string s = e.key.id() + ", fingerprint " + crypto::fingerprint(e.key);
  if (e.window.from) s += ", from " + utc_iso(*e.window.from);
  if (e.window.until) s += ", until " + utc_iso(*e.window.until);
  return s;
}

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

}  // namespace svd::svdgw
