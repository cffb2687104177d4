#include "gateway/spool_intake.h"

#include "base/service.h"
#include "gateway/live_config.h"
#include "gateway/storage.h"

namespace svd::gateway {

namespace asio = boost::asio;

namespace {

std::vector<std::string> feed_ids(const config::GatewayConfig& cfg) {
  std::vector<std::string> ids;
  for (const auto& f : cfg.feeds) ids.push_back(f.id);
  return ids;
}

}  // namespace

bool SpoolIntake::open(const config::GatewayConfig& cfg) {
  ingest::SpoolOptions so;
  so.dir = cfg.state_dir / "spool";
  so.feeds = feed_ids(cfg);
  so.settle = std::chrono::seconds(cfg.storage.spool_settle_seconds);
  if (cfg.http) so.max_bytes = cfg.http->max_extract_bytes;
  // Its lines start "spool: ".
  auto spool = std::make_unique<ingest::Spool>(so, [](const std::string& m) { service::log(service::Level::info, m); });
  if (auto r = spool->prepare(); !r) {
    service::log(service::Level::error, so.dir.string() + ": cannot prepare the spool directory: " + r.error().message());
    return false;
  }
  watch_fd_.reset();
  watch_.reset();
  auto watch = ingest::SpoolWatch::open(so.dir, so.feeds);
  if (!watch) {
    service::log(service::Level::warning, so.dir.string() + ": no inotify watch (" + watch.error().message() +
                                              "); scanning every " + std::to_string(cfg.storage.spool_scan_seconds) +
                                              " s only");
  } else {
    watch_ = std::make_unique<ingest::SpoolWatch>(std::move(*watch));
  }
  spool_ = std::move(spool);
  feeds_ = so.feeds;
  return true;
}

void SpoolIntake::reconfigure(const config::GatewayConfig& next) {
  if (feed_ids(next) != feeds_) {
    if (!open(next)) service::log(service::Level::warning, "reload: the spool keeps its old feeds");
    else arm_watch();
  }
  scan();
}

void SpoolIntake::start() {
  scan();
  arm_watch();
  arm_timer();
}

void SpoolIntake::stop() {
  timer_.cancel();
  watch_fd_.reset();
}

void SpoolIntake::scan() {
  if (stopping_ || !spool_) return;
  if (!storage_.room_for(0, config_.config()->storage.quota_bytes)) return;  // files wait until there is room
  for (const auto& ev : spool_->scan(store_)) {
    if (ev.what != ingest::SpoolEvent::What::accepted) continue;
    auto e = store_.get(ev.extract_id);
    if (e && *e) {
      service::log(service::Level::info,
                   "extract " + (*e)->id + " received from the spool, " + std::to_string((*e)->bytes) + " bytes");
      delivered_(**e);
    }
  }
  storage_.refresh();
}

void SpoolIntake::arm_watch() {
  watch_fd_.reset();
  if (!watch_) return;
  // The descriptor stays the SpoolWatch's: release() it before it goes.
  watch_fd_.reset(new asio::posix::stream_descriptor(io_, watch_->fd()), [](asio::posix::stream_descriptor* d) {
    boost::system::error_code ec;
    d->cancel(ec);
    d->release();
    delete d;
  });
  wait_watch();
}

void SpoolIntake::wait_watch() {
  if (!watch_fd_) return;
  watch_fd_->async_wait(asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
    if (ec || stopping_ || !watch_) return;
    if (watch_->drain()) scan();
    wait_watch();
  });
}

void SpoolIntake::arm_timer() {
  timer_.expires_after(std::chrono::seconds(config_.config()->storage.spool_scan_seconds));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    scan();
    arm_timer();
  });
}

}  // namespace svd::gateway
