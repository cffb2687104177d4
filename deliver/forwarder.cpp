#include "deliver/forwarder.h"

#include <algorithm>
#include <optional>
#include <random>
#include <unordered_map>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <mqtt/iasync_client.h>

#include "base/time.h"
#include "protocol/checkpoint.h"
#include "protocol/envelope.h"
#include "protocol/status.h"
#include "transport/mqtt.h"

namespace svd::deliver {
namespace {

namespace asio = boost::asio;
using SteadyTime = std::chrono::steady_clock::time_point;
using Strand = asio::strand<asio::io_context::executor_type>;

constexpr auto kTick = std::chrono::seconds(1);
constexpr int kDisconnectWaitMs = 2000;

// Receipts come from the broker: only the characters our ids and error-code names use reach the
// log, and not too many of them.
std::string printable_id(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    out += ok ? c : '?';
  }
  return out;
}

std::string token_error(const mqtt::token& t) {
  std::string s = mqtt::exception::error_str(t.get_return_code());
  if (t.get_reason_code() >= 0x80) s += " (" + mqtt::exception::reason_code_str(t.get_reason_code()) + ")";
  return s;
}

// Paho calls these on its own thread with its lock held; `f` must only post.
class Listener final : public mqtt::iaction_listener {
 public:
  using Fn = std::function<void(bool ok, const mqtt::token&)>;
  explicit Listener(Fn f) : f_(std::move(f)) {}
  void on_success(const mqtt::token& t) override { f_(true, t); }
  void on_failure(const mqtt::token& t) override { f_(false, t); }

 private:
  Fn f_;
};

class Callbacks final : public mqtt::callback {
 public:
  std::function<void(const std::string&)> lost;
  std::function<void(mqtt::const_message_ptr)> arrived;
  void connection_lost(const std::string& cause) override { lost(cause); }
  void message_arrived(mqtt::const_message_ptr msg) override { arrived(std::move(msg)); }
};

// Production's ForwarderTimer: its handler runs on the strand, and fires only if not cancelled.
class AsioTimer final : public ForwarderTimer {
 public:
  explicit AsioTimer(const Strand& strand) : timer_(strand) {}
  void wait(std::chrono::milliseconds delay, std::function<void()> fire) override {
    timer_.expires_after(delay);
    timer_.async_wait([fire = std::move(fire)](const boost::system::error_code& ec) {
      if (!ec) fire();
    });
  }
  void cancel() override { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
};

}  // namespace

struct Forwarder::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, Outbox& ob, ForwarderOptions o, Log l)
      : strand(asio::make_strand(io)),
        outbox(ob),
        opt(std::move(o)),
        clock(opt.clock ? *opt.clock : Clock::system()),
        log(std::move(l)),
        rng(std::random_device{}()),
        backoff(opt.backoff_min),
        status_topic(protocol::status_topic(opt.partner)),
        receipt_topic(protocol::receipt_topic(opt.partner)) {
    opt.inflight = std::max<std::size_t>(opt.inflight, 1);
    opt.window = std::max(opt.window, opt.inflight);
    reconnect_wait.timer = make_timer();
    tick_wait.timer = make_timer();
  }

  ~Impl() {
    if (!client) return;
    // Both throw when Paho refuses (e.g. callbacks cannot be changed while a connect is in
    // progress); the client's own destructor cleans up either way.
    try {
      client->disable_callbacks();
    } catch (const mqtt::exception&) {
    }
    try {
      if (client->is_connected()) client->disconnect(0)->wait_for(std::chrono::milliseconds(kDisconnectWaitMs));
    } catch (const mqtt::exception&) {
    }
  }

  Strand strand;
  Outbox& outbox;
  ForwarderOptions opt;
  const Clock& clock;
  Log log;
  std::function<void()> drained_handler, stop_done;
  std::function<void(bool)> link_handler;
  std::function<void(std::string)> checkpoint_receipt_handler;
  ForwarderCounters counters;
  std::mt19937_64 rng;
  std::chrono::milliseconds backoff;
  const std::string status_topic, receipt_topic;

  enum class Link { down, connecting, subscribing, up };
  Link link = Link::down;
  bool started = false, stopping = false;
  // A disconnect is under way (on_disconnected follows); then connect at once, not after backoff.
  bool disconnecting = false, reconnect_at_once = false;
  // Renewals of the certificate files so far, and how many there had been when the connect in
  // place began: a connection made before the last renewal presented the old certificate.
  std::uint64_t renewal = 0, connect_renewal = 0;

  // Every change of `link` goes through here, so that the link handler hears of each time the
  // forwarder starts or stops being able to send.
  void set_link(Link next) {
    const bool was_up = link == Link::up;
    link = next;
    if (link_handler && was_up != (next == Link::up)) link_handler(next == Link::up);
  }
  // True once the outbox was found empty and nothing has been sent since; on_drained fires on
  // the change only.
  bool drained = false;

  // Publishes awaiting PUBACK, by the serial passed to Paho as the token's user context. Cleared
  // whenever sending starts again from the top; a late PUBACK of a cleared one is ignored (its
  // batch is waiting for a receipt either way).
  std::uint64_t serial = 0;
  std::unordered_map<std::uint64_t, std::string> awaiting_puback;
  // Batches sent since sending last started from the top, not yet answered by the hub: when each
  // went out last, and how long it waits for its receipt from then.
  struct Awaiting {
    SteadyTime sent;
    std::chrono::milliseconds timeout;
  };
  std::unordered_map<std::string, Awaiting> awaiting_receipt;
  // The last batch handed to Paho since then: the next ones come after it.
  std::optional<OutboxPosition> cursor;
  SteadyTime last_status{};

  // One of the forwarder's waits, and which wait() on its timer is the live one (0: none). A fire
  // that is not the live one (cancelled or replaced since) does nothing, whatever the timer.
  struct Wait {
    std::unique_ptr<ForwarderTimer> timer;
    std::uint64_t live = 0;
  };
  Wait reconnect_wait, tick_wait;
  std::uint64_t waits = 0;

  // The Paho side. Declared last so the client goes first, before the listeners it points to.
  Callbacks callbacks;
  std::unique_ptr<Listener> connect_listener, subscribe_listener, publish_listener, disconnect_listener;
  std::unique_ptr<mqtt::iasync_client> client;

  // Runs f(*this) on the strand if the forwarder still exists then.
  template <class F>
  void post(F f) {
    asio::post(strand, [w = weak_from_this(), f = std::move(f)]() mutable {
      if (auto self = w.lock()) f(*self);
    });
  }

  std::unique_ptr<ForwarderTimer> make_timer() {
    if (opt.make_timer) return opt.make_timer();
    return std::make_unique<AsioTimer>(strand);
  }

  // Calls (this->*action)() on the strand once `delay` has passed, unless cancel(wait) or another
  // arm(wait, ...) comes first. Asio's timer fires on the strand (dispatch runs it at once, as the
  // timers' own handlers did before the seam); a test's timer fires on the test's thread.
  void arm(Wait& wait, std::chrono::milliseconds delay, void (Impl::*action)()) {
    const std::uint64_t n = ++waits;
    wait.live = n;
    wait.timer->wait(delay, [w = weak_from_this(), slot = &wait, n, action] {
      auto self = w.lock();
      if (!self) return;
      asio::dispatch(self->strand, [w, slot, n, action] {
        auto s = w.lock();  // `slot` is a member of *s: valid while s is
        if (!s || slot->live != n) return;
        slot->live = 0;
        ((*s).*action)();
      });
    });
  }

  void cancel(Wait& wait) {
    wait.live = 0;
    wait.timer->cancel();
  }

  void init() {
    callbacks.lost = [this](const std::string& cause) { post([cause](Impl& s) { s.on_connection_lost(cause); }); };
    callbacks.arrived = [this](mqtt::const_message_ptr m) { post([m](Impl& s) { s.on_message(*m); }); };
    connect_listener = std::make_unique<Listener>([this](bool ok, const mqtt::token& t) {
      post([ok, err = ok ? std::string() : token_error(t)](Impl& s) { s.on_connect_result(ok, err); });
    });
    subscribe_listener = std::make_unique<Listener>([this](bool ok, const mqtt::token& t) {
      post([ok, err = ok ? std::string() : token_error(t)](Impl& s) { s.on_subscribe_result(ok, err); });
    });
    publish_listener = std::make_unique<Listener>([this](bool ok, const mqtt::token& t) {
      const auto n = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(t.get_user_context()));
      post([ok, serial = n, err = ok ? std::string() : token_error(t)](Impl& s) { s.on_puback(serial, ok, err); });
    });
    disconnect_listener = std::make_unique<Listener>([this](bool, const mqtt::token&) {
      post([](Impl& s) { s.on_disconnected(); });
    });
    client = opt.make_client ? opt.make_client(opt.broker, opt.partner)
                             : transport::make_iasync_client(opt.broker, opt.partner);
    client->set_callback(callbacks);
  }

  // ---- connection -------------------------------------------------------------------------

  std::string status_json(bool online, const OutboxStats* stats) const {
    protocol::GatewayStatus s;
    s.online = online;
    s.version = opt.version;
    if (stats) {
      s.queued_batches = stats->queued + stats->published;
      s.unacknowledged_records = stats->unacknowledged_records;
      s.rejected_batches = stats->rejected;
      s.time = utc_iso(clock.now());
    }
    return protocol::to_json(s);
  }

  void connect() {
    if (stopping || link != Link::down) return;
    set_link(Link::connecting);
    connect_renewal = renewal;
    auto options = transport::make_connect_options(opt.broker);
    options.set_will(mqtt::will_options(status_topic, status_json(false, nullptr), 1, true));
    try {
      client->connect(options, nullptr, *connect_listener);
    } catch (const mqtt::exception& e) {
      on_connect_result(false, e.what());
    }
  }

  void on_connect_result(bool ok, const std::string& error) {
    if (stopping) {
      if (ok) {
        begin_disconnect();
      } else {
        finish_stop();
      }
      return;
    }
    if (!ok) {
      ++counters.connect_failures;
      set_link(Link::down);
      log("forwarder: cannot connect to " + transport::broker_uri(opt.broker) + ": " + error);
      schedule_reconnect();
      return;
    }
    ++counters.connects;
    if (connect_renewal != renewal) {
      renew_connection();  // it presented the certificate from before the renewal
      return;
    }
    set_link(Link::subscribing);
    // Receipts published before our subscription exists would be lost (and cost a re-send), so
    // nothing is sent until the SUBACK. The persistent session keeps it across reconnects.
    try {
      client->subscribe(receipt_topic, 1, nullptr, *subscribe_listener);
    } catch (const mqtt::exception& e) {
      on_subscribe_result(false, e.what());
    }
  }

  void on_subscribe_result(bool ok, const std::string& error) {
    if (stopping || link != Link::subscribing) return;
    if (!ok) {
      log("forwarder: cannot subscribe to " + receipt_topic + " (the broker's ACL?): " + error);
      drop_link();
      return;
    }
    set_link(Link::up);
    backoff = opt.backoff_min;
    log("forwarder: connected to " + transport::broker_uri(opt.broker) + " as " + opt.partner);
    start_over();
    publish_status();
    pump();
  }

  void on_connection_lost(const std::string& cause) {
    if (stopping || link == Link::down) return;
    ++counters.connection_losses;
    set_link(Link::down);
    log("forwarder: connection lost" + (cause.empty() ? std::string() : ": " + cause));
    schedule_reconnect();
  }

  // Gives up a connection that is up but useless (no receipts), then connects again later.
  void drop_link() {
    set_link(Link::down);
    disconnecting = true;
    try {
      client->disconnect(0, nullptr, *disconnect_listener);
    } catch (const mqtt::exception&) {
      on_disconnected();
    }
  }

  void on_disconnected() {
    disconnecting = false;
    if (stopping) {
      finish_stop();
      return;
    }
    if (std::exchange(reconnect_at_once, false)) {
      backoff = opt.backoff_min;
      connect();
      return;
    }
    schedule_reconnect();
  }

  // The certificate files were renewed: the next connect must present the new certificate.
  void on_renewed() {
    if (stopping || !started) return;  // the first connect reads the files anyway
    ++renewal;
    ++counters.renewals;
    switch (link) {
      case Link::up:
      case Link::subscribing:
        renew_connection();
        break;
      case Link::connecting:
        break;  // on_connect_result sees that it began before the renewal
      case Link::down:
        if (disconnecting) {
          reconnect_at_once = true;
        } else {
          // Perhaps refused with the old certificate: no reason to wait out the backoff.
          cancel(reconnect_wait);
          backoff = opt.backoff_min;
          connect();
        }
        break;
    }
  }

  // A clean disconnect (PUBACKs in flight get a moment to arrive), then a connect at once. The
  // (re)connect sends every unacknowledged batch again, in order.
  void renew_connection() {
    log("forwarder: reconnecting to present the renewed certificate");
    set_link(Link::down);
    disconnecting = true;
    reconnect_at_once = true;
    try {
      client->disconnect(kDisconnectWaitMs, nullptr, *disconnect_listener);
    } catch (const mqtt::exception&) {
      on_disconnected();
    }
  }

  void schedule_reconnect() {
    // Exponential backoff with jitter: between half and all of the current step, so a fleet of
    // gateways that lost the broker together does not return together.
    const auto half = backoff.count() / 2;
    const auto delay = std::chrono::milliseconds(half + std::uniform_int_distribution<long>(0, half)(rng));
    backoff = std::min(backoff * 2, opt.backoff_max);
    arm(reconnect_wait, delay, &Impl::connect);
  }

  // ---- sending ----------------------------------------------------------------------------

  // Every unacknowledged batch goes out again, from the oldest, in order.
  void start_over() {
    awaiting_puback.clear();
    awaiting_receipt.clear();
    cursor.reset();
  }

  // Only the batches whose own receipt timed out, oldest first, and no more than the in-flight
  // limit allows (the rest on the next ticks): a hub back from an outage gets each gateway's
  // batches spread out as they were first sent, never whole windows at once. One the outbox no
  // longer holds as unacknowledged (answered meanwhile) is forgotten.
  void resend(std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end(),
              [&](const std::string& x, const std::string& y) {
                return awaiting_receipt[x].sent < awaiting_receipt[y].sent;
              });
    const std::size_t room = opt.inflight > awaiting_puback.size() ? opt.inflight - awaiting_puback.size() : 0;
    if (ids.size() > room) ids.resize(room);
    std::vector<OutboxBatch> batches;
    for (const auto& id : ids) {
      auto b = outbox.unacknowledged_batch(id);
      if (!b) {
        ++counters.outbox_errors;
        log("forwarder: cannot read the outbox; trying again in a second");
        return;
      }
      if (*b) batches.push_back(std::move(**b));
      else awaiting_receipt.erase(id);
    }
    std::sort(batches.begin(), batches.end(),
              [](const OutboxBatch& x, const OutboxBatch& y) { return x.position < y.position; });
    for (auto& b : batches)
      if (!publish(b, true)) return;
  }

  void pump() {
    if (link != Link::up || stopping) return;
    bool none_from_top = false;  // a read from the top found nothing: the outbox is drained
    while (awaiting_puback.size() < opt.inflight && awaiting_receipt.size() < opt.window) {
      // Nothing is out: start from the top, which also picks up batches queued behind the
      // cursor (an extract re-written after a crash keeps its place in the order).
      const bool from_top = awaiting_receipt.empty();
      if (from_top) cursor.reset();
      const std::size_t room = std::min(opt.inflight - awaiting_puback.size(), opt.window - awaiting_receipt.size());
      auto batches = outbox.unacknowledged(room, cursor);
      if (!batches) {
        ++counters.outbox_errors;
        log("forwarder: cannot read the outbox; trying again in a second");
        return;
      }
      if (batches->empty()) {
        none_from_top = from_top;
        break;
      }
      for (auto& b : *batches) {
        if (!publish(b)) return;
      }
    }
    if (awaiting_receipt.empty()) check_drained(none_from_top);
  }

  // `resend`: a batch whose receipt timed out, sent again on its own; the cursor stays where the
  // batches in order have got to.
  bool publish(OutboxBatch& b, bool resend = false) {
    const std::uint64_t s = ++serial;
    auto msg = mqtt::make_message(b.topic, mqtt::binary_ref(std::move(b.payload)), 1, false);
    try {
      client->publish(msg, reinterpret_cast<void*>(static_cast<std::uintptr_t>(s)), *publish_listener);
    } catch (const mqtt::exception& e) {
      // Usually the link went down and its connection_lost is queued behind us.
      ++counters.publish_failures;
      log("forwarder: cannot publish batch " + b.batch_id + ": " + e.what());
      return false;
    }
    ++counters.publishes;
    drained = false;
    awaiting_puback.emplace(s, b.batch_id);
    // A re-send waits twice as long as the send before it (the hub answers nothing: each copy
    // would only queue at the broker); a first send, receipt_timeout.
    auto timeout = opt.receipt_timeout;
    if (resend) {
      if (auto it = awaiting_receipt.find(b.batch_id); it != awaiting_receipt.end())
        timeout = std::min(it->second.timeout * 2, std::max(opt.receipt_timeout_max, opt.receipt_timeout));
    }
    awaiting_receipt.insert_or_assign(b.batch_id, Awaiting{clock.steady_now(), timeout});
    if (!resend) cursor = b.position;
    return true;
  }

  void on_puback(std::uint64_t s, bool ok, const std::string& error) {
    auto it = awaiting_puback.find(s);
    if (it == awaiting_puback.end()) return;
    const std::string id = std::move(it->second);
    awaiting_puback.erase(it);
    if (ok) {
      ++counters.pubacks;
      if (!outbox.mark_published(id)) note_outbox_error("mark batch " + id + " published");
    } else {
      // An MQTT 5 broker's refusal (e.g. its ACL), or the link going down. The batch still waits
      // for its receipt and goes out again after the receipt timeout or the next connect.
      ++counters.publish_failures;
      log("forwarder: batch " + id + " not delivered to the broker: " + error);
    }
    pump();
  }

  void on_message(const mqtt::message& m) {
    if (m.get_topic() != receipt_topic) {
      log("forwarder: ignoring a message on " + printable_id(m.get_topic()));
      return;
    }
    if (protocol::is_checkpoint_receipt(m.get_payload_str())) {
      if (checkpoint_receipt_handler) checkpoint_receipt_handler(m.get_payload_str());
      return;
    }
    auto receipt = protocol::parse_receipt(m.get_payload_str());
    if (!receipt) {
      log("forwarder: ignoring an unreadable receipt");
      return;
    }
    const std::string& id = receipt->batch_id;
    awaiting_receipt.erase(id);
    // The hub answers again: a batch still waiting was lost on the way, not queued behind an
    // absent hub, and goes again after the ordinary timeout.
    for (auto& [other, waiting] : awaiting_receipt) waiting.timeout = opt.receipt_timeout;
    if (receipt->status == protocol::ReceiptStatus::rejected) {
      ++counters.rejected;
      const std::string reason = printable_id(receipt->reason);
      log("forwarder: the hub rejected batch " + printable_id(id) + ": " + reason +
          "; it will not be sent again");
      if (!outbox.mark_rejected(id, reason)) note_outbox_error("mark batch rejected");
    } else {
      ++(receipt->status == protocol::ReceiptStatus::accepted ? counters.accepted : counters.duplicates);
      if (!outbox.mark_acknowledged(id, std::string(protocol::to_string(receipt->status))))
        note_outbox_error("mark batch acknowledged");
    }
    pump();
  }

  void note_outbox_error(const std::string& what) {
    // The batch stays as it was; the re-send this causes is answered `duplicate`.
    ++counters.outbox_errors;
    log("forwarder: outbox: cannot " + what);
  }

  // `known_empty`: the caller has just read the outbox from the top and found nothing.
  void check_drained(bool known_empty) {
    if (drained) return;
    if (!known_empty) {
      auto rest = outbox.unacknowledged(1);
      if (!rest || !rest->empty()) return;
    }
    drained = true;
    publish_status();
    if (drained_handler) drained_handler();
  }

  void publish_status() {
    if (link != Link::up) return;
    last_status = clock.steady_now();
    auto stats = outbox.stats();
    if (!stats) return;
    try {
      client->publish(status_topic, status_json(true, &*stats), 1, true);
    } catch (const mqtt::exception&) {
      // The next status (or the will) says it instead.
    }
  }

  void tick() { arm(tick_wait, kTick, &Impl::on_tick); }

  void on_tick() {
    if (stopping) return;
    if (link == Link::up) {
      const auto now = clock.steady_now();
      std::vector<std::string> timed_out;
      std::chrono::milliseconds longest{0};
      for (const auto& [id, waiting] : awaiting_receipt)
        if (now - waiting.sent >= waiting.timeout) {
          timed_out.push_back(id);
          longest = std::max(longest, waiting.timeout);
        }
      if (!timed_out.empty()) {
        ++counters.receipt_timeouts;
        log("forwarder: no receipt for " + std::to_string(timed_out.size()) + " batch(es) after up to " +
            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(longest).count()) +
            " s; sending those again");
        resend(timed_out);
      }
      if (now - last_status >= opt.status_every) publish_status();
      pump();  // also retries after an outbox error, and finds batches nobody announced
    }
    tick();
  }

  // ---- stopping ---------------------------------------------------------------------------

  void begin_stop(std::function<void()> done) {
    if (stopping) return;
    stopping = true;
    stop_done = std::move(done);
    cancel(reconnect_wait);
    cancel(tick_wait);
    if (link == Link::down) {
      finish_stop();
      return;
    }
    if (link == Link::up) {
      auto stats = outbox.stats();
      try {
        // A clean disconnect does not send the will: say offline ourselves.
        client->publish(status_topic, status_json(false, stats ? &*stats : nullptr), 1, true);
      } catch (const mqtt::exception&) {
      }
    }
    if (link == Link::connecting) return;  // on_connect_result disconnects or gives up
    begin_disconnect();
  }

  void begin_disconnect() {
    set_link(Link::down);
    try {
      client->disconnect(kDisconnectWaitMs, nullptr, *disconnect_listener);
    } catch (const mqtt::exception&) {
      finish_stop();
    }
  }

  void finish_stop() {
    set_link(Link::down);
    if (auto done = std::move(stop_done)) {
      stop_done = nullptr;
      done();
    }
  }
};

Forwarder::Forwarder(asio::io_context& io, Outbox& outbox, ForwarderOptions options, Log log)
    : impl_(std::make_shared<Impl>(io, outbox, std::move(options), std::move(log))) {
  impl_->init();
}

Forwarder::~Forwarder() = default;

void Forwarder::start() {
  impl_->post([](Impl& s) {
    if (s.started || s.stopping) return;
    s.started = true;
    s.tick();
    s.connect();
  });
}

void Forwarder::notify_queued() {
  impl_->post([](Impl& s) { s.pump(); });
}

void Forwarder::on_drained(std::function<void()> handler) { impl_->drained_handler = std::move(handler); }

void Forwarder::on_link_change(std::function<void(bool)> handler) { impl_->link_handler = std::move(handler); }

void Forwarder::publish_aside(std::string topic, std::string payload) {
  impl_->post([topic = std::move(topic), payload = std::move(payload)](Impl& s) mutable {
    if (s.link != Impl::Link::up || s.stopping) return;
    try {
      s.client->publish(mqtt::make_message(topic, mqtt::binary_ref(std::move(payload)), 1, false));
    } catch (const mqtt::exception& e) {
      s.log(std::string("forwarder: cannot publish on ") + printable_id(topic) + ": " + e.what());
    }
  });
}

void Forwarder::reconnect() {
  impl_->post([](Impl& s) { s.on_renewed(); });
}

void Forwarder::on_checkpoint_receipt(std::function<void(std::string)> handler) {
  impl_->checkpoint_receipt_handler = std::move(handler);
}

void Forwarder::stop(std::function<void()> done) {
  impl_->post([done = std::move(done)](Impl& s) mutable { s.begin_stop(std::move(done)); });
}

ForwarderCounters Forwarder::counters() const {
  ForwarderCounters c = impl_->counters;
  c.connected = impl_->link == Impl::Link::up;
  return c;
}

}  // namespace svd::deliver
