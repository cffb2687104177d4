#include "audit/export.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <utility>

#include <boost/json.hpp>

#include "audit/audit_log.h"
#include "base/hex.h"
#include "base/identity.h"
#include "config/diagnostic.h"
#include "config/temporal.h"

namespace svd::audit {
namespace {

namespace json = boost::json;

std::optional<std::int64_t> parse_day(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  for (std::size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u})
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
  auto num = [&](std::size_t at, std::size_t n) {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) v = v * 10 + (text[i] - '0');
    return v;
  };
  config::Date d{num(0, 4), num(5, 2), num(8, 2)};
  if (!config::valid_date(d)) return std::nullopt;
  return config::days_from_civil(d);
}

bool sync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

struct Details {
  json::value value;  // null when the text is not JSON (only a damaged log has that)
  std::string feed;
};

Details parse_details(const std::string& text) {
  Details d;
  boost::system::error_code ec;
  d.value = json::parse(text, ec);
  if (ec) {
    d.value = nullptr;
    return d;
  }
  if (const auto* o = d.value.if_object())
    if (const auto* f = o->if_contains("feed"); f && f->is_string()) d.feed = std::string(f->as_string());
  return d;
}

void write_csv_header(OutputFile& out) {
  out.write("seq,time,actor,action,object,feed,details,payload_sha256,leaf_hash,chain_hash\r\n");
}

void write_csv_row(OutputFile& out, const audit::Entry& e, const std::string& feed) {
  std::string line = std::to_string(e.seq);
  for (std::string_view field : {std::string_view(e.event.time), std::string_view(e.event.actor),
                                 std::string_view(e.event.action), std::string_view(e.event.object),
                                 std::string_view(feed)}) {
    line += ',';
    line += csv_field(field);
  }
  line += ',';
  line += csv_field(e.event.details, true);
  line += ',';
  line += csv_field(e.event.payload_sha256);
  line += ',';
  line += to_hex(e.leaf_hash);
  line += ',';
  line += to_hex(e.chain_hash);
  line += "\r\n";
  out.write(line);
}

void write_jsonl_row(OutputFile& out, const audit::Entry& e, const std::string& feed, Details details) {
  json::object o;
  o["seq"] = e.seq;
  o["time"] = e.event.time;
  o["actor"] = e.event.actor;
  o["action"] = e.event.action;
  o["object"] = e.event.object;
  if (feed.empty()) o["feed"] = nullptr;
  else o["feed"] = feed;
  // A damaged row's details still go out, as the text it holds, rather than being dropped.
  if (details.value.is_object()) o["details"] = std::move(details.value);
  else o["details"] = e.event.details;
  o["payload_sha256"] = e.event.payload_sha256;
  o["leaf_hash"] = to_hex(e.leaf_hash);
  o["chain_hash"] = to_hex(e.chain_hash);
  std::string line = json::serialize(o);
  line += '\n';
  out.write(line);
}

}  // namespace

std::optional<UtcDateRange> parse_utc_date_range(std::string_view from, std::string_view to, std::string& error) {
  const auto first = parse_day(from);
  if (!first) {
    error = "--from \"" + std::string(from) + "\" is not a date: use YYYY-MM-DD (a UTC day)";
    return std::nullopt;
  }
  const auto last = parse_day(to);
  if (!last) {
    error = "--to \"" + std::string(to) + "\" is not a date: use YYYY-MM-DD (a UTC day, included whole)";
    return std::nullopt;
  }
  if (*last < *first) {
    error = "--from " + std::string(from) + " is after --to " + std::string(to);
    return std::nullopt;
  }
  UtcDateRange r;
  r.first_day = *first;
  r.end_day = *last + 1;
  r.begin = utc_day_start(r.first_day);
  r.end = utc_day_start(r.end_day);
  r.from_label = std::string(from);
  r.to_label = std::string(to);
  return r;
}

std::string utc_day_start(std::int64_t day) {
  return config::to_iso(config::civil_from_days(day)) + "T00:00:00.000Z";
}

std::optional<std::int64_t> parse_event_time_ms(std::string_view time) {
  // The writers' own spelling first: it is every row of a sound log, and cheap to read.
  if (time.size() == 24 && time[10] == 'T' && time[13] == ':' && time[16] == ':' && time[19] == '.' &&
      time[23] == 'Z') {
    const auto day = parse_day(time.substr(0, 10));
    int v[4] = {0, 0, 0, 0};
    const std::size_t at[4] = {11, 14, 17, 20}, len[4] = {2, 2, 2, 3};
    bool digits = day.has_value();
    for (int k = 0; k < 4 && digits; ++k)
      for (std::size_t i = at[k]; i < at[k] + len[k]; ++i) {
        if (time[i] < '0' || time[i] > '9') digits = false;
        else v[k] = v[k] * 10 + (time[i] - '0');
      }
    if (digits && v[0] < 24 && v[1] < 60 && v[2] < 61)
      return ((*day * 86400) + v[0] * 3600 + v[1] * 60 + v[2]) * 1000 + v[3];
  }
  const auto dt = config::parse_datetime(time, "default");
  if (!dt || !dt->offset_minutes) return std::nullopt;
  return config::to_unix_seconds(*dt) * 1000;
}

std::string event_feed(const audit::Event& e, std::string_view details_feed) {
  if (!details_feed.empty()) return std::string(details_feed);
  if (e.action.starts_with("feed.")) return e.object;
  return {};
}

std::string csv_field(std::string_view s, bool always_quote) {
  if (!always_quote && s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  q += '"';
  return q;
}

std::optional<config::GatewayConfig> load_config_for_audit(const std::filesystem::path& file) {
  try {
    return config::load_gateway_config(file);
  } catch (const config::ConfigError& e) {
    for (const auto& d : e.diagnostics()) std::cerr << d.to_string() << '\n';
    std::cerr << e.diagnostics().size() << " problem(s) found\n";
    return std::nullopt;
  }
}

std::optional<std::filesystem::path> audit_log_file(const std::filesystem::path& config,
                                                     const std::optional<std::filesystem::path>& log) {
  if (log) return *log;
  const auto cfg = load_config_for_audit(config);
  if (!cfg) return std::nullopt;
  return cfg->state_dir / "audit.db";
}

OutputFile::OutputFile(std::FILE* f, std::filesystem::path path, std::filesystem::path part)
    : file_(f), path_(std::move(path)), part_(std::move(part)) {}

OutputFile::OutputFile(OutputFile&& other) noexcept
    : file_(std::exchange(other.file_, nullptr)),
      path_(std::move(other.path_)),
      part_(std::move(other.part_)),
      committed_(std::exchange(other.committed_, true)) {}

OutputFile::~OutputFile() {
  if (part_.empty() || committed_ || !file_) return;
  std::fclose(file_);
  std::error_code ec;
  std::filesystem::remove(part_, ec);
}

std::optional<OutputFile> OutputFile::open(const std::filesystem::path& path, std::string& error) {
  if (path.empty()) return OutputFile(stdout, {}, {});
  std::filesystem::path part = path;
  part += ".part";
  const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = part.string() + ": cannot create: " + std::strerror(errno);
    return std::nullopt;
  }
  std::FILE* f = ::fdopen(fd, "wb");
  if (!f) {
    ::close(fd);
    error = part.string() + ": cannot open for writing";
    return std::nullopt;
  }
  return OutputFile(f, path, std::move(part));
}

void OutputFile::write(std::string_view s) {
  if (!s.empty()) std::fwrite(s.data(), 1, s.size(), file_);
}

bool OutputFile::commit(std::string& error) {
  const std::string name = path_.empty() ? std::string("standard output") : part_.string();
  if (std::fflush(file_) != 0 || std::ferror(file_)) {
    error = name + ": write failed: " + std::strerror(errno);
    return false;
  }
  if (path_.empty()) {
    committed_ = true;
    return true;
  }
  const bool synced = ::fsync(::fileno(file_)) == 0;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  std::error_code ec;
  if (!synced || !closed) {
    error = name + ": write failed: " + std::strerror(errno);
    std::filesystem::remove(part_, ec);
    return false;
  }
  std::filesystem::rename(part_, path_, ec);
  if (ec) {
    error = path_.string() + ": cannot rename " + part_.filename().string() + " into place: " + ec.message();
    std::filesystem::remove(part_, ec);
    return false;
  }
  committed_ = true;
  sync_directory(path_.parent_path());  // best effort: the export is complete either way
  return true;
}

int audit_export_main(const AuditExportArgs& a) {
  std::string error;
  const auto range = parse_utc_date_range(a.from, a.to, error);
  if (!range) {
    std::cerr << "svdgw audit export: " << error << '\n';
    return 2;
  }
  if (a.format != "csv" && a.format != "jsonl") {
    std::cerr << "svdgw audit export: --format \"" << a.format << "\" is not csv or jsonl\n";
    return 2;
  }
  if (!a.feed.empty() && !valid_identity(a.feed)) {
    std::cerr << "svdgw audit export: --feed \"" << a.feed << "\" is not a feed id ([a-z0-9-], 1 to 64 characters)\n";
    return 2;
  }
  if (a.config.empty() && !a.log) {
    std::cerr << "svdgw audit export: give --config, or --log with a copy of audit.db\n";
    return 2;
  }
  const auto log = audit_log_file(a.config, a.log);
  if (!log) return 1;
  const std::filesystem::path& log_file = *log;
  auto reader = audit::AuditReader::open(log_file);
  if (!reader) {
    std::cerr << log_file.string() << ": cannot open the audit log: " << reader.error().message() << '\n';
    return 1;
  }
  auto out = OutputFile::open(a.out, error);
  if (!out) {
    std::cerr << error << '\n';
    return 1;
  }

  const bool csv = a.format == "csv";
  if (csv) write_csv_header(*out);
  std::uint64_t written = 0;
  auto read = (*reader)->for_each(
      [&](const audit::Entry& e) {
        Details details = parse_details(e.event.details);
        const std::string feed = event_feed(e.event, details.feed);
        if (!a.feed.empty() && feed != a.feed) return true;
        if (csv) write_csv_row(*out, e, feed);
        else write_jsonl_row(*out, e, feed, std::move(details));
        ++written;
        return true;
      },
      range->begin, range->end);
  if (!read) {
    std::cerr << log_file.string() << ": reading the audit log failed: " << read.error().message()
              << (a.out.empty() ? "; the output above is incomplete" : "; nothing was written") << '\n';
    return 1;
  }
  if (!out->commit(error)) {
    std::cerr << error << '\n';
    return 1;
  }
  if (!a.out.empty())
    std::cerr << "wrote " << written << " event(s) of " << range->from_label << " to " << range->to_label
              << " (UTC, both days included) to " << a.out.string() << '\n';
  return 0;
}

}  // namespace svd::audit
