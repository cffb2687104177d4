#include "audit/keeper.h"

#include <atomic>
#include <future>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "audit/audit_log.h"
#include "base/hex.h"
#include "base/service.h"
#include "crypto/sha256.h"
#include "protocol/checkpoint.h"
#include "protocol/envelope.h"

namespace svd::audit {
namespace {

namespace asio = boost::asio;
using service::Level;

void info(const std::string& m) { service::log(Level::info, "audit: " + m); }
void warn(const std::string& m) { service::log(Level::warning, "audit: " + m); }


}  // namespace

struct AuditKeeper::Impl {
  AuditKeeperOptions opt;
  Publish publish;
  std::unique_ptr<audit::AuditLog> log;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{asio::make_work_guard(io)};
  asio::steady_timer timer{io};
  std::thread thread;
  std::atomic<bool> drain_posted{false};
  bool stopped = false;  // the audit thread's: stop() has run

  // The audit thread's.
  bool link_up = false;
  std::optional<std::uint64_t> in_flight;  // the checkpoint sent and not yet answered
  std::chrono::steady_clock::time_point sent_at{}, last_checkpoint{};  // set by open()

  void drain() {
    for (const char* source : {"extracts", "outbox"}) {
      auto n = log->drain(source, opt.state_dir / (std::string(source) + ".db"));
      if (!n) warn(std::string("cannot take the events recorded in ") + source + ".db: " + n.error().message());
    }
  }

  void checkpoint(bool force) {
    if (!opt.device_key) return;
    auto since = log->events_since_checkpoint();
    if (!since) {
      warn("cannot read the last checkpoint: " + since.error().message());
      return;
    }
    if (*since == 0) return;
    // Read once, before the checkpoint is written: the next period counts from the decision, and
    // a clock that moves while the checkpoint is written (it is visible to readers at once) is
    // not lost.
    const auto now = opt.clock->steady_now();
    const bool due = *since >= opt.checkpoint_events || now - last_checkpoint >= opt.checkpoint_every;
    if (!force && !due) return;
    auto made = log->make_checkpoint(*opt.device_key);
    if (!made) {
      warn("cannot make a checkpoint: " + made.error().message());
      return;
    }
    last_checkpoint = now;
    if (*made) info("checkpoint at seq " + std::to_string((*made)->checkpoint.seq) + " signed");
  }

  // The oldest checkpoint without a receipt goes out, one at a time.
  void send() {
    if (!opt.device_key || !link_up) return;
    if (in_flight && opt.clock->steady_now() - sent_at < opt.receipt_timeout) return;
    auto next = log->next_unwitnessed();
    if (!next) {
      warn("cannot read the checkpoint to send: " + next.error().message() +
           (next.error() == errc::audit_corrupt ? " (run svdgw audit verify)" : ""));
      return;
    }
    if (!*next) {
      in_flight.reset();
      return;
    }
    publish(protocol::audit_topic(opt.partner), protocol::to_json(**next));
    in_flight = (*next)->checkpoint.seq;
    sent_at = opt.clock->steady_now();
  }

  // At stop: every checkpoint still without a receipt, in order (the hub takes them in order;
  // each extends the one before), so that the last one is not held back behind an earlier one
  // whose receipt is still on its way. Bounded: more wait for the next start.
  void send_all() {
    if (!opt.device_key || !link_up) return;
    std::uint64_t after = 0;
    for (int i = 0; i < 16; ++i) {
      auto next = log->next_unwitnessed(after);
      if (!next || !*next) return;
      publish(protocol::audit_topic(opt.partner), protocol::to_json(**next));
      after = (*next)->checkpoint.seq;
    }
  }

  void tick() {
    if (stopped) return;
    drain();
    checkpoint(false);
    send();
    timer.expires_after(opt.drain_every);
    timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) tick();
    });
  }

  void on_receipt(const std::string& payload) {
    auto r = protocol::parse_checkpoint_receipt(payload);
    if (!r) {
      warn("ignoring an unreadable checkpoint receipt");
      return;
    }
    const std::string seq = std::to_string(r->checkpoint.seq);
    if (r->checkpoint.partner != opt.partner) {
      warn("ignoring a checkpoint receipt for another partner");
      return;
    }
    if (r->status != protocol::CheckpointStatus::rejected && opt.witness_key) {
      std::vector<unsigned char> sig;
      if (!from_hex(r->cosignature, sig) ||
          !crypto::verify_signature(*opt.witness_key, protocol::witness_note(r->checkpoint, r->witnessed_at), sig)) {
        warn("the hub's receipt for checkpoint seq " + seq +
             " does not verify with the configured hub witness key; not stored");
        return;
      }
    }
    auto stored = log->record_receipt(*r);
    if (!stored) {
      warn("cannot store the hub's receipt for checkpoint seq " + seq + ": " + stored.error().message());
      return;
    }
    if (!*stored) return;  // a second receipt, or one for a checkpoint we do not hold
    if (r->status == protocol::CheckpointStatus::rejected) {
      // Kept in flight: it goes out again after the receipt timeout (the hub's operator may be
      // installing this gateway's device key).
      warn("the hub refused checkpoint seq " + seq + ": " + r->reason);
      return;
    }
    info("checkpoint seq " + seq + " witnessed by the hub");
    in_flight.reset();
    send();
  }

  template <class F>
  void on_thread(F f) {
    asio::post(io, std::move(f));
  }
};

AuditKeeper::AuditKeeper(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

AuditKeeper::~AuditKeeper() {
  if (!impl_->thread.joinable()) return;
  asio::post(impl_->io, [im = impl_.get()] {
    im->stopped = true;  // as in stop()
    im->timer.cancel();
  });
  impl_->work.reset();
  impl_->thread.join();
}

result<std::unique_ptr<AuditKeeper>> AuditKeeper::open(AuditKeeperOptions options, Publish publish) {
  auto impl = std::make_shared<Impl>();
  impl->opt = std::move(options);
  impl->last_checkpoint = impl->opt.clock->steady_now();
  impl->publish = std::move(publish);
  auto log = audit::AuditLog::open(impl->opt.state_dir / "audit.db", impl->opt.partner);
  if (!log) return log.error();
  impl->log = std::move(*log);
  impl->drain();
  if (!impl->opt.device_key) warn("no [audit] device_key: the log is kept but no checkpoints are signed or sent");
  return std::unique_ptr<AuditKeeper>(new AuditKeeper(std::move(impl)));
}

void AuditKeeper::start() {
  // After the events recorded before start (the startup's), which are already queued: the start
  // checkpoint covers them.
  impl_->on_thread([im = impl_.get()] {
    im->drain();
    im->checkpoint(/*force=*/true);
    im->tick();
  });
  impl_->thread = std::thread([im = impl_.get()] { im->io.run(); });
}

void AuditKeeper::record(audit::Event e) {
  impl_->on_thread([im = impl_.get(), e = std::move(e)] {
    if (auto r = im->log->append(e); !r) warn("cannot append " + e.action + ": " + r.error().message());
  });
}

void AuditKeeper::nudge() {
  if (impl_->drain_posted.exchange(true)) return;
  impl_->on_thread([im = impl_.get()] {
    im->drain_posted = false;
    im->drain();
  });
}

void AuditKeeper::link_changed(bool up) {
  impl_->on_thread([im = impl_.get(), up] {
    im->link_up = up;
    im->in_flight.reset();
    if (up) im->send();
  });
}

void AuditKeeper::checkpoint_receipt(std::string payload) {
  impl_->on_thread([im = impl_.get(), payload = std::move(payload)] { im->on_receipt(payload); });
}

void AuditKeeper::stop(std::vector<audit::Event> last) {
  Impl& im = *impl_;
  auto finish = [&im, &last] {
    // A tick whose timer expired just before the cancel is already queued: without the flag it
    // would arm the timer again and the thread would never run out of work.
    im.stopped = true;
    im.timer.cancel();
    im.drain();
    for (const auto& e : last)
      if (auto r = im.log->append(e); !r) warn("cannot append " + e.action + ": " + r.error().message());
    im.checkpoint(true);
    im.send_all();
  };
  if (im.thread.joinable()) {
    std::packaged_task<void()> task(finish);
    auto done = task.get_future();
    asio::post(im.io, [&task] { task(); });
    done.wait();
    im.work.reset();
    im.thread.join();
  } else {
    finish();
  }
}

}  // namespace svd::audit
