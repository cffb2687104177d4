#include "gateway/daemon.h"

#include <atomic>
#include <csignal>
#include <ctime>
#include <map>
#include <memory>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "audit/events.h"
#include "audit/keeper.h"
#include "base/clock.h"
#include "base/service.h"
#include "base/time.h"
#include "config/diagnostic.h"
#include "config/gateway_config.h"
#include "crypto/certificate_info.h"
#include "crypto/key_ring.h"
#include "crypto/linkage_key.h"
#include "crypto/sha256.h"
#include "crypto/signing_key.h"
#include "deliver/forwarder.h"
#include "deliver/outbox.h"
#include "gateway/certificate_renewal.h"
#include "gateway/extract_worker.h"
#include "gateway/housekeeping.h"
#include "gateway/live_config.h"
#include "gateway/metrics.h"
#include "ops/ops_server.h"
#include "gateway/options.h"
#include "gateway/schedule_watch.h"
#include "gateway/spool_intake.h"
#include "gateway/storage.h"
#include "gateway/upload_backend.h"
#include "ingest/extract_store.h"
#include "ingest/http_api.h"

namespace svd::gateway {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using service::Level;
using WorkGuard = asio::executor_work_guard<asio::io_context::executor_type>;

constexpr auto kDrainGrace = std::chrono::seconds(10);

void info(const std::string& m) { service::log(Level::info, m); }
void warn(const std::string& m) { service::log(Level::warning, m); }
void fail(const std::string& m) { service::log(Level::error, m); }

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

// The config file's digest, so the audit log says which configuration was in force.
std::string config_digest(const fs::path& file) {
  auto d = crypto::sha256_file(file);
  return d ? d->sha256 : std::string();
}

// Each feed's schema file's digest: the config's digest alone would not show a schema edited to
// let another field leave the site.
std::map<std::string, std::string> schema_digests(const config::GatewayConfig& cfg) {
  std::map<std::string, std::string> out;
  for (const auto& f : cfg.feeds) out[f.id] = crypto::sha256_hex(f.schema.source);
  return out;
}

ingest::HttpServerOptions http_options(const config::HttpConfig& h) {
  ingest::HttpServerOptions o;
  o.address = h.listen;
  o.port = static_cast<unsigned short>(h.port);
  o.max_body_bytes = h.max_extract_bytes;
  o.max_header_bytes = h.max_header_bytes;
  o.max_connections = static_cast<std::size_t>(h.max_connections);
  o.idle_timeout = std::chrono::seconds(h.idle_timeout_seconds);
  o.header_timeout = std::chrono::seconds(h.header_timeout_seconds);
  o.max_handshakes_per_address = static_cast<std::size_t>(h.max_handshakes_per_address);
  o.min_upload_bytes_per_second = h.min_upload_bytes_per_second;
  return o;
}

// The composition root of `svdgw run`: opens the stores, builds every component with what it
// needs, starts the threads, and turns signals into reloads and a drain. The work itself is in
// the components (see daemon.h for the threads).
class Daemon {
 public:
  Daemon(ConfigPtr cfg, crypto::KeyRing keys, audit::AuditKeeperOptions audit_options, DaemonOptions options)
      : live_(std::move(cfg), std::make_shared<const crypto::KeyRing>(std::move(keys))),
        audit_options_(std::move(audit_options)),
        options_(std::move(options)),
        store_work_(asio::make_work_guard(store_io_)),
        outbox_work_(asio::make_work_guard(outbox_io_)),
        signals_(net_, SIGTERM, SIGINT, SIGHUP),
        gm_(metrics_, options_.version) {
    const ConfigPtr cfg_now = live_.config();
    for (const auto& f : cfg_now->feeds) gm_.init_feed(f.id);
    gm_.storage_quota.set(static_cast<double>(cfg_now->storage.quota_bytes));
    if (audit_options_.device_key) device_fingerprint_ = crypto::fingerprint(audit_options_.device_key->public_key());
  }

  ~Daemon() { shutdown_threads(); }

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
      spool_->start();
      queue_unfinished();
    });
    housekeeping_->start();
    forwarder_->start();
    arm_credentials_timer();
    schedules_->start();
    service::notify("READY=1\nSTATUS=accepting extracts");
    info("svdgw " + options_.version + " running as partner " + live_.config()->partner + "; " +
         (http_ ? "upload API on port " + std::to_string(http_->port()) : std::string("no upload API ([http] absent)")) +
         ", spool " + (live_.config()->state_dir / "spool").string());
    net_.run();
    shutdown_threads();
    info("stopped");
    return 0;
  }

 private:
  // ---- start and stop ----------------------------------------------------------------------

  bool open_everything() {
    const ConfigPtr cfg = live_.config();
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
    storage_ = std::make_unique<StorageQuota>(cfg->state_dir, *store_);
    storage_->refresh();
    open_certificate_renewal();

    auto delivered = [this](const ingest::StoredExtract& e) { this->delivered(e); };
    const Stores stores{store_io_, *store_, outbox_io_, *outbox_};
    backend_ = std::make_unique<UploadBackend>(
        UploadBackend::Parts{live_, stores, *audit_, *storage_, stopping_, delivered, [this] { return health(); }});
    if (cfg->http) {
      std::string why;
      auto tls = renewal_->load_server(*cfg->http, why);
      if (!tls) {
        fail("[http]: " + why);
        return false;
      }
      const ingest::HttpServerOptions o = http_options(*cfg->http);
      auto server = ingest::HttpServer::open(net_, std::move(tls), o, *backend_, [](const std::string& m) { info("http: " + m); });
      if (!server) {
        fail("[http]: cannot listen on " + o.address + " port " + std::to_string(o.port) + ": " +
             server.error().message());
        return false;
      }
      http_ = std::move(*server);
      if (cfg->http->crl.empty()) warn(config::kNoCrlWarning);
    }

    spool_ = std::make_unique<SpoolIntake>(store_io_, live_, *store_, *storage_, stopping_, delivered);
    if (!spool_->open(*cfg)) return false;

    if (cfg->ops.port != 0) {
      auto ops = ops::OpsServer::open(
          net_, cfg->ops.listen, static_cast<unsigned short>(cfg->ops.port),
          [this](std::string_view path) { return ops_reply(path); }, [](const std::string& m) { info("ops: " + m); });
      if (!ops) {
        fail("[ops]: cannot listen on " + cfg->ops.listen + " port " + std::to_string(cfg->ops.port) + ": " +
             ops.error().message());
        return false;
      }
      ops_ = std::move(*ops);
    }
    ::tzset();  // deadlines are local times: take the zone as it is now (config/schedule.h)
    schedules_ = std::make_unique<ScheduleWatch>(net_, *audit_, gm_, clock_);
    if (auto watched = watched_feeds(*cfg, *store_, clock_)) {
      schedules_->watch(cfg->partner, std::move(*watched));
    } else {
      fail("cannot read past deliveries from the extract store");
      return false;
    }

    std::string why;
    auto hub_endpoint = renewal_->start_client(cfg->hub->broker, why);  // the private copies
    if (!hub_endpoint) {
      fail("[hub]: " + why);
      return false;
    }
    forwarder_ = std::make_unique<deliver::Forwarder>(outbox_io_, *outbox_, forwarder_options(*cfg, *hub_endpoint, options_.version),
                                                      [](const std::string& m) { info(m); });
    forwarder_->on_link_change([this](bool up) {
      broker_connected_ = up;
      gm_.broker_connected.set(up ? 1 : 0);
      audit_->link_changed(up);
    });
    forwarder_->on_checkpoint_receipt([this](std::string payload) { audit_->checkpoint_receipt(std::move(payload)); });

    worker_ = std::make_unique<ExtractWorker>(ExtractWorker::Parts{
        live_, stores, net_, *audit_, *storage_, gm_, clock_, stopping_, [this] { forwarder_->notify_queued(); }});
    housekeeping_ = std::make_unique<Housekeeping>(
        Housekeeping::Parts{live_, net_, stores, *forwarder_, *storage_, gm_, clock_, stopping_});
    return true;
  }

  void start_threads() {
    store_thread_ = std::thread([this] { store_io_.run(); });
    outbox_thread_ = std::thread([this] { outbox_io_.run(); });
    worker_->start();
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
    auto after_http = [this, why] {
      // The worker abandons the extract in progress at its next batch (see ExtractWorker).
      worker_->stop();
      housekeeping_->stop();
      asio::post(store_io_, [this] { spool_->stop(); });
      // Before the forwarder goes: the last checkpoint travels on its connection.
      audit_->stop({audit::events::gateway_stopped(why)});
      forwarder_->stop([this] {
        asio::post(net_, [this] {
          signals_.cancel();
          schedules_->stop();
          credentials_timer_.cancel();
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
    if (worker_) worker_->stop();
    if (housekeeping_) housekeeping_->stop();
    store_work_.reset();
    outbox_work_.reset();
    if (store_thread_.joinable()) {
      // Timers and the inotify wait would keep the store's io_context running.
      if (spool_) asio::post(store_io_, [this] { spool_->stop(); });
      store_thread_.join();
    }
    if (outbox_thread_.joinable()) outbox_thread_.join();
  }

  // ---- reload (SIGHUP) ---------------------------------------------------------------------

  void reload() {
    service::notify("RELOADING=1");
    info("reloading " + options_.config_file.string());
    ConfigPtr next;
    try {
      next = std::make_shared<const config::GatewayConfig>(config::load_gateway_config(options_.config_file));
    } catch (const config::ConfigError& e) {
      for (const auto& d : e.diagnostics()) warn("reload refused: " + d.to_string());
      audit_->record(audit::events::config_reload_refused(std::to_string(e.diagnostics().size()) +
                                                          " problem(s) in the configuration"));
      service::notify("READY=1");
      return;
    }
    const ConfigPtr current = live_.config();
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
    audit_->record(audit::events::config_reloaded(config_digest(options_.config_file), schema_digests(*next)));
    if (next->http) record_certificate("upload-server", next->http->cert);
    const KeysPtr before = live_.replace(next, std::move(keys));
    record_keys(*live_.keys(), before.get());
    for (const auto& f : next->feeds) gm_.init_feed(f.id);
    gm_.storage_quota.set(static_cast<double>(next->storage.quota_bytes));
    ::tzset();
    asio::post(store_io_, [this, next] {
      if (auto watched = watched_feeds(*next, *store_, clock_)) {
        asio::post(net_, [this, watched = std::move(*watched), next]() mutable {
          schedules_->watch(next->partner, std::move(watched));
          schedules_->check();
        });
      }
      spool_->reconfigure(*next);
    });
    info("reloaded: " + std::to_string(next->feeds.size()) + " feed(s)");
    service::notify("READY=1");
  }

  // The linkage keys `next` names, every file read and the set checked; on any problem the reload
  // is refused (logged, recorded, READY again) and nullptr returned.
  KeysPtr load_keys_for_reload(const config::GatewayConfig& next) {
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

  // ---- the audit log -------------------------------------------------------------------------

  void record_startup() {
    const ConfigPtr cfg = live_.config();
    audit_->record(audit::events::gateway_started(options_.version, cfg->partner, config_digest(options_.config_file),
                                                  schema_digests(*cfg)));
    record_keys(*live_.keys(), nullptr);
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

  void record_certificate(const std::string& role, const fs::path& file) {
    if (auto cert = crypto::read_certificate_info(file))
      audit_->record(audit::events::certificate_loaded(role, cert->sha256, cert->not_after));
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
    renewal_ = std::make_unique<CertificateRenewal>(live_.config()->partner, live_.config()->state_dir, std::move(hooks));
  }

  // Every [gateway] credentials_check_seconds on the network thread (0: only on SIGHUP).
  void arm_credentials_timer() {
    const int every = live_.config()->credentials_check_seconds;
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
    const ConfigPtr cfg = live_.config();
    if (!forced && cfg->http && http_)
      if (auto tls = renewal_->renew_server(*cfg->http)) http_->set_tls(std::move(tls));
    if (cfg->hub && renewal_->renew_client(cfg->hub->broker, forced)) forwarder_->reconnect();
  }

  // ---- what the components hand back -------------------------------------------------------

  // A new extract (or return) is in the store (store thread): count it, tell the schedules,
  // process it.
  void delivered(const ingest::StoredExtract& e) {
    gm_.extracts.add({e.feed, "received"}, 1);
    audit_->nudge();
    asio::post(net_, [this, feed = e.feed, id = e.id, at = parse_utc_iso(e.received_at)] {
      schedules_->delivered(feed, id, at.value_or(clock_.now()));
    });
    worker_->enqueue(e);
  }

  // On the store thread, at start: what was received or in progress before the last stop.
  void queue_unfinished() {
    auto work = store_->unfinished();
    if (!work) {
      fail("cannot read unfinished extracts from the store: " + work.error().message());
      return;
    }
    if (!work->empty()) info(std::to_string(work->size()) + " extract(s) to process from before the last stop");
    for (auto& e : *work) worker_->enqueue(std::move(e));
  }

  // Liveness, with what an operator looks at first: the broker link and overdue feeds. On the
  // network thread.
  ingest::ApiReply health() {
    std::string body = std::string("{\"status\":\"") + (stopping_ ? "stopping" : "ok") + "\",\"version\":\"" +
                       options_.version + "\",\"broker_connected\":" + (broker_connected_ ? "true" : "false") +
                       ",\"overdue_feeds\":[" + schedules_->overdue_json() + "]}";
    return {stopping_ ? 503 : 200, "application/json", std::move(body)};
  }

  ops::Reply ops_reply(std::string_view path) {
    const auto reply = [](ingest::ApiReply r) {
      return ops::Reply{r.status, std::move(r.content_type), std::move(r.body)};
    };
    if (path == "/healthz") return reply(health());
    if (path == "/metrics") {
      if (http_) {
        const ingest::HttpCounters c = http_->counters();
        gm_.uploads.set_total({"4xx"}, static_cast<double>(c.responses_4xx));
        gm_.uploads.set_total({"5xx"}, static_cast<double>(c.responses_5xx));
        gm_.uploads.set_total({"2xx"}, static_cast<double>(c.uploads_created + c.uploads_same));
        gm_.http_connections.set_total({"accepted"}, static_cast<double>(c.connections));
        gm_.http_connections.set_total({"refused"}, static_cast<double>(c.refused_connections));
        gm_.http_connections.set_total({"handshake_failed"}, static_cast<double>(c.handshake_failures));
        gm_.http_connections.set_total({"handshake_cut"}, static_cast<double>(c.handshakes_cut));
        gm_.http_connections.set_total({"timed_out"}, static_cast<double>(c.timeouts));
      }
      return {200, std::string(kMetricsContentType), metrics_.render()};
    }
    return reply(ingest::problem_reply(404, "not_found", "Not Found", "This port serves /healthz and /metrics."));
  }

  // Declaration order is destruction order in reverse: the io_contexts outlive everything that
  // posts to them, and each component outlives those that hold a reference to it.
  LiveConfig live_;
  audit::AuditKeeperOptions audit_options_;  // moved into audit_ when it opens
  std::optional<std::string> device_fingerprint_;
  const DaemonOptions options_;
  const Clock& clock_ = Clock::system();

  asio::io_context net_, store_io_, outbox_io_;
  WorkGuard store_work_, outbox_work_;
  asio::signal_set signals_;
  asio::steady_timer credentials_timer_{net_};

  std::atomic<bool> stopping_{false};
  std::atomic<bool> broker_connected_{false};
  Metrics metrics_{"svdgw"};
  GatewayMetrics gm_;

  std::unique_ptr<ingest::ExtractStore> store_;
  std::unique_ptr<deliver::Outbox> outbox_;
  std::unique_ptr<StorageQuota> storage_;
  std::unique_ptr<CertificateRenewal> renewal_;  // the network thread's
  std::unique_ptr<ScheduleWatch> schedules_;     // the network thread's
  std::unique_ptr<deliver::Forwarder> forwarder_;
  // After forwarder_, so it goes first: its thread publishes through the forwarder.
  std::unique_ptr<audit::AuditKeeper> audit_;
  std::unique_ptr<UploadBackend> backend_;
  std::unique_ptr<ingest::HttpServer> http_;
  std::unique_ptr<ops::OpsServer> ops_;
  std::unique_ptr<SpoolIntake> spool_;  // the store thread's
  std::unique_ptr<ExtractWorker> worker_;
  std::unique_ptr<Housekeeping> housekeeping_;

  std::thread store_thread_, outbox_thread_;
};

}  // namespace

int run_daemon(const DaemonOptions& options) {
  ConfigPtr cfg;
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
  std::string problem;
  auto audit = audit_keeper_options(*cfg, problem);
  if (!audit) {
    fail(problem);
    return 1;
  }
  // A peer that closes a socket mid-write must not kill the daemon.
  std::signal(SIGPIPE, SIG_IGN);
  Daemon daemon(std::move(cfg), std::move(*keys), std::move(*audit), options);
  return daemon.run();
}

}  // namespace svd::gateway
