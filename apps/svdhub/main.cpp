// svdhub: the reference receiver at the force. `svdhub run --config FILE` stores every gateway's
// batches and answers each with a receipt, and witnesses the gateways' audit checkpoints when a
// [witness] key is configured; `svdhub check-config` checks the config (and loads its keys);
// `svdhub stats` shows what the store holds; `svdhub checkpoints export|alarms` lists what the
// witness accepted or raised an alarm about (all three read-only, also while `run` is running);
// `svdhub store copy` moves an SQLite store into PostgreSQL; `svdhub sharing` says which partner
// shared each scheduled feed in each period, and which did not.

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "base/identity.h"
#include "base/service.h"
#include "base/time.h"
#include "base/version.h"
#include "config/diagnostic.h"
#include "config/gateway_config.h"
#include "config/hub_config.h"
#include "crypto/signing_key.h"
#include "hub/pg_store.h"
#include "hub/store.h"
#include "hub/store_copy.h"
#include "hub/sqlite_store.h"
#include "hub/receiver.h"
#include "hub/report.h"
#include "hub/sharing.h"
#include "hub/store_stats.h"
#include "hub/witness.h"

namespace {

std::atomic<bool> g_stop{false};    // set from the signal handler; lock-free, so async-signal-safe
std::atomic<bool> g_reload{false};  // SIGHUP: read the config again

extern "C" void on_signal(int) { g_stop = true; }
extern "C" void on_reload(int) { g_reload = true; }

struct WitnessKeys {
  std::optional<svd::crypto::SigningKey> key;  // nullopt: no [witness] configured
  std::map<std::string, svd::crypto::PublicKey, std::less<>> device_keys;
};

// The keys the config names. Every problem goes to stderr (the file and the errc, never key
// material); nullopt if there was any.
std::optional<WitnessKeys> load_witness_keys(const svd::config::HubReceiverConfig& cfg) {
  WitnessKeys keys;
  bool ok = true;
  if (cfg.witness_key) {
    auto k = svd::crypto::load_signing_key(*cfg.witness_key);
    if (k) {
      keys.key.emplace(std::move(*k));
    } else {
      std::cerr << cfg.witness_key->string() << ": cannot load the [witness] key: " << k.error().message() << '\n';
      ok = false;
    }
  }
  for (const auto& p : cfg.partners) {
    if (p.device_key.empty()) continue;  // its checkpoints are refused: unknown_device_key
    auto k = svd::crypto::load_public_key(p.device_key);
    if (k) {
      keys.device_keys.emplace(p.id, *k);
    } else {
      std::cerr << p.device_key.string() << ": cannot load the device key of partner " << p.id << ": "
                << k.error().message() << '\n';
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return keys;
}

// open_store, waiting while the database is unavailable (not up yet, restarting, failing over,
// out of connections): exponential backoff with full jitter (a random wait up to 250 ms, then up
// to twice that each time, at most 30 s), so that instances restarted together do not return in
// step. Each failure is logged once, with the store's message, which never holds a password.
// Any other error (authentication, privilege, schema, configuration) is returned at once.
// nullopt when SIGTERM or SIGINT came first.
std::optional<svd::hub::store_result<std::unique_ptr<svd::hub::Store>>> open_store_waiting(
    const svd::config::HubReceiverConfig& cfg) {
  using namespace std::chrono_literals;
  std::mt19937_64 random{std::random_device{}()};
  std::chrono::milliseconds ceiling = 250ms;
  for (int attempt = 1;; ++attempt) {
    auto store = svd::hub::open_store(cfg);
    if (store || store.error().code != svd::errc::io_error ||
        store.error().cause != svd::hub::StoreCause::unavailable)
      return store;
    const std::chrono::milliseconds wait{
        std::uniform_int_distribution<std::chrono::milliseconds::rep>(0, ceiling.count())(random)};
    std::cerr << "svdhub: the store is unavailable (attempt " << attempt << "): " << store.error().message
              << "; trying again in " << wait.count() << " ms\n";
    // Under systemd (Type=notify) the start has a timeout: each wait extends it, so that a
    // database down for longer does not get svdhub killed and restarted in a loop.
    svd::service::notify("STATUS=waiting for the database (attempt " + std::to_string(attempt) +
                         ")\nEXTEND_TIMEOUT_USEC=" +
                         std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(wait + 60s).count()));
    const auto until = std::chrono::steady_clock::now() + wait;
    while (!g_stop && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          50ms, until - std::chrono::steady_clock::now()));
    if (g_stop) return std::nullopt;
    ceiling = std::min<std::chrono::milliseconds>(ceiling * 2, 30s);
  }
}

bool store_exists(const svd::config::HubReceiverConfig& cfg) {
  std::error_code ec;
  if (std::filesystem::exists(cfg.database, ec)) return true;
  std::cerr << cfg.database.string() << ": no store there (`svdhub run` creates it when it starts)\n";
  return false;
}

// JSON Lines of the partner's witnessed checkpoints, to stdout or (whole or not at all, via a
// temporary file renamed into place) to `out`.
int export_checkpoints(const svd::config::HubReceiverConfig& cfg, const std::string& partner,
                       const std::filesystem::path& out) {
  if (!svd::valid_identity(partner)) {
    std::cerr << "--partner must be a partner id (1-64 characters of a-z, 0-9 and '-')\n";
    return 1;
  }
  if (!store_exists(cfg)) return 1;
  auto receipts = svd::hub::read_witnessed_checkpoints(cfg.database, partner);
  if (!receipts) {
    std::cerr << cfg.database.string() << ": cannot read the store (not a svdhub store, or unreadable)\n";
    return 1;
  }
  std::string lines;
  for (const auto& r : *receipts) lines += svd::protocol::to_json(r) + '\n';
  if (out.empty()) {
    std::cout << lines << std::flush;
    return std::cout ? 0 : 1;
  }
  const std::filesystem::path part = out.string() + ".part";
  {
    std::ofstream f(part, std::ios::binary | std::ios::trunc);
    f << lines;
    f.flush();
    if (!f) {
      std::cerr << part.string() << ": cannot write\n";
      std::error_code ec;
      std::filesystem::remove(part, ec);
      return 1;
    }
  }
  std::error_code ec;
  std::filesystem::rename(part, out, ec);
  if (ec) {
    std::cerr << out.string() << ": cannot write: " << ec.message() << '\n';
    std::filesystem::remove(part, ec);
    return 1;
  }
  std::cerr << receipts->size() << " witnessed checkpoint(s) of " << partner << " written to " << out.string() << '\n';
  return 0;
}

int list_alarms(const svd::config::HubReceiverConfig& cfg, const std::string& partner) {
  if (!store_exists(cfg)) return 1;
  auto alarms = svd::hub::read_alarms(cfg.database);
  auto stats = svd::hub::read_witness_stats(cfg.database);
  if (!alarms || !stats) {
    std::cerr << cfg.database.string() << ": cannot read the store (not a svdhub store, or unreadable)\n";
    return 1;
  }
  std::size_t shown = 0;
  for (const auto& a : *alarms) {
    if (!partner.empty() && a.partner != partner) continue;
    ++shown;
    std::cout << a.at << " partner " << a.partner << " checkpoint seq " << a.seq << ": " << a.reason << " ("
              << a.detail << "); chain_hash " << a.chain_hash << ", time " << a.checkpoint_time << ", payload sha256 "
              << a.payload_sha256 << '\n';
  }
  std::uint64_t raised = 0;
  for (const auto& w : *stats)
    if (partner.empty() || w.partner == partner) raised += w.alarms;
  std::cout << shown << " audit alarm(s) stored";
  if (raised > shown) std::cout << ", " << raised << " raised (only the latest " << svd::hub::kMaxStoredAlarmsPerPartner
                                << " per partner are kept)";
  std::cout << '\n';
  return 0;
}

// `svdhub store copy`: the SQLite store at `from` ("sqlite:PATH") into the store at `to`
// ("postgresql:CONNINFO", or "sqlite:PATH"), with the config's feeds.
int copy_store(const svd::config::HubReceiverConfig& cfg, const std::string& from, const std::string& to,
               const std::filesystem::path& password_file) {
  constexpr std::string_view kSqlite = "sqlite:", kPostgresql = "postgresql:";
  if (!from.starts_with(kSqlite) || from.size() == kSqlite.size()) {
    std::cerr << "--from must be sqlite:PATH (the store a svdhub with the SQLite backend wrote)\n";
    return 1;
  }
  const std::filesystem::path source = from.substr(kSqlite.size());
  std::error_code ec;
  if (!std::filesystem::is_regular_file(source, ec)) {  // before the target is opened, which creates its tables
    std::cerr << "svdhub: cannot copy " << source.string() << ": no such file\n";
    return 1;
  }
  svd::config::HubReceiverConfig target = cfg;
  if (to.starts_with(kPostgresql) && to.size() > kPostgresql.size()) {
    target.store.backend = svd::config::StoreBackend::postgresql;
    target.store.conninfo = to.substr(kPostgresql.size());
    if (!password_file.empty()) target.store.password_file = password_file;
  } else if (to.starts_with(kSqlite) && to.size() > kSqlite.size()) {
    target.store.backend = svd::config::StoreBackend::sqlite;
    target.database = to.substr(kSqlite.size());
    if (std::filesystem::equivalent(source, target.database, ec)) {
      std::cerr << "--from and --to are the same file\n";
      return 1;
    }
  } else {
    std::cerr << "--to must be postgresql:CONNINFO (a libpq connection string) or sqlite:PATH\n";
    return 1;
  }
  const std::string where = svd::hub::describe_store(target);
  auto store = svd::hub::open_store(target);
  if (!store) {
    std::cerr << "svdhub: cannot open the target store " << where << ": " << store.error().message << " ["
              << svd::errc_name(store.error().code) << "]\n";
    return 1;
  }
  std::cerr << "svdhub: copying " << source.string() << " into " << where << '\n';
  auto copied = svd::hub::copy_sqlite_store(source, svd::hub::feed_tables(cfg), **store,
                                            [](const std::string& line) { std::cerr << "svdhub: " << line << '\n'; });
  if (!copied) {
    std::cerr << "svdhub: cannot copy " << source.string() << ": " << copied.error().message << " ["
              << svd::errc_name(copied.error().code) << "]\n";
    return 1;
  }
  std::cout << "copied " << copied->batches_copied << " batch(es), " << copied->records_copied << " record(s), from "
            << source.string() << " into " << where << "; " << copied->batches_present
            << " batch(es) were there already; " << copied->token_links << " token link(s)\n";
  for (const auto& r : copied->refused) std::cerr << "svdhub: the target refused " << r << '\n';
  if (!copied->refused.empty()) {
    std::cerr << "svdhub: " << copied->refused.size()
              << " batch(es) refused; their records are only in the source\n";
    return 1;
  }
  return 0;
}

// "2026-11-23" as midnight UTC that day; nothing for any other text.
std::optional<std::chrono::system_clock::time_point> parse_date(const std::string& text) {
  unsigned y = 0, m = 0, d = 0;
  char rest = 0;
  if (text.size() != 10 || std::sscanf(text.c_str(), "%4u-%2u-%2u%c", &y, &m, &d, &rest) != 3) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year(static_cast<int>(y)), std::chrono::month(m),
                                       std::chrono::day(d)};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days(ymd);
}

// The store `svdhub run` made, for the commands that read it; nothing (and the reason on stderr)
// when there is none or it cannot be opened. An SQLite file is never created here.
std::unique_ptr<svd::hub::Store> open_existing_store(const svd::config::HubReceiverConfig& cfg) {
  std::error_code ec;
  if (cfg.store.backend == svd::config::StoreBackend::sqlite && !std::filesystem::exists(cfg.database, ec)) {
    std::cerr << cfg.database.string() << ": no store there (`svdhub run` creates it when it starts)\n";
    return nullptr;
  }
  auto store = svd::hub::open_store(cfg);
  if (!store) {
    std::cerr << "svdhub: cannot open the store: " << store.error().message << " ["
              << svd::errc_name(store.error().code) << "]\n";
    return nullptr;
  }
  return std::move(*store);
}

// `svdhub sharing`: the periods whose deadlines fall from `from` (inclusive, a date) to `to`
// (inclusive), by default the last eight weeks to now.
int print_sharing(const svd::config::HubReceiverConfig& cfg, const std::string& from_text, const std::string& to_text) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  auto to = now;
  if (!to_text.empty()) {
    const auto d = parse_date(to_text);
    if (!d) {
      std::cerr << "--to: not a date (YYYY-MM-DD)\n";
      return 1;
    }
    to = *d + days(1) - seconds(1);
  }
  auto from = to - days(56);
  if (!from_text.empty()) {
    const auto d = parse_date(from_text);
    if (!d) {
      std::cerr << "--from: not a date (YYYY-MM-DD)\n";
      return 1;
    }
    from = *d - seconds(1);  // a deadline at midnight on the first day is in
  }
  if (from >= to) {
    std::cerr << "--from must be before --to\n";
    return 1;
  }
  auto store = open_existing_store(cfg);
  if (!store) return 1;
  const auto [lo, hi] = svd::hub::sharing_window(from, to);
  auto arrivals = store->extract_arrivals(duration_cast<seconds>(lo.time_since_epoch()).count(),
                                          duration_cast<seconds>(hi.time_since_epoch()).count());
  if (!arrivals) {
    std::cerr << "svdhub: cannot read the store: " << arrivals.error().message() << '\n';
    return 1;
  }
  std::cout << "Sharing by partner and feed, periods ending " << svd::utc_iso(from + seconds(1)) << " to "
            << svd::utc_iso(to) << " (now " << svd::utc_iso(now) << ")\n\n"
            << svd::hub::render_sharing(svd::hub::sharing_periods(cfg, *arrivals, from, to, now));
  return 0;
}

// `svdhub report`: the force's report of the UTC days [from, to] as index.html and CSV files in
// `out` (created; files of the same names replaced); with `person_level`, the person-level file
// too, readable by its owner only.
constexpr const char* kPersonLevelFile = "person-level-PERSONAL-DATA.csv";

int write_report(const svd::config::HubReceiverConfig& cfg, const std::string& from_text, const std::string& to_text,
                 const std::filesystem::path& out, bool person_level) {
  using namespace std::chrono;
  const auto from = parse_date(from_text), to = parse_date(to_text);
  if (!from || !to || *from > *to) {
    std::cerr << "--from and --to must be dates (YYYY-MM-DD), --from not after --to\n";
    return 1;
  }
  auto store = open_existing_store(cfg);
  if (!store) return 1;
  const auto now = system_clock::now();
  const auto end = *to + days(1) - seconds(1);
  const auto [lo, hi] = svd::hub::sharing_window(*from, end);
  auto arrivals = store->extract_arrivals(duration_cast<seconds>(lo.time_since_epoch()).count(),
                                          duration_cast<seconds>(hi.time_since_epoch()).count());
  auto gateways = store->gateway_states();
  if (!arrivals || !gateways) {
    std::cerr << "svdhub: cannot read the store\n";
    return 1;
  }
  svd::hub::ReportInput input;
  input.from_day = duration_cast<days>(from->time_since_epoch()).count();
  input.to_day = duration_cast<days>(to->time_since_epoch()).count();
  input.now = now;
  input.periods = svd::hub::sharing_periods(cfg, *arrivals, *from - seconds(1), end, now);
  input.gateways = std::move(*gateways);
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  // A file created private, never widened afterwards: the person-level file is personal data.
  const auto open_new = [&](const std::filesystem::path& path, mode_t mode) {
    std::filesystem::remove(path, ec);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) std::cerr << path.string() << ": cannot write\n";
    return fd;
  };
  const auto write_all = [](int fd, std::string_view text) {
    while (!text.empty()) {
      const ssize_t n = ::write(fd, text.data(), text.size());
      if (n <= 0) return false;
      text.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  };
  const auto write = [&](const std::string& name, const std::string& text) {
    const int fd = open_new(out / name, 0644);
    bool ok = fd >= 0 && write_all(fd, text);
    if (fd >= 0 && ::close(fd) != 0) ok = false;
    if (fd >= 0 && !ok) std::cerr << (out / name).string() << ": cannot write\n";
    return ok;
  };

  // The person-level rows go to their file as they are found, a megabyte at a time.
  const auto person_path = out / kPersonLevelFile;
  std::filesystem::remove(person_path, ec);  // a stale one must not pass for this run's
  int person_fd = -1;
  bool person_ok = true;
  std::string person_buffer;
  std::function<void(const svd::hub::PersonRecord&)> person_record;
  if (person_level) {
    person_fd = open_new(person_path, 0600);
    if (person_fd < 0) return 1;
    person_buffer = svd::hub::person_level_header();
    person_record = [&](const svd::hub::PersonRecord& r) {
      person_buffer += svd::hub::person_level_row(r);
      if (person_buffer.size() >= (1 << 20)) {
        person_ok = write_all(person_fd, person_buffer) && person_ok;
        person_buffer.clear();
      }
    };
  }
  auto analysis = svd::hub::analyse(*store, cfg, input.from_day, input.to_day, person_record);
  if (person_fd >= 0) {
    person_ok = write_all(person_fd, person_buffer) && person_ok;
    if (::close(person_fd) != 0) person_ok = false;
    if (!person_ok || !analysis) std::filesystem::remove(person_path, ec);  // never a partial file
    if (!person_ok) std::cerr << person_path.string() << ": cannot write\n";
  }
  if (!analysis) {
    std::cerr << "svdhub: cannot read the records: " << analysis.error().message() << '\n';
    return 1;
  }
  input.analysis = std::move(*analysis);
  const svd::hub::ReportFiles files = svd::hub::render_report(cfg, input);
  bool ok = write("index.html", files.html) && person_ok;
  for (const auto& [name, text] : files.csv) ok = write(name, text) && ok;
  if (!ok) return 1;
  std::cout << (out / "index.html").string() << " and " << files.csv.size() << " CSV file(s) written ("
            << input.analysis->records_read << " records read)\n";
  if (person_level)
    std::cout << person_path.string() << ": PERSONAL DATA (tokens of " << input.analysis->person_records
              << " record(s)), readable by you only; share it only as your data protection policy allows\n";
  return 0;
}

// SIGHUP: the new config is checked while the old one keeps receiving (it loads, its keys load,
// its store opens, creating the tables of new feeds); only then does the receive loop stop, so
// that svdhub starts again on it in the same process (run_hub's caller). A config that fails any
// check is logged and changes nothing. Every part of the config takes effect, broker and store
// included; the broker holds what arrives meanwhile for the persistent session.
class ReloadWatcher {
 public:
  explicit ReloadWatcher(std::filesystem::path config) : config_(std::move(config)), thread_([this] { loop(); }) {}
  ~ReloadWatcher() {
    done_ = true;
    thread_.join();
  }
  ReloadWatcher(const ReloadWatcher&) = delete;
  ReloadWatcher& operator=(const ReloadWatcher&) = delete;

  const std::atomic<bool>* accepted_flag() const { return &accepted_; }
  bool accepted() const { return accepted_; }

 private:
  void loop() {
    using namespace std::chrono_literals;
    while (!done_ && !g_stop) {
      if (g_reload.exchange(false) && check()) {
        accepted_ = true;
        svd::service::notify("RELOADING=1\nSTATUS=reloading the config");
        g_stop = true;
        return;
      }
      std::this_thread::sleep_for(100ms);
    }
  }

  bool check() {
    std::cerr << "svdhub: SIGHUP: checking " << config_.string() << '\n';
    svd::config::HubReceiverConfig next;
    try {
      next = svd::config::load_hub_config(config_);
    } catch (const svd::config::ConfigError& e) {
      for (const auto& d : e.diagnostics()) std::cerr << d.to_string() << '\n';
      std::cerr << "svdhub: reload refused: " << e.diagnostics().size()
                << " problem(s) in the config; still running on the one loaded before\n";
      return false;
    }
    if (!load_witness_keys(next)) {
      std::cerr << "svdhub: reload refused: a key cannot be loaded; still running on the config loaded before\n";
      return false;
    }
    if (auto store = svd::hub::open_store(next); !store) {
      std::cerr << "svdhub: reload refused: the store cannot be opened with the new config: " << store.error().message
                << " [" << svd::errc_name(store.error().code) << "]; still running on the config loaded before\n";
      return false;
    }
    std::cerr << "svdhub: reload: the new config is good (" << next.feeds.size() << " feed(s), " << next.partners.size()
              << " partner(s)); finishing what was received and reconnecting with it\n";
    return true;
  }

  const std::filesystem::path config_;
  std::atomic<bool> done_{false}, accepted_{false};
  std::thread thread_;
};

// svdhub run: until SIGTERM or SIGINT (status), or until a SIGHUP's new config is accepted
// (`reexec` true: the caller starts the program again on it).
int run_hub(const svd::config::HubReceiverConfig& cfg, const std::filesystem::path& config_path, bool& reexec) {
  auto keys = load_witness_keys(cfg);
  if (!keys) return 1;
  // Batches of 32 KiB and more get pages of their own, given back when freed: under a steady
  // stream the payloads held within [broker] max_pending_bytes are freed in a different order
  // than they came, and in the shared heap the holes they leave kept RSS about 12 MiB above what
  // was in use (bench/run_store_bench.py, ten gateways).
  mallopt(M_MMAP_THRESHOLD, 32 * 1024);
  // Before the store opens: SIGTERM must also end the wait for a database that is not up yet.
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  // SIGHUP reloads (ReloadWatcher); its default action, ending the process, would count as a clean
  // exit to systemd, so Restart=on-failure would not help.
  struct sigaction hup{};
  hup.sa_handler = on_reload;
  sigaction(SIGHUP, &hup, nullptr);
  auto opened = open_store_waiting(cfg);
  if (!opened) {
    std::cerr << "svdhub: stopped while waiting for the database\n";
    return 0;
  }
  if (!*opened) {
    std::cerr << "svdhub: cannot open the store: " << opened->error().message << " ["
              << svd::errc_name(opened->error().code) << "]\n";
    return 1;
  }
  const std::unique_ptr<svd::hub::Store> store = std::move(**opened);
  svd::hub::BatchHandler handler(*store, svd::hub::BatchRules::from(cfg));
  std::cerr << "svdhub: store " << svd::hub::describe_store(cfg) << ", " << cfg.feeds.size() << " feed(s), "
            << cfg.partners.size() << " partner(s)\n";
  // After open_store: the SQLite store sets the file's page size, which only a new file takes.
  std::unique_ptr<svd::hub::Witness> witness;
  if (keys->key) {
    const std::string fp = svd::crypto::fingerprint(keys->key->public_key());
    const std::size_t partners = keys->device_keys.size();
    auto w = svd::hub::Witness::open(cfg.database, std::move(*keys->key), std::move(keys->device_keys), std::cerr);
    if (!w) {
      std::cerr << cfg.database.string() << ": cannot open the witness tables: " << w.error().message() << '\n';
      return 1;
    }
    witness = std::move(*w);
    std::cerr << "svdhub: witnessing audit checkpoints of " << partners << " partner(s), witness key " << fp << '\n';
  } else {
    std::cerr << "svdhub: no [witness] key configured: audit checkpoints are not witnessed\n";
  }
  ReloadWatcher reload(config_path);
  const int status = svd::hub::run_receiver(cfg, std::string(svd::version()), handler, witness.get(), g_stop,
                                            std::cerr, reload.accepted_flag());
  reexec = reload.accepted();
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"svdhub — receives pseudonymised batches from svd-gateway appliances"};
  app.set_version_flag("--version", "svdhub " + std::string(svd::version()));
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
  std::string from_date, to_date;
  auto* sharing = app.add_subcommand(
      "sharing", "Show, per partner, scheduled feed and period, whether it was received, a nil return, late or missing");
  sharing->add_option("--config", config_path, "svdhub config (TOML): the partners' schedules")->required();
  sharing->add_option("--from", from_date, "the first day (YYYY-MM-DD, UTC) whose deadlines count (default: 8 weeks before --to)");
  sharing->add_option("--to", to_date, "the last day (YYYY-MM-DD, UTC) whose deadlines count (default: now)");
  sharing->footer(
      "A period is received when an extract that reached the partner's gateway in it is wholly stored here;\n"
      "late when it had none by its deadline but one came before the next; missing otherwise. The rules:\n"
      "docs/operations.md, \"Who shared and who did not\".\n"
      "Exit status: 0 shown, 1 usage or config error, or no readable store.");
  std::filesystem::path report_dir;
  bool person_level = false;
  auto* report = app.add_subcommand(
      "report",
      "Write the force's report of a range of days: who shared, linked series, repeat contact, areas (HTML, CSV)");
  report->add_option("--config", config_path, "svdhub config (TOML)")->required();
  report->add_option("--from", from_date, "the first day (YYYY-MM-DD, UTC)")->required();
  report->add_option("--to", to_date, "the last day (YYYY-MM-DD, UTC), included")->required();
  report->add_option("--out", report_dir, "the folder to write index.html and the CSV files into")->required();
  report->add_flag("--person-level", person_level,
                   std::string("also write ") + kPersonLevelFile +
                       ": the records of each person found, with their tokens (personal data, mode 0600)");
  report->footer(
      "A self-contained page (no script, no network; prints on A4) and its tables as CSV. They name no token,\n"
      "and every count of people or records from 1 to [report] min_cell - 1 is hidden. The person-level file\n"
      "is personal data. docs/analysts.md, \"The force's report\".\n"
      "Exit status: 0 written, 1 usage or config error, no readable store, or a file not written.");
  auto* checkpoints = app.add_subcommand("checkpoints", "The gateways' audit checkpoints this hub witnessed");
  checkpoints->require_subcommand(1);
  std::string partner;
  std::filesystem::path out_path;
  auto* cp_export = checkpoints->add_subcommand(
      "export", "Write a partner's witnessed checkpoints as JSON Lines (one receipt each, in seq order)");
  cp_export->add_option("--config", config_path, "svdhub config (TOML)")->required();
  cp_export->add_option("--partner", partner, "the partner id")->required();
  cp_export->add_option("--out", out_path, "write here instead of to standard output");
  cp_export->footer(
      "The file `svdgw audit verify --hub-checkpoints` reads. Opens the store read-only.\n"
      "Exit status: 0 written (possibly no lines), 1 usage or config error, or no readable store.");
  auto* cp_alarms = checkpoints->add_subcommand(
      "alarms", "List the audit alarms raised: forged signatures, forks, rewritten or truncated logs");
  cp_alarms->add_option("--config", config_path, "svdhub config (TOML)")->required();
  cp_alarms->add_option("--partner", partner, "only this partner's");
  cp_alarms->footer("Opens the store read-only. Exit status: 0 listed, 1 usage or config error, or no readable store.");
  auto* store_cmd = app.add_subcommand("store", "Manage the store");
  store_cmd->require_subcommand(1);
  std::string copy_from, copy_to;
  std::filesystem::path password_file;
  auto* copy = store_cmd->add_subcommand(
      "copy", "Copy an SQLite store into PostgreSQL: every batch once, with its records, received time and token links");
  copy->add_option("--config", config_path, "svdhub config (TOML): its feeds and schemas")->required();
  copy->add_option("--from", copy_from, "sqlite:PATH, the store to copy")->required();
  copy->add_option("--to", copy_to, "postgresql:CONNINFO (a libpq connection string), or sqlite:PATH")->required();
  copy->add_option("--password-file", password_file,
                   "the database password's file (default: the config's [store] password_file)");
  copy->footer(
      "Reads the source read-only in one transaction (safe while `svdhub run` still writes it) and stores\n"
      "each batch as svdhub would: one the target holds already is left alone, so the copy can be run\n"
      "again (after an interruption, or after svdhub stopped, for what arrived meanwhile).\n"
      "Exit status: 0 copied, 1 usage or config error, an unreadable source or target, or a batch refused.");
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
  if (*copy) return copy_store(cfg, copy_from, copy_to, password_file);
  if (*sharing) return print_sharing(cfg, from_date, to_date);
  if (*report) return write_report(cfg, from_date, to_date, report_dir, person_level);
  if (*cp_export) return export_checkpoints(cfg, partner, out_path);
  if (*cp_alarms) return list_alarms(cfg, partner);
  if (*check) {
    auto keys = load_witness_keys(cfg);
    if (!keys) return 1;
    std::cout << config_path.string() << ": OK, " << cfg.feeds.size() << " feed(s), broker "
              << cfg.broker.host << ":" << cfg.broker.port;
    if (keys->key)
      std::cout << ", witness key " << svd::crypto::fingerprint(keys->key->public_key()) << " for "
                << keys->device_keys.size() << " partner(s)";
    std::cout << "\n";
    return 0;
  }
  if (*stats) {
    // The records from the store; the witness's counts from the SQLite file, which with
    // PostgreSQL is only where svdhub runs.
    const bool pg = cfg.store.backend == svd::config::StoreBackend::postgresql;
    std::error_code ec;
    const bool local = std::filesystem::exists(cfg.database, ec);
    if (!pg && !local) {
      std::cerr << cfg.database.string() << ": no store there (`svdhub run` creates it when it starts)\n";
      return 1;
    }
    const std::string where = pg ? svd::hub::describe_store(cfg) : cfg.database.string();
    auto held = pg ? svd::hub::read_pg_store_stats(cfg.store) : svd::hub::read_store_stats(cfg.database);
    if (!held) {
      std::cerr << where << ": cannot read the store (not a svdhub store, or unreadable)\n";
      return 1;
    }
    std::vector<std::string> feeds;
    for (const auto& f : cfg.feeds) feeds.push_back(f.id);
    std::cout << svd::hub::format_store_stats(where, feeds, *held);
    if (!local) return 0;
    auto witnessed = svd::hub::read_witness_stats(cfg.database);
    if (!witnessed) {
      std::cerr << cfg.database.string() << ": cannot read the store (not a svdhub store, or unreadable)\n";
      return 1;
    }
    std::vector<std::string> partners;
    for (const auto& p : cfg.partners)
      if (!p.device_key.empty()) partners.push_back(p.id);  // the partners whose checkpoints are witnessed
    std::cout << svd::hub::format_witness_stats(partners, *witnessed);
    return 0;
  }
  bool reexec = false;
  const int status = run_hub(cfg, config_path, reexec);
  if (!reexec) return status;
  // Everything of the old configuration is closed (store, sockets, Paho): the same process, with
  // the same arguments, starts again on the new one. The broker kept the session's messages.
  std::cerr << "svdhub: starting again with the new config\n";
  ::execv("/proc/self/exe", argv);
  std::cerr << "svdhub: cannot start again (" << std::strerror(errno) << "); stopping\n";
  return 1;
}
