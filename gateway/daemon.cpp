#include "gateway/daemon.h"

#include <sys/statvfs.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <ctime>
#include <deque>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "audit/events.h"
#include "config/diagnostic.h"
#include "config/gateway_config.h"
#include "base/service.h"
#include "config/temporal.h"
#include "crypto/certificate_info.h"
#include "crypto/key_ring.h"
#include "crypto/linkage_key.h"
#include "crypto/sha256.h"
#include "crypto/signing_key.h"
#include "gateway/api_documents.h"
#include "audit/keeper.h"
#include "deliver/batcher.h"
#include "gateway/certificate_renewal.h"
#include "ingest/extract_store.h"
#include "deliver/forwarder.h"
#include "ingest/http_api.h"
#include "gateway/metrics.h"
#include "gateway/ops_server.h"
#include "deliver/outbox.h"
#include "process/pipeline.h"
#include "config/schedule.h"
#include "ingest/spool.h"
#include "base/time.h"

namespace svd::gateway {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using service::Level;
using Config = std::shared_ptr<const config::GatewayConfig>;
using WorkGuard = asio::executor_work_guard<asio::io_context::executor_type>;

constexpr auto kStorageEvery = std::chrono::seconds(5);
constexpr auto kGaugesEvery = std::chrono::seconds(5);
constexpr auto kScheduleEvery = std::chrono::seconds(30);
constexpr auto kPruneEvery = std::chrono::seconds(60);
constexpr auto kPruneAge = std::chrono::minutes(10);
constexpr auto kRetryProcessingAfter = std::chrono::seconds(10);
constexpr auto kDrainGrace = std::chrono::seconds(10);

void info(const std::string& m) { service::log(Level::info, m); }
void warn(const std::string& m) { service::log(Level::warning, m); }
void fail(const std::string& m) { service::log(Level::error, m); }

// Runs `f` on the thread that runs `io` and waits for its result. For the worker thread, which
// never touches a store itself; never call it from the thread that runs `io`.
template <class F>
auto run_on(asio::io_context& io, F f) -> decltype(f()) {
  std::packaged_task<decltype(f())()> task(std::move(f));
  auto done = task.get_future();
  asio::post(io, [&task] { task(); });
  return done.get();
}

// The batcher's view of the outbox from the worker thread: every call runs on the outbox's own
// thread, between the forwarder's reads and marks, so the outbox keeps one writer. Once the
// daemon is stopping, add() fails, which abandons the extract (it is processed again at the next
// start, with the same batch ids).
class OutboxOnItsThread final : public deliver::BatchWriter {
 public:
  OutboxOnItsThread(asio::io_context& io, deliver::Outbox& outbox, const std::atomic<bool>& stopping)
      : io_(io), outbox_(outbox), stopping_(stopping) {}
  result<void> begin_extract(const std::string& id) override {
    return run_on(io_, [&] { return outbox_.begin_extract(id); });
  }
  result<void> add(const deliver::OutboxBatch& batch) override {
    if (stopping_) return errc::io_error;
    auto r = run_on(io_, [&] { return outbox_.add(batch); });
    if (r) ++batches_;
    return r;
  }
  result<void> commit_extract() override {
    return run_on(io_, [&] { return outbox_.commit_extract(); });
  }
  void abandon_extract() override {
    run_on(io_, [&] { outbox_.abandon_extract(); });
  }
  std::uint64_t batches() const { return batches_; }  // added so far (for the audit event)

 private:
  asio::io_context& io_;
  deliver::Outbox& outbox_;
  const std::atomic<bool>& stopping_;
  std::uint64_t batches_ = 0;
};

std::uint64_t file_size_or_zero(const fs::path& p) {
  std::error_code ec;
  const auto n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

// The parts of the config a reload cannot change: they are bound into open files, sockets and
// the broker session. Returns what differs, for the log.
std::string fixed_parts_changed(const config::GatewayConfig& a, const config::GatewayConfig& b) {
  auto http_bind = [](const config::GatewayConfig& c) {
    return c.http ? c.http->listen + ":" + std::to_string(c.http->port) : std::string("-");
  };
  auto hub = [](const config::GatewayConfig& c) {
    if (!c.hub) return std::string("-");
    const auto& e = c.hub->broker;
    return e.host + ":" + std::to_string(e.port) + " " + e.ca.string() + " " + e.cert.string() + " " +
           e.key.string() + " " + std::to_string(e.mqtt_version) + " " + std::to_string(c.hub->inflight) + " " +
           std::to_string(c.hub->window) + " " + std::to_string(c.hub->receipt_timeout_seconds);
  };
  if (a.partner != b.partner) return "[gateway] partner";
  if (a.state_dir != b.state_dir) return "[gateway] state_dir";
  if (hub(a) != hub(b)) return "[hub]";
  if (http_bind(a) != http_bind(b)) return "[http] listen or port (or the section itself)";
  if (a.ops.listen != b.ops.listen || a.ops.port != b.ops.port) return "[ops]";
  if (a.batches.max_records != b.batches.max_records || a.batches.max_bytes != b.batches.max_bytes)
    return "[batches]";  // seq numbers, hence batch ids, follow them
  return {};
}

std::vector<std::string> feed_ids(const config::GatewayConfig& cfg) {
  std::vector<std::string> ids;
  for (const auto& f : cfg.feeds) ids.push_back(f.id);
  return ids;
}

bool client_allowed(const config::FeedConfig& feed, const std::string& client) {
  return std::find(feed.allowed_clients.begin(), feed.allowed_clients.end(), client) != feed.allowed_clients.end();
}

// "2026-11-23T09:15:20Z" (as the store writes it) -> a time point; nullopt if malformed.
std::optional<config::SystemTime> parse_utc_iso(const std::string& s) {
  std::tm tm{};
  const char* end = ::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!end || *end != '\0') return std::nullopt;
  return std::chrono::system_clock::from_time_t(::timegm(&tm));
}

// The config file's digest, so the audit log says which configuration was in force.
std::string config_digest(const fs::path& file) {
  auto d = crypto::sha256_file(file);
  return d ? d->sha256 : std::string();
}

class Daemon final : public ingest::ApiBackend {
 public:
  Daemon(Config cfg, crypto::KeyRing keys, audit::AuditKeeperOptions audit_options, DaemonOptions options)
      : cfg_(std::move(cfg)),
        keys_(std::make_shared<const crypto::KeyRing>(std::move(keys))),
        audit_options_(std::move(audit_options)),
        options_(std::move(options)),
        store_work_(asio::make_work_guard(store_io_)),
        outbox_work_(asio::make_work_guard(outbox_io_)),
        signals_(net_, SIGTERM, SIGINT, SIGHUP),
        schedule_timer_(net_),
        spool_timer_(store_io_),
        storage_timer_(store_io_),
        prune_timer_(outbox_io_),
        gauges_timer_(outbox_io_),
        gm_(metrics_, options_.version) {
    for (const auto& f : cfg_->feeds) gm_.init_feed(f.id);
    gm_.storage_quota.set(static_cast<double>(cfg_->storage.quota_bytes));
    if (audit_options_.device_key) device_fingerprint_ = crypto::fingerprint(audit_options_.device_key->public_key());
  }

  ~Daemon() override { shutdown_threads(); }

  int run() {
    if (!open_everything()) {
      shutdown_threads();
      return 1;
    }
    record_startup();
    audit_->start();
    start_threads();
    wait_for_signals();
    asio::post(store_io_, [this] {
      scan_spool();
      arm_spool_watch();
      arm_spool_timer();
      arm_storage_timer();
      queue_unfinished();
    });
    asio::post(outbox_io_, [this] {
      arm_prune_timer();
      arm_gauges_timer();
    });
    forwarder_->start();
    arm_credentials_timer();
    arm_watchdog();
    check_schedules();
    service::notify("READY=1\nSTATUS=accepting extracts");
    info("svdgw " + options_.version + " running as partner " + config()->partner + "; " +
         (http_ ? "upload API on port " + std::to_string(http_->port()) : std::string("no upload API ([http] absent)")) +
         ", spool " + (config()->state_dir / "spool").string());
    net_.run();
    shutdown_threads();
    info("stopped");
    return 0;
  }

  // ---- ApiBackend (the upload API) --------------------------------------------------------

  ingest::Admission admit(const ingest::Upload& upload, std::optional<std::uint64_t> content_length) override {
    if (stopping_) return ingest::Admission::unavailable;
    const Config cfg = config();
    const config::FeedConfig* feed = cfg->find_feed(upload.feed);
    // Every refusal of an authenticated client is on record: who tried to share, and why not.
    auto refuse = [&](ingest::Admission a, int status, const char* code) {
      audit_->record(audit::events::upload_refused(upload.client, upload.feed, status, code));
      return a;
    };
    if (!feed) return refuse(ingest::Admission::unknown_feed, 404, "unknown_feed");
    if (!client_allowed(*feed, upload.client)) return refuse(ingest::Admission::forbidden, 403, "forbidden");
    // An accepted extract needs room three times over until it is processed and forwarded: its
    // file, its batches in the outbox, and the outbox's WAL while they are written. Refusing
    // now (507) is better than accepting what could not then be processed.
    const std::uint64_t n = content_length.value_or(0);
    if (n > std::numeric_limits<std::uint64_t>::max() / 4 || !room_for(3 * n))
      return refuse(ingest::Admission::storage_full, 507, "storage_full");
    return ingest::Admission::ok;
  }

  void incoming_file(std::function<void(result<fs::path>)> done) override {
    asio::post(store_io_, [this, done = std::move(done)] { done(store_->new_incoming()); });
  }

  // `bytes` is not needed: the store takes the size from the file it fsyncs.
  void accept(const ingest::Upload& upload, const fs::path& file, const std::string& sha256, std::uint64_t /*bytes*/,
              std::function<void(result<ingest::AcceptResult>)> done) override {
    asio::post(store_io_, [this, upload, file, sha256, done = std::move(done)] {
      std::optional<std::string> digest = sha256;
      ingest::ExtractKind kind = ingest::ExtractKind::extract;
      if (upload.kind == ingest::UploadKind::nothing_to_share) {
        kind = ingest::ExtractKind::nothing_to_share;
        if (!write_nothing_to_share(file, upload)) {
          std::error_code ec;
          fs::remove(file, ec);
          done(errc::io_error);
          return;
        }
        digest.reset();  // the store hashes the document
      }
      auto r = store_->accept(file, upload.feed, upload.name, upload.client, digest, kind);
      if (!r) {
        done(r.error());
        return;
      }
      refresh_storage();
      ingest::AcceptResult out;
      out.extract_id = r->extract.id;
      switch (r->outcome) {
        case ingest::AcceptOutcome::created:
          out.outcome = ingest::AcceptResult::Outcome::created;
          info("extract " + r->extract.id + " (" + std::string(to_string(kind)) + ") received from " + upload.client +
               ", " + std::to_string(r->extract.bytes) + " bytes");
          delivered(r->extract);
          break;
        case ingest::AcceptOutcome::same: out.outcome = ingest::AcceptResult::Outcome::same; break;
        case ingest::AcceptOutcome::conflict:
          out.outcome = ingest::AcceptResult::Outcome::conflict;
          audit_->record(audit::events::upload_refused(upload.client, upload.feed, 409, "conflict"));
          break;
      }
      out.receipt_json = receipt_json(r->extract);
      done(std::move(out));
    });
  }

  void status(const std::string& id, const std::string& client, std::function<void(ingest::ApiReply)> done) override {
    asio::post(store_io_, [this, id, client, done = std::move(done)]() mutable {
      auto e = store_->get(id);
      if (!e) {
        done(internal_error());
        return;
      }
      const Config cfg = config();
      const config::FeedConfig* feed = *e ? cfg->find_feed((*e)->feed) : nullptr;
      // Only a client that may send the feed (or sent this extract) sees it; to anyone else it
      // does not exist.
      if (!*e || ((*e)->client != client && !(feed && client_allowed(*feed, client)))) {
        done(ingest::problem_reply(404, "not_found", "Not Found", "No extract with this id is visible to this client."));
        return;
      }
      asio::post(outbox_io_, [this, extract = std::move(**e), done = std::move(done)] {
        auto progress = outbox_->progress(extract.id);
        if (!progress) {
          done(internal_error());
          return;
        }
        done({200, "application/json", status_json(extract, *progress)});
      });
    });
  }

  // Liveness, with what an operator looks at first: the broker link and overdue feeds.
  ingest::ApiReply health() override {
    std::string overdue;
    for (const auto& [feed, st] : schedule_.overdue()) {
      if (!overdue.empty()) overdue += ',';
      overdue += "{\"feed\":\"" + feed + "\",\"partner\":\"" + config()->partner + "\",\"period\":\"" +
                 st.period + "\",\"overdue_seconds\":" + std::to_string(st.overdue_for.count()) + "}";
    }
    std::string body = std::string("{\"status\":\"") + (stopping_ ? "stopping" : "ok") + "\",\"version\":\"" +
                       options_.version + "\",\"broker_connected\":" + (broker_connected_ ? "true" : "false") +
                       ",\"overdue_feeds\":[" + overdue + "]}";
    return {stopping_ ? 503 : 200, "application/json", std::move(body)};
  }

 private:
  static ingest::ApiReply internal_error() {
    return ingest::problem_reply(500, "internal_error", "Internal Server Error", "The gateway could not read its store.");
  }

  Config config() const {
    std::lock_guard lock(cfg_mu_);
    return cfg_;
  }

  std::shared_ptr<const crypto::KeyRing> linkage_keys() const {
    std::lock_guard lock(cfg_mu_);
    return keys_;
  }

  // ---- start and stop ----------------------------------------------------------------------

  bool open_everything() {
    const Config cfg = config();
    std::error_code ec;
    fs::create_directories(cfg->state_dir, ec);
    if (ec || !fs::is_directory(cfg->state_dir)) {
      fail(cfg->state_dir.string() + ": cannot create the state directory");
      return false;
    }
    auto store = ingest::ExtractStore::open(cfg->state_dir);
    if (!store) {
      fail((cfg->state_dir / "extracts.db").string() + ": cannot open the extract store: " + store.error().message());
      return false;
    }
    store_ = std::move(*store);
    auto outbox = deliver::Outbox::open(cfg->state_dir / "outbox.db");
    if (!outbox) {
      fail((cfg->state_dir / "outbox.db").string() + ": cannot open the outbox: " + outbox.error().message());
      return false;
    }
    outbox_ = std::move(*outbox);
    auto audit = audit::AuditKeeper::open(std::move(audit_options_), [this](std::string topic, std::string payload) {
      forwarder_->publish_aside(std::move(topic), std::move(payload));
    });
    if (!audit) {
      fail((cfg->state_dir / "audit.db").string() + ": cannot open the audit log: " + audit.error().message());
      return false;
    }
    audit_ = std::move(*audit);
    refresh_storage();
    open_certificate_renewal();

    if (cfg->http) {
      std::string why;
      auto tls = renewal_->load_server(*cfg->http, why);
      if (!tls) {
        fail("[http]: " + why);
        return false;
      }
      ingest::HttpServerOptions o;
      o.address = cfg->http->listen;
      o.port = static_cast<unsigned short>(cfg->http->port);
      o.max_body_bytes = cfg->http->max_extract_bytes;
      o.max_header_bytes = cfg->http->max_header_bytes;
      o.max_connections = static_cast<std::size_t>(cfg->http->max_connections);
      o.idle_timeout = std::chrono::seconds(cfg->http->idle_timeout_seconds);
      o.header_timeout = std::chrono::seconds(cfg->http->header_timeout_seconds);
      auto server = ingest::HttpServer::open(net_, std::move(tls), o, *this, [](const std::string& m) { info("http: " + m); });
      if (!server) {
        fail("[http]: cannot listen on " + o.address + " port " + std::to_string(o.port) + ": " +
             server.error().message());
        return false;
      }
      http_ = std::move(*server);
    }

    if (!open_spool(*cfg)) return false;

    if (cfg->ops.port != 0) {
      auto ops = OpsServer::open(
          net_, cfg->ops.listen, static_cast<unsigned short>(cfg->ops.port),
          [this](std::string_view path) { return ops_reply(path); }, [](const std::string& m) { info("ops: " + m); });
      if (!ops) {
        fail("[ops]: cannot listen on " + cfg->ops.listen + " port " + std::to_string(cfg->ops.port) + ": " +
             ops.error().message());
        return false;
      }
      ops_ = std::move(*ops);
    }
    ::tzset();  // deadlines are local times: take the zone as it is now (schedule.h)
    if (auto watched = watched_feeds(*cfg)) {
      for (auto& w : *watched) schedule_.watch(std::move(w));
    } else {
      fail("cannot read past deliveries from the extract store");
      return false;
    }

    deliver::ForwarderOptions fo;
    std::string why;
    auto hub_endpoint = renewal_->start_client(cfg->hub->broker, why);  // the private copies
    if (!hub_endpoint) {
      fail("[hub]: " + why);
      return false;
    }
    fo.broker = *hub_endpoint;
    fo.partner = cfg->partner;
    fo.version = options_.version;
    fo.inflight = static_cast<std::size_t>(cfg->hub->inflight);
    fo.window = static_cast<std::size_t>(cfg->hub->window);
    fo.receipt_timeout = std::chrono::seconds(cfg->hub->receipt_timeout_seconds);
    forwarder_ = std::make_unique<deliver::Forwarder>(outbox_io_, *outbox_, fo, [](const std::string& m) { info(m); });
    forwarder_->on_link_change([this](bool up) {
      broker_connected_ = up;
      gm_.broker_connected.set(up ? 1 : 0);
      audit_->link_changed(up);
    });
    forwarder_->on_checkpoint_receipt([this](std::string payload) { audit_->checkpoint_receipt(std::move(payload)); });
    return true;
  }

  // On the store thread, or before it starts.
  bool open_spool(const config::GatewayConfig& cfg) {
    ingest::SpoolOptions so;
    so.dir = cfg.state_dir / "spool";
    so.feeds = feed_ids(cfg);
    so.settle = std::chrono::seconds(cfg.storage.spool_settle_seconds);
    if (cfg.http) so.max_bytes = cfg.http->max_extract_bytes;
    auto spool = std::make_unique<ingest::Spool>(so, [](const std::string& m) { info(m); });  // lines start "spool: "
    if (auto r = spool->prepare(); !r) {
      fail(so.dir.string() + ": cannot prepare the spool directory: " + r.error().message());
      return false;
    }
    spool_watch_fd_.reset();
    spool_watch_.reset();
    auto watch = ingest::SpoolWatch::open(so.dir, so.feeds);
    if (!watch) {
      // Not fatal: the periodic scan still takes every file, only later.
      warn(so.dir.string() + ": no inotify watch (" + watch.error().message() + "); scanning every " +
           std::to_string(cfg.storage.spool_scan_seconds) + " s only");
    } else {
      spool_watch_ = std::make_unique<ingest::SpoolWatch>(std::move(*watch));
    }
    spool_ = std::move(spool);
    spool_feeds_ = so.feeds;
    return true;
  }

  void start_threads() {
    store_thread_ = std::thread([this] { store_io_.run(); });
    outbox_thread_ = std::thread([this] { outbox_io_.run(); });
    worker_thread_ = std::thread([this] { work(); });
  }

  void wait_for_signals() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        reload();
        check_credentials(true);
        arm_credentials_timer();  // the interval may have changed
        wait_for_signals();
        return;
      }
      begin_stop(signo == SIGTERM ? "SIGTERM" : "SIGINT");
    });
  }

  void begin_stop(const std::string& why) {
    if (stopping_.exchange(true)) return;
    service::notify("STOPPING=1");
    info("stopping (" + why + "): no new uploads; finishing requests in progress");
    watchdog_.reset();
    auto after_http = [this, why] {
      // The worker abandons the extract in progress at its next batch (see OutboxOnItsThread).
      {
        std::lock_guard lock(queue_mu_);
        queue_.clear();
      }
      queue_cv_.notify_all();
      if (worker_thread_.joinable()) worker_thread_.join();
      asio::post(store_io_, [this] {
        spool_timer_.cancel();
        storage_timer_.cancel();
        spool_watch_fd_.reset();
      });
      // Before the forwarder goes: the last checkpoint travels on its connection.
      audit_->stop({audit::events::gateway_stopped(why)});
      forwarder_->stop([this] {
        prune_timer_.cancel();
        gauges_timer_.cancel();
        asio::post(net_, [this] {
          signals_.cancel();
          schedule_timer_.cancel();
          if (ops_) ops_->stop();
          net_.stop();
        });
      });
    };
    if (http_) http_->stop(kDrainGrace, after_http);
    else asio::post(net_, after_http);
  }

  // Joins every thread (idempotent); the network thread is the caller's and has returned.
  void shutdown_threads() {
    stopping_ = true;
    queue_cv_.notify_all();
    if (worker_thread_.joinable()) worker_thread_.join();
    store_work_.reset();
    outbox_work_.reset();
    if (store_thread_.joinable()) {
      // Timers and the inotify wait would keep the store's io_context running.
      asio::post(store_io_, [this] {
        spool_timer_.cancel();
        storage_timer_.cancel();
        spool_watch_fd_.reset();
      });
      store_thread_.join();
    }
    if (outbox_thread_.joinable()) {
      asio::post(outbox_io_, [this] {
        prune_timer_.cancel();
        gauges_timer_.cancel();
      });
      outbox_thread_.join();
    }
  }

  void reload() {
    service::notify("RELOADING=1");
    info("reloading " + options_.config_file.string());
    Config next;
    try {
      next = std::make_shared<const config::GatewayConfig>(config::load_gateway_config(options_.config_file));
    } catch (const config::ConfigError& e) {
      for (const auto& d : e.diagnostics()) warn("reload refused: " + d.to_string());
      audit_->record(audit::events::config_reload_refused(std::to_string(e.diagnostics().size()) +
                                                          " problem(s) in the configuration"));
      service::notify("READY=1");
      return;
    }
    const Config current = config();
    if (auto what = fixed_parts_changed(*current, *next); !what.empty()) {
      warn("reload refused: " + what + " changed; restart the service to change it");
      audit_->record(audit::events::config_reload_refused(what + " changed"));
      service::notify("READY=1");
      return;
    }
    // Linkage keys may change (a rotation): the new set loads whole first, or nothing changes.
    auto keys = load_keys_for_reload(*next);
    if (!keys) return;
    if (next->http && http_) {
      std::string why;
      auto tls = renewal_->load_server(*next->http, why);
      if (!tls) {
        warn("reload refused: [http]: " + why);
        audit_->record(audit::events::config_reload_refused("the upload API's certificate, key or CRL does not load"));
        service::notify("READY=1");
        return;
      }
      http_->set_tls(std::move(tls));
    }
    audit_->record(audit::events::config_reloaded(config_digest(options_.config_file)));
    if (next->http) record_certificate("upload-server", next->http->cert);
    {
      std::lock_guard lock(cfg_mu_);
      cfg_ = next;
      keys_.swap(keys);  // `keys` is the set before the reload from here on
    }
    record_keys(*linkage_keys(), keys.get());
    for (const auto& f : next->feeds) gm_.init_feed(f.id);
    gm_.storage_quota.set(static_cast<double>(next->storage.quota_bytes));
    ::tzset();
    asio::post(store_io_, [this, next] {
      if (auto watched = watched_feeds(*next)) {
        asio::post(net_, [this, watched = std::move(*watched), next] {
          for (const auto& f : schedule_.statuses())
            if (!next->find_feed(f.first)) schedule_.unwatch(f.first);
          for (auto w : watched) schedule_.watch(std::move(w));
          check_schedules(false);
        });
      }
      if (feed_ids(*next) != spool_feeds_) {
        if (!open_spool(*next)) warn("reload: the spool keeps its old feeds");
        else arm_spool_watch();
      }
      scan_spool();
    });
    info("reloaded: " + std::to_string(next->feeds.size()) + " feed(s)");
    service::notify("READY=1");
  }

  // The linkage keys `next` names, every file read and the set checked; on any problem the reload
  // is refused (logged, recorded, READY again) and nullptr returned.
  std::shared_ptr<const crypto::KeyRing> load_keys_for_reload(const config::GatewayConfig& next) {
    auto keys = crypto::KeyRing::load(next.linkage_keys);
    if (keys) return std::make_shared<const crypto::KeyRing>(std::move(*keys));
    warn("reload refused: " + keys.error().message + "; the linkage keys in use are kept");
    const std::string which = keys.error().key_id.empty() ? std::string() : " " + keys.error().key_id;
    audit_->record(audit::events::config_reload_refused(
        "linkage key" + which + " does not load" +
        (keys.error().code != errc::ok ? " (" + std::string(errc_name(keys.error().code)) + ")" : std::string())));
    service::notify("READY=1");
    return nullptr;
  }

  void arm_watchdog() {
    const auto interval = service::watchdog_interval();
    if (!interval) return;
    watchdog_ = std::make_unique<asio::steady_timer>(net_);
    ping_watchdog(*interval);
  }

  // WATCHDOG=1 only while every thread still runs its handlers: the store and outbox threads
  // each answer a ping posted at the last tick.
  void ping_watchdog(std::chrono::microseconds interval) {
    if (!watchdog_) return;
    if (store_alive_.exchange(false) && outbox_alive_.exchange(false)) service::notify("WATCHDOG=1");
    asio::post(store_io_, [this] { store_alive_ = true; });
    asio::post(outbox_io_, [this] { outbox_alive_ = true; });
    watchdog_->expires_after(interval);
    watchdog_->async_wait([this, interval](const boost::system::error_code& ec) {
      if (!ec) ping_watchdog(interval);
    });
  }

  // ---- the audit log -------------------------------------------------------------------------

  void record_startup() {
    const Config cfg = config();
    audit_->record(audit::events::gateway_started(options_.version, cfg->partner, config_digest(options_.config_file)));
    record_keys(*linkage_keys(), nullptr);
    if (device_fingerprint_) audit_->record(audit::events::key_loaded("device", "device", *device_fingerprint_));
    if (cfg->http) {
      record_certificate("upload-server", cfg->http->cert);
      record_certificate("client-ca", cfg->http->client_ca);
    }
    if (cfg->hub) record_certificate("hub-client", renewal_->client_files().cert_chain);  // what Paho uses
  }

  // key.loaded for every key of `keys` that `before` (the set before a reload; null at start)
  // does not hold with the same bytes and window.
  void record_keys(const crypto::KeyRing& keys, const crypto::KeyRing* before) {
    for (const auto& e : keys.entries()) {
      const std::string fp = crypto::fingerprint(e.key);
      bool known = false;
      if (before)
        for (const auto& b : before->entries())
          known |= b.key.id() == e.key.id() && b.window == e.window && crypto::fingerprint(b.key) == fp;
      if (known) continue;
      const std::string from = e.window.from ? utc_iso(*e.window.from) : std::string();
      const std::string until = e.window.until ? utc_iso(*e.window.until) : std::string();
      audit_->record(audit::events::linkage_key_loaded(e.key.id(), fp, from, until));
      info("linkage key " + e.key.id() + " loaded, fingerprint " + fp + (from.empty() ? "" : ", from " + from) +
           (until.empty() ? "" : ", until " + until));
    }
  }

  // ---- certificate renewal (gateway/certificate_renewal.h) -----------------------------------

  void open_certificate_renewal() {
    CertificateRenewal::Hooks hooks;
    hooks.record = [this](audit::Event e) { audit_->record(std::move(e)); };
    hooks.expiry = [this](const std::string& role, std::chrono::system_clock::time_point t) {
      gm_.certificate_expiry.set({role}, static_cast<double>(std::chrono::system_clock::to_time_t(t)));
    };
    hooks.info = [](const std::string& m) { info(m); };
    hooks.warn = [](const std::string& m) { warn(m); };
    renewal_ = std::make_unique<CertificateRenewal>(config()->partner, config()->state_dir, std::move(hooks));
  }

  // Every [gateway] credentials_check_seconds on the network thread (0: only on SIGHUP).
  void arm_credentials_timer() {
    const int every = config()->credentials_check_seconds;
    if (every <= 0 || stopping_) {
      credentials_timer_.cancel();
      return;
    }
    credentials_timer_.expires_after(std::chrono::seconds(every));
    credentials_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      check_credentials(false);
      arm_credentials_timer();
    });
  }

  // Renewed TLS files into use. On SIGHUP (`forced`) reload() has just rebuilt the upload API's
  // context, so only the MQTT client's files are judged here.
  void check_credentials(bool forced) {
    if (stopping_) return;
    const Config cfg = config();
    if (!forced && cfg->http && http_)
      if (auto tls = renewal_->renew_server(*cfg->http)) http_->set_tls(std::move(tls));
    if (cfg->hub && renewal_->renew_client(cfg->hub->broker, forced)) forwarder_->reconnect();
  }

  void record_certificate(const std::string& role, const fs::path& file) {
    if (auto info = crypto::read_certificate_info(file))
      audit_->record(audit::events::certificate_loaded(role, info->sha256, info->not_after));
  }

  // ---- operations: metrics and schedules -----------------------------------------------------

  ingest::ApiReply ops_reply(std::string_view path) {
    if (path == "/healthz") return health();
    if (path == "/metrics") {
      if (http_) {
        const ingest::HttpCounters c = http_->counters();
        gm_.uploads.set_total({"4xx"}, static_cast<double>(c.responses_4xx));
        gm_.uploads.set_total({"5xx"}, static_cast<double>(c.responses_5xx));
        gm_.uploads.set_total({"2xx"}, static_cast<double>(c.uploads_created + c.uploads_same));
      }
      return {200, std::string(kMetricsContentType), metrics_.render()};
    }
    return ingest::problem_reply(404, "not_found", "Not Found", "This port serves /healthz and /metrics.");
  }

  // Each feed's schedule state from the store: when the gateway started watching it and its last
  // delivery. On the store thread, or before it starts.
  std::optional<std::vector<config::WatchedFeed>> watched_feeds(const config::GatewayConfig& cfg) {
    auto last = store_->last_received_per_feed();
    if (!last) return std::nullopt;
    std::vector<config::WatchedFeed> out;
    const auto now = std::chrono::system_clock::now();
    for (const auto& f : cfg.feeds) {
      const auto now_t = std::chrono::system_clock::to_time_t(now);
      auto since = store_->watched_since(
          f.id, now_t, audit::events::feed_watched(f.id, cfg.partner, f.schedule.to_string(), utc_iso(now_t)));
      if (!since) return std::nullopt;
      config::WatchedFeed w{f.id, f.schedule, std::chrono::system_clock::from_time_t(static_cast<std::time_t>(*since)), {}};
      if (auto it = last->find(f.id); it != last->end()) w.last_delivery = parse_utc_iso(it->second);
      out.push_back(std::move(w));
    }
    return out;
  }

  // On the network thread: logs feed.overdue when a feed becomes overdue or clears, and sets the
  // gauges; with `rearm`, again every kScheduleEvery.
  void check_schedules(bool rearm = true) {
    const std::string partner = config()->partner;
    for (const auto& change : schedule_.evaluate_all(std::chrono::system_clock::now())) {
      if (change.overdue) {
        warn("feed.overdue: feed " + change.feed + " of partner " + partner + " missed its deadline (" +
             change.status.period + ")");
        const auto deadline = change.status.missed_deadline.value_or(std::chrono::system_clock::now());
        audit_->record(audit::events::feed_overdue(change.feed, partner, change.status.period,
                                                   utc_iso(std::chrono::system_clock::to_time_t(deadline))));
        overdue_period_[change.feed] = change.status.period;
      } else {
        info("feed.overdue_cleared: feed " + change.feed + " of partner " + partner + " delivered");
        audit_->record(audit::events::feed_overdue_cleared(change.feed, partner, overdue_period_[change.feed],
                                                           last_delivery_[change.feed]));
        overdue_period_.erase(change.feed);
      }
    }
    for (const auto& [feed, st] : schedule_.statuses()) {
      gm_.feed_overdue.set({feed}, st.overdue ? 1 : 0);
      gm_.feed_overdue_seconds.set({feed}, static_cast<double>(st.overdue_for.count()));
    }
    if (!rearm) return;
    schedule_timer_.expires_after(kScheduleEvery);
    schedule_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec && !stopping_) check_schedules();
    });
  }

  // On the outbox thread: the outbox's and the forwarder's figures for /metrics.
  void arm_gauges_timer() {
    update_gauges();
    gauges_timer_.expires_after(kGaugesEvery);
    gauges_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec && !stopping_) arm_gauges_timer();
    });
  }

  void update_gauges() {
    const auto c = forwarder_->counters();
    gm_.batches.set_total({"published"}, static_cast<double>(c.pubacks));
    gm_.batches.set_total({"acknowledged"}, static_cast<double>(c.accepted + c.duplicates));
    gm_.batches.set_total({"rejected"}, static_cast<double>(c.rejected));
    if (auto s = outbox_->stats()) {
      gm_.outbox_batches.set(static_cast<double>(s->queued + s->published));
      gm_.outbox_records.set(static_cast<double>(s->unacknowledged_records));
      const auto now = static_cast<std::int64_t>(std::time(nullptr));
      gm_.outbox_oldest_age.set(s->oldest_unacknowledged_at ? static_cast<double>(now - s->oldest_unacknowledged_at) : 0);
    }
    if (auto acked = outbox_->acknowledged_records_per_feed())
      for (const auto& [feed, n] : *acked) gm_.rows.set_total({feed, "acknowledged"}, static_cast<double>(n));
    const std::uint64_t quota = config()->storage.quota_bytes, used = storage_used_;
    gm_.storage_headroom.set(used >= quota ? 0 : static_cast<double>(quota - used));
  }

  // ---- the store thread --------------------------------------------------------------------

  void queue_unfinished() {
    auto work = store_->unfinished();
    if (!work) {
      fail("cannot read unfinished extracts from the store: " + work.error().message());
      return;
    }
    if (!work->empty()) info(std::to_string(work->size()) + " extract(s) to process from before the last stop");
    for (auto& e : *work) enqueue(std::move(e));
  }

  // A new extract (or return) is in the store: count it, tell the schedule, process it.
  void delivered(const ingest::StoredExtract& e) {
    gm_.extracts.add({e.feed, "received"}, 1);
    audit_->nudge();
    asio::post(net_, [this, feed = e.feed, id = e.id, at = parse_utc_iso(e.received_at)] {
      last_delivery_[feed] = id;
      schedule_.record_delivery(feed, at.value_or(std::chrono::system_clock::now()));
      check_schedules(false);
    });
    enqueue(e);
  }

  void scan_spool() {
    if (stopping_ || !spool_) return;
    if (!room_for(0)) return;  // files wait in the spool until there is room again
    for (const auto& ev : spool_->scan(*store_)) {
      if (ev.what != ingest::SpoolEvent::What::accepted) continue;
      auto e = store_->get(ev.extract_id);
      if (e && *e) {
        info("extract " + (*e)->id + " received from the spool, " + std::to_string((*e)->bytes) + " bytes");
        delivered(**e);
      }
    }
    refresh_storage();
  }

  void arm_spool_watch() {
    spool_watch_fd_.reset();
    if (!spool_watch_) return;
    // The descriptor stays the SpoolWatch's: release() before it goes (see spool.h).
    spool_watch_fd_.reset(new asio::posix::stream_descriptor(store_io_, spool_watch_->fd()),
                          [](asio::posix::stream_descriptor* d) {
                            boost::system::error_code ec;
                            d->cancel(ec);
                            d->release();
                            delete d;
                          });
    wait_spool_watch();
  }

  void wait_spool_watch() {
    if (!spool_watch_fd_) return;
    spool_watch_fd_->async_wait(asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
      if (ec || stopping_ || !spool_watch_) return;
      if (spool_watch_->drain()) scan_spool();
      wait_spool_watch();
    });
  }

  void arm_spool_timer() {
    spool_timer_.expires_after(std::chrono::seconds(config()->storage.spool_scan_seconds));
    spool_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      scan_spool();
      arm_spool_timer();
    });
  }

  void arm_storage_timer() {
    storage_timer_.expires_after(kStorageEvery);
    storage_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      refresh_storage();
      apply_retention();
      arm_storage_timer();
    });
  }

  // What counts against the quota: the extract store's files and both databases.
  void refresh_storage() {
    const fs::path& dir = config()->state_dir;
    std::uint64_t used = store_->bytes_on_disk();
    for (const char* f : {"extracts.db", "extracts.db-wal", "outbox.db", "outbox.db-wal", "audit.db", "audit.db-wal"})
      used += file_size_or_zero(dir / f);
    storage_used_ = used;
    struct statvfs vfs {};
    if (::statvfs(dir.c_str(), &vfs) == 0) {
      const auto block = static_cast<std::uint64_t>(vfs.f_frsize);
      disk_free_ = static_cast<std::uint64_t>(vfs.f_bavail) * block;
      // Kept free for the databases' own growth (an extract's batches, state marks), so a full
      // disk never stops what was already accepted: 2 % of the filesystem, at least 1 MiB.
      disk_margin_ = std::max<std::uint64_t>(std::uint64_t{1} << 20, static_cast<std::uint64_t>(vfs.f_blocks) * block / 50);
    }
  }

  // Room for `bytes` more (0: is the quota reached at all?), within the quota and the disk's
  // free space less its margin.
  bool room_for(std::uint64_t bytes) const {
    const std::uint64_t quota = config()->storage.quota_bytes;
    const std::uint64_t used = storage_used_;
    if (used >= quota || bytes > quota - used) return false;
    const std::uint64_t free = disk_free_, margin = disk_margin_;
    return free > margin && bytes <= free - margin;
  }

  void apply_retention() {
    const auto hours = config()->storage.retain_extracts_hours;
    const std::string cutoff = utc_iso(std::time(nullptr) - static_cast<std::time_t>(hours) * 3600);
    auto removed = store_->remove_finished_files(cutoff);
    if (!removed) warn("retention: cannot remove processed extracts' files: " + removed.error().message());
    else if (*removed > 0) info("retention: removed " + std::to_string(*removed) + " processed extract file(s)");
  }

  bool write_nothing_to_share(const fs::path& file, const ingest::Upload& upload) {
    const std::string doc = nothing_to_share_document(upload.feed, upload.name);
    std::FILE* f = std::fopen(file.c_str(), "wb");
    if (!f) return false;
    const bool ok = std::fwrite(doc.data(), 1, doc.size(), f) == doc.size();
    return std::fclose(f) == 0 && ok;
  }

  // ---- the outbox thread -------------------------------------------------------------------

  void arm_prune_timer() {
    prune_timer_.expires_after(kPruneEvery);
    prune_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      auto pruned = outbox_->prune_acknowledged(kPruneAge, 2000);
      if (!pruned) warn("outbox: cannot free acknowledged payloads: " + pruned.error().message());
      arm_prune_timer();
    });
  }

  // ---- the worker thread -------------------------------------------------------------------

  void enqueue(ingest::StoredExtract e) {
    {
      std::lock_guard lock(queue_mu_);
      for (const auto& q : queue_)
        if (q.id == e.id) return;
      queue_.push_back(std::move(e));
    }
    queue_cv_.notify_one();
  }

  void work() {
    for (;;) {
      ingest::StoredExtract e;
      {
        std::unique_lock lock(queue_mu_);
        queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        e = std::move(queue_.front());
        queue_.pop_front();
      }
      process(e);
    }
  }

  void process(const ingest::StoredExtract& e) {
    const Config cfg = config();
    const config::FeedConfig* feed = cfg->find_feed(e.feed);
    if (!feed) {
      warn("extract " + e.id + ": feed " + e.feed + " is no longer configured; it waits (add the feed back and reload)");
      return;
    }
    // The received time picks the linkage keys: processing again after a crash or a restart gives
    // the same records and batch ids (as long as the configured keys are the same).
    const auto received = parse_utc_iso(e.received_at);
    if (!received) {
      fail("extract " + e.id + ": its received time is unreadable; it cannot be processed");
      return;
    }
    const std::int64_t keys_at = std::chrono::system_clock::to_time_t(*received);
    const auto keys = linkage_keys();
    if (auto r = run_on(store_io_, [&] { return store_->set_state(e.id, ingest::ExtractState::processing); }); !r) {
      fail("extract " + e.id + ": cannot record that processing started: " + r.error().message());
      retry_later(e);
      return;
    }
    deliver::BatchContext context{cfg->partner, feed->id, feed->schema.name, keys->ids_in_force(keys_at),
                         {e.id, e.sha256, e.received_at}};
    OutboxOnItsThread writer(outbox_io_, *outbox_, stopping_);
    auto sink = open_outbox_sink(writer, std::move(context), {cfg->batches.max_records, cfg->batches.max_bytes});
    if (!sink) {
      fail("extract " + e.id + ": cannot open the outbox: " + sink.error().message());
      retry_later(e);
      return;
    }
    result<process::ExtractReport> report = errc::io_error;
    if (e.kind == ingest::ExtractKind::nothing_to_share) {
      process::ExtractReport r;
      r.partner = cfg->partner;
      r.feed = feed->id;
      r.schema_name = feed->schema.name;
      r.key_ids = keys->ids_in_force(keys_at);
      r.extract_sha256 = e.sha256;
      r.extract_bytes = e.bytes;
      r.started_at = r.finished_at = utc_iso(std::chrono::system_clock::now());
      report = (*sink)->commit() ? result<process::ExtractReport>(std::move(r)) : result<process::ExtractReport>(errc::io_error);
    } else if (e.file.empty()) {
      // Only a damaged store gets here: unfinished extracts keep their files.
      fail("extract " + e.id + ": its file is gone; it cannot be processed");
      sink->reset();
      return;
    } else {
      process::ExtractJob job{cfg.get(), feed, e.file, process::Now::system(), {}, 0, keys_at};
      report = run_pipeline(job, *keys, **sink);
    }
    sink->reset();
    if (!report) {
      if (stopping_) return;  // abandoned on purpose; processed again at the next start
      fail("extract " + e.id + ": processing failed (" + report.error().message() + "); trying again in " +
           std::to_string(kRetryProcessingAfter.count()) + " s");
      retry_later(e);
      return;
    }
    const ingest::ExtractState state = report->refused ? ingest::ExtractState::refused : ingest::ExtractState::processed;
    const std::string report_json = report->to_json();
    audit::events::Processed summary;
    summary.extract_id = e.id;
    summary.feed = feed->id;
    summary.schema = feed->schema.name;
    summary.sha256 = e.sha256;
    summary.key_ids = report->key_ids;
    summary.rows = report->rows_total;
    summary.valid = report->rows_valid;
    summary.rejected = report->rows_rejected;
    summary.rejected_by_code = report->rejections_by_code;
    summary.batches = writer.batches();
    summary.records = report->refused ? 0 : report->rows_valid;
    if (report->refused) summary.refused_reason = std::string(errc_name(report->refusal));
    std::vector<audit::Event> events{audit::events::extract_finished(summary)};
    if (summary.rejected > 0) events.push_back(audit::events::rows_rejected(summary));
    auto marked = run_on(store_io_, [&]() -> result<void> {
      auto r = store_->set_state(e.id, state, report_json, events);
      if (r && cfg->storage.retain_extracts_hours == 0) apply_retention();
      refresh_storage();
      return r;
    });
    if (!marked) {
      // E.g. a full disk. Processing again is idempotent (same batch ids, the outbox keeps what
      // it holds), so it is simply done again until the state sticks.
      fail("extract " + e.id + ": processed, but its state could not be recorded (" + marked.error().message() +
           "); processing it again in " + std::to_string(kRetryProcessingAfter.count()) + " s, queueing nothing twice");
      retry_later(e);
      forwarder_->notify_queued();  // what it queued may go; it is counted once its state sticks
      return;
    }
    gm_.extracts.add({e.feed, report->refused ? "refused" : "processed"}, 1);
    gm_.rows.add({e.feed, "received"}, static_cast<double>(report->rows_total));
    gm_.rows.add({e.feed, "rejected"}, static_cast<double>(report->rows_rejected));
    if (!report->refused) gm_.rows.add({e.feed, "forwarded"}, static_cast<double>(report->rows_valid));
    if (report->refused)
      warn("extract " + e.id + " refused: " + std::string(errc_name(report->refusal)) + "; nothing was queued");
    else
      info("extract " + e.id + " processed: " + std::to_string(report->rows_total) + " rows, " +
           std::to_string(report->rows_valid) + " valid, " + std::to_string(report->rows_rejected) + " rejected");
    audit_->nudge();
    forwarder_->notify_queued();
  }

  void retry_later(const ingest::StoredExtract& e) {
    auto timer = std::make_shared<asio::steady_timer>(net_, kRetryProcessingAfter);
    timer->async_wait([this, timer, e](const boost::system::error_code& ec) {
      if (!ec && !stopping_) enqueue(e);
    });
  }

  // Declaration order is destruction order in reverse: the io_contexts outlive everything that
  // posts to them.
  mutable std::mutex cfg_mu_;
  Config cfg_;
  std::shared_ptr<const crypto::KeyRing> keys_;  // with cfg_, under cfg_mu_: a SIGHUP swaps both
  audit::AuditKeeperOptions audit_options_;  // moved into audit_ when it opens
  std::optional<std::string> device_fingerprint_;
  const DaemonOptions options_;

  asio::io_context net_, store_io_, outbox_io_;
  WorkGuard store_work_, outbox_work_;
  asio::signal_set signals_;
  asio::steady_timer schedule_timer_;
  std::unique_ptr<asio::steady_timer> watchdog_;
  std::atomic<bool> store_alive_{true}, outbox_alive_{true};

  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> storage_used_{0}, disk_free_{0}, disk_margin_{0};
  std::atomic<bool> broker_connected_{false};

  std::unique_ptr<ingest::ExtractStore> store_;
  std::unique_ptr<deliver::Outbox> outbox_;
  std::unique_ptr<ingest::Spool> spool_;
  std::vector<std::string> spool_feeds_;
  std::unique_ptr<ingest::SpoolWatch> spool_watch_;
  std::shared_ptr<asio::posix::stream_descriptor> spool_watch_fd_;
  asio::steady_timer spool_timer_, storage_timer_, prune_timer_, gauges_timer_;
  Metrics metrics_;
  GatewayMetrics gm_;
  config::ScheduleTracker schedule_;  // the network thread's
  std::unique_ptr<deliver::Forwarder> forwarder_;
  // After forwarder_, so it goes first: its thread publishes through the forwarder.
  std::unique_ptr<audit::AuditKeeper> audit_;
  std::map<std::string, std::string> overdue_period_, last_delivery_;  // the network thread's
  std::unique_ptr<ingest::HttpServer> http_;
  std::unique_ptr<OpsServer> ops_;
  std::unique_ptr<CertificateRenewal> renewal_;  // the network thread's
  asio::steady_timer credentials_timer_{net_};

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<ingest::StoredExtract> queue_;

  std::thread store_thread_, outbox_thread_, worker_thread_;
};

}  // namespace

int run_daemon(const DaemonOptions& options) {
  Config cfg;
  try {
    cfg = std::make_shared<const config::GatewayConfig>(config::load_gateway_config(options.config_file));
  } catch (const config::ConfigError& e) {
    for (const auto& d : e.diagnostics()) fail(d.to_string());
    return 1;
  }
  if (!cfg->hub) {
    fail(options.config_file.string() + ": no [hub] section: svdgw run needs the hub broker's address and this "
         "gateway's certificate");
    return 1;
  }
  auto keys = crypto::KeyRing::load(cfg->linkage_keys);
  if (!keys) {
    fail(keys.error().message);
    return 1;
  }
  audit::AuditKeeperOptions audit;
  audit.state_dir = cfg->state_dir;
  audit.partner = cfg->partner;
  audit.checkpoint_events = static_cast<std::uint64_t>(cfg->audit.checkpoint_events);
  audit.checkpoint_every = std::chrono::minutes(cfg->audit.checkpoint_minutes);
  audit.receipt_timeout = std::chrono::seconds(cfg->hub->receipt_timeout_seconds);
  if (!cfg->audit.device_key.empty()) {
    auto device = crypto::load_signing_key(cfg->audit.device_key);
    if (!device) {
      const auto code = static_cast<errc>(device.error().value());
      fail(cfg->audit.device_key.string() + ": " + std::string(errc_message(code)) + " [" +
           std::string(errc_name(code)) + "]");
      return 1;
    }
    audit.device_key = std::move(*device);
  }
  if (!cfg->audit.hub_witness_key.empty()) {
    auto witness = crypto::load_public_key(cfg->audit.hub_witness_key);
    if (!witness) {
      const auto code = static_cast<errc>(witness.error().value());
      fail(cfg->audit.hub_witness_key.string() + ": " + std::string(errc_message(code)) + " [" +
           std::string(errc_name(code)) + "]");
      return 1;
    }
    audit.witness_key = *witness;
  }
  // A peer that closes a socket mid-write must not kill the daemon.
  std::signal(SIGPIPE, SIG_IGN);
  Daemon daemon(std::move(cfg), std::move(*keys), std::move(audit), options);
  return daemon.run();
}

}  // namespace svd::gateway
