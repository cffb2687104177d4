#pragma once
// What several `svdgw` subcommands share: loading the config, a feed and the linkage keys with
// every problem explained on stderr, and running the pipeline with a progress bar.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "config/diagnostic.h"
#include "config/gateway_config.h"
#include "crypto/key_ring.h"
#include "process/extract_report.h"
#include "process/record_sink.h"

namespace svd::svdgw {

void print_diagnostics(const config::ConfigError& e);
std::optional<config::GatewayConfig> load_config_or_explain(const std::filesystem::path& path);
const config::FeedConfig* find_feed_or_explain(const config::GatewayConfig& cfg, const std::string& id);
// Every configured linkage key (one, or those of a rotation).
std::optional<crypto::KeyRing> load_keys_or_explain(const config::GatewayConfig& cfg);
// "k2026a, fingerprint 1a2b …, until 2027-02-01T00:00:00Z"
std::string describe_key(const crypto::KeyRing::Entry& e);
// "2027-01-15T00:00:00Z" (any UTC offset) -> Unix seconds; nothing without an offset.
std::optional<std::int64_t> parse_instant(const std::string& text);
// Written whole to <path>.part (0600), then renamed into place.
bool write_private_file(const std::filesystem::path& path, const std::string& text);
bool make_directory(const std::filesystem::path& dir, const char* what);

// What process and forward both need: the config, the feed and the linkage key, each problem
// explained on stderr.
struct FeedSetup {
  config::GatewayConfig cfg;
  const config::FeedConfig* feed = nullptr;
  std::optional<crypto::KeyRing> keys;
};
std::optional<FeedSetup> load_feed_setup(const std::filesystem::path& config_path, const std::string& feed_id,
                                         bool needs_hub);

// Runs the pipeline into `sink`, with progress on a terminal; explains an error on stderr.
std::optional<process::ExtractReport> run_with_progress(const FeedSetup& s, const std::filesystem::path& input,
                                                        bool quiet, unsigned workers, std::int64_t keys_at,
                                                        process::RecordSink& sink);

}  // namespace svd::svdgw
