#pragma once
// `svdgw audit export`: the audit log's events of a range of UTC days (--to inclusive), for
// auditors' own tools, as CSV or JSON Lines. Also the pieces `svdgw audit report` shares with it:
// the date range, the feed an event is about, CSV quoting and atomic output files.
//
//   svdgw audit export --config FILE --from DATE --to DATE [--feed F] --format csv|jsonl [--out FILE]
//
// In CSV, `details` is the exact JSON text the chain hashed, so leaf_hash can be re-checked from
// the CSV alone. Rows are streamed (memory does not grow with the log); --out is written as
// FILE.part, synced and renamed, mode 0600. Columns and rules: docs/audit.md, "`svdgw audit
// export` and `svdgw audit report`".
//
// Exit status: 0 written, 1 the config, the log or the output cannot be read or written,
// 2 bad arguments. Runs on the calling thread.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "audit/event.h"
#include "config/gateway_config.h"

namespace svd::audit {

// [begin, end) in event time: begin is `from` at 00:00:00.000Z, end the day after `to`.
struct UtcDateRange {
  std::int64_t first_day = 0, end_day = 0;  // days since 1970-01-01; end_day is exclusive
  std::string begin, end;                   // "2026-11-01T00:00:00.000Z", comparable with Event::time
  std::string from_label, to_label;         // the dates as given: "2026-11-01", "2026-11-30"
};

// Strict YYYY-MM-DD, real calendar dates, from <= to. On failure, nullopt and `error` says
// which option is wrong and why.
std::optional<UtcDateRange> parse_utc_date_range(std::string_view from, std::string_view to, std::string& error);

// "2026-11-01T00:00:00.000Z" for a day number (days since 1970-01-01).
std::string utc_day_start(std::int64_t day);

// Milliseconds since the epoch of an event time ("2026-11-23T09:15:20.123Z"; other ISO 8601
// spellings with an offset are read too); nullopt when it is not one.
std::optional<std::int64_t> parse_event_time_ms(std::string_view time);

// The feed an event is about (see above), from the event and its parsed details.
std::string event_feed(const audit::Event& e, std::string_view details_feed);

// One RFC 4180 field: quoted when it holds a comma, a quote, CR or LF (or always, if asked),
// with quotes doubled.
std::string csv_field(std::string_view s, bool always_quote = false);

// The gateway config, or nullopt after its problems were printed on stderr.
std::optional<config::GatewayConfig> load_config_for_audit(const std::filesystem::path& file);
// `log` when given, else the config's <state_dir>/audit.db; nullopt (explained on stderr) when
// the config does not load.
std::optional<std::filesystem::path> audit_log_file(const std::filesystem::path& config,
                                                     const std::optional<std::filesystem::path>& log);

// A file that appears under its name only when complete (see above), or stdout.
// Thread-safety: none; one owner.
class OutputFile {
 public:
  // Stdout when `path` is empty. nullopt (and `error` set) when the .part file cannot be created.
  static std::optional<OutputFile> open(const std::filesystem::path& path, std::string& error);
  OutputFile(OutputFile&& other) noexcept;
  OutputFile& operator=(OutputFile&&) = delete;
  OutputFile(const OutputFile&) = delete;
  ~OutputFile();  // an uncommitted .part file is removed

  void write(std::string_view s);
  // Flushes, syncs and renames into place (or flushes stdout). False, with `error` set, when
  // anything failed since open: then nothing appears under the final name.
  bool commit(std::string& error);

 private:
  OutputFile(std::FILE* f, std::filesystem::path path, std::filesystem::path part);
  std::FILE* file_ = nullptr;
  std::filesystem::path path_, part_;  // both empty for stdout
  bool committed_ = false;
};

struct AuditExportArgs {
  std::filesystem::path config;             // or empty, with `log`
  std::optional<std::filesystem::path> log;  // default: <state_dir>/audit.db
  std::string from, to;
  std::string feed;    // "" = every event
  std::string format;  // "csv" or "jsonl"
  std::filesystem::path out;  // empty = stdout
};

// Runs the command; explains any problem on stderr. Returns the exit status.
int audit_export_main(const AuditExportArgs& args);

}  // namespace svd::audit
