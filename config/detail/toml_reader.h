#pragma once
// Shared by the TOML loaders (gateway and hub config): reading typed values with their source
// position, collecting every problem as a Diagnostic, and unknown-key checks. Private to config/.

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "config/diagnostic.h"
#include "config/mqtt_endpoint.h"
#include "config/ops_config.h"
#include "config/schedule.h"
#include "config/schema.h"

namespace svd::config::detail {

class TomlReader {
 public:
  explicit TomlReader(const std::filesystem::path& file) : file_(file), base_(file.parent_path()) {}

 protected:
  // Parses the file; a syntax error throws ConfigError at once (nothing else can be read).
  toml::table parse();
  // Throws ConfigError with everything collected, if anything was.
  void finish();

  const std::filesystem::path& file() const { return file_; }
  void error(const toml::node* at, std::string message, std::string hint = {});
  void add(const std::vector<Diagnostic>& more);

  // Unknown keys are errors: a misspelt key would otherwise silently leave a default in force.
  void known_keys(const toml::table& t, std::initializer_list<std::string_view> keys, std::string_view where);
  const toml::table* table(const toml::table& parent, std::string_view key, bool required);
  std::optional<std::string> string(const toml::table& t, std::string_view key, std::string_view where, bool required);
  void read_size(const toml::table& t, std::string_view key, std::size_t& out, std::int64_t lo, std::int64_t hi);
  void read_int(const toml::table& t, std::string_view key, int& out, int lo, int hi);
  // Relative paths are relative to the config file.
  std::filesystem::path resolve(const std::string& p) const;
  // A feed's required "schema" key: the path (resolved) and the loaded schema, whose problems are
  // added under a line naming the feed.
  void read_schema(const toml::table& feed_table, const std::string& feed_id, std::filesystem::path& file_out,
                   Schema& schema_out);
  // A feed's `schedule = { every = "week", day = "monday", by = "09:00" }`.
  void read_schedule(const toml::node* n, Schedule& s);
  // `listen`: an IPv4 or IPv6 literal (a host name would make the listening address depend on DNS).
  void read_listen(const toml::table& t, std::string& out, std::string_view where);
  // The optional [ops] table: listen, port (0: off).
  void read_ops(const toml::table& root, OpsConfig& out);
  // host, port, ca, cert, key, mqtt, keepalive_seconds (the caller lists them as known keys).
  void read_endpoint(const toml::table& t, std::string_view where, MqttEndpoint& out);

 private:
  std::filesystem::path file_, base_;
  std::vector<Diagnostic> diagnostics_;
};

}  // namespace svd::config::detail
