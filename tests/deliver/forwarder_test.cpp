// The forwarder in simulated time: a real outbox (SQLite in a fresh directory) and the real
// forwarder, with fakes only at the two seams it has (deliver/forwarder.h): the MQTT client
// (tests/support/fake_mqtt_client.h, which does nothing until the test answers for the broker)
// and time (a FakeClock, and timers that fire when the test moves that clock). The test's thread
// runs the io_context with poll(), so each step is: answer for the broker or move the clock, then
// run what that made ready. Nothing sleeps and nothing waits on the wall clock.
//
// What the docs promise (docs/forwarding.md, "Delivery") is what these check: reconnects back off
// exponentially with jitter up to a cap; at most `inflight` awaiting PUBACK and `window` awaiting
// a receipt; after `receipt_timeout` without a receipt, and after every reconnect, everything
// unacknowledged goes out again in outbox order; a rejected batch is kept and never re-sent;
// receipts are matched to batches and anything else in a receipt is harmless.

#include "deliver/forwarder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "protocol/envelope.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_mqtt_client.h"
#include "tests/support/temp_dir.h"

namespace svd::deliver {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using test_support::FakeClock;
using test_support::FakeMqttClient;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr const char* kPartner = "northgate-ed";
constexpr const char* kFeed = "ed-assaults";

// ForwarderTimers in simulated time: wait() notes a deadline on the FakeClock; the test fires the
// earliest due one with fire_next() after moving the clock to it.
class SimTimers {
 public:
  explicit SimTimers(const FakeClock& clock) : clock_(clock) {}
  SimTimers(const SimTimers&) = delete;
  SimTimers& operator=(const SimTimers&) = delete;

  std::function<std::unique_ptr<ForwarderTimer>()> factory() {
    return [this] { return std::make_unique<Timer>(*this); };
  }

  // The earliest deadline of a timer that is waiting.
  std::optional<SteadyTime> next_deadline() const {
    std::optional<SteadyTime> next;
    for (const Timer* t : timers_)
      if (t->deadline && (!next || *t->deadline < *next)) next = t->deadline;
    return next;
  }

  // Fires the waiting timer with the earliest deadline if that has come; false if none has.
  bool fire_next() {
    Timer* due = nullptr;
    for (Timer* t : timers_)
      if (t->deadline && *t->deadline <= clock_.steady_now() && (!due || *t->deadline < *due->deadline)) due = t;
    if (!due) return false;
    due->deadline.reset();
    auto fire = std::exchange(due->fire, nullptr);
    fire();
    return true;
  }

 private:
  struct Timer final : ForwarderTimer {
    explicit Timer(SimTimers& o) : owner(o) { owner.timers_.push_back(this); }
    ~Timer() override { std::erase(owner.timers_, this); }
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;
    void wait(milliseconds delay, std::function<void()> f) override {
      deadline = owner.clock_.steady_now() + delay;
      fire = std::move(f);
    }
    void cancel() override {
      deadline.reset();
      fire = nullptr;
    }
    SimTimers& owner;
    std::optional<SteadyTime> deadline;
    std::function<void()> fire;
  };

  const FakeClock& clock_;
  std::vector<Timer*> timers_;
};

class ForwarderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Outbox::open(dir_ / "outbox.db");
    ASSERT_TRUE(opened) << opened.error().message();
    outbox_ = std::move(*opened);
  }

  void TearDown() override { stop_forwarder(); }

  // Production's defaults, with the fakes at the seams.
  ForwarderOptions options() {
    ForwarderOptions o;
    o.broker.host = "hub.test";
    o.broker.port = 8883;
    o.partner = kPartner;
    o.version = "test";
    o.clock = &clock_;
    o.make_timer = timers_.factory();
    o.make_client = [this](const config::MqttEndpoint&, const std::string& client_id) {
      auto c = std::make_unique<FakeMqttClient>("ssl://hub.test:8883", client_id);
      client_ = c.get();
      return c;
    };
    return o;
  }

  void make_forwarder(ForwarderOptions o) {
    forwarder_ = std::make_unique<Forwarder>(io_, *outbox_, std::move(o),
                                             [this](const std::string& line) { log_ += line + '\n'; });
    ASSERT_NE(client_, nullptr) << "the forwarder did not make its client through the seam";
    forwarder_->on_drained([this] { ++drained_; });
  }

  // Runs every handler that is ready (never waits).
  void run() {
    io_.restart();
    io_.poll();
  }

  // Moves simulated time forward by up to `limit`, timer by timer (earliest deadline first, the
  // clock set to each deadline as it fires), running what each makes ready, and stops as soon as
  // `done()` holds. True if it did.
  template <class Done>
  bool advance_until(Done done, milliseconds limit) {
    const SteadyTime until = clock_.steady_now() + limit;
    run();
    while (!done()) {
      const auto next = timers_.next_deadline();
      if (!next || *next > until) {
        clock_.advance(until - clock_.steady_now());
        run();
        return done();
      }
      if (*next > clock_.steady_now()) clock_.advance(*next - clock_.steady_now());
      timers_.fire_next();
      run();
    }
    return true;
  }
  void advance(milliseconds d) {
    advance_until([] { return false; }, d);
  }

  // start(), and the broker accepts the connect and the receipt subscription.
  void start_connected() {
    forwarder_->start();
    run();
    ASSERT_TRUE(client_->connect_pending()) << log_;
    client_->answer_connect(true);
    run();
    ASSERT_TRUE(client_->subscribe_pending()) << log_;
    ASSERT_EQ(client_->subscriptions.back(), protocol::receipt_topic(kPartner));
    client_->answer_subscribe(true);
    run();
    ASSERT_TRUE(forwarder_->counters().connected) << log_;
  }

  // After a connection loss: lets the backoff pass, and the broker accepts connect and SUBACK.
  void reconnect() {
    ASSERT_TRUE(advance_until([&] { return client_->connect_pending(); }, 60s)) << log_;
    client_->answer_connect(true);
    run();
    client_->answer_subscribe(true);
    run();
    ASSERT_TRUE(forwarder_->counters().connected) << log_;
  }

  void stop_forwarder() {
    if (!forwarder_) return;
    bool done = false;
    forwarder_->stop([&] { done = true; });
    run();
    if (client_->connect_pending()) client_->answer_connect(false);
    if (client_->disconnect_pending()) client_->answer_disconnect();
    run();
    EXPECT_TRUE(done) << "the forwarder did not finish stopping\n" << log_;
    forwarder_.reset();
  }

  // Commits one extract of `n` batches to the outbox; returns their ids in seq order.
  std::vector<std::string> queue_extract(const std::string& extract_id, std::size_t n) {
    std::vector<std::string> ids;
    EXPECT_TRUE(outbox_->begin_extract(extract_id));
    for (std::size_t i = 0; i < n; ++i) {
      OutboxBatch b;
      b.batch_id = extract_id + "-" + std::to_string(i);
      b.feed = kFeed;
      b.extract_id = extract_id;
      b.seq = i;
      b.last = i + 1 == n;
      b.records = 10;
      b.topic = protocol::batch_topic(kPartner, kFeed);
      b.payload = b.batch_id + "\n{\"synthetic\":true}\n";  // the id first, so a test can read it back
      EXPECT_TRUE(outbox_->add(b));
      ids.push_back(b.batch_id);
    }
    EXPECT_TRUE(outbox_->commit_extract());
    return ids;
  }

  bool is_batch(const FakeMqttClient::Publish& p) const { return p.topic == protocol::batch_topic(kPartner, kFeed); }
  static std::string id_of(const FakeMqttClient::Publish& p) { return p.payload.substr(0, p.payload.find('\n')); }

  // Ids of the batches published, in order, skipping the first `skip`.
  std::vector<std::string> sent(std::size_t skip = 0) const {
    std::vector<std::string> out;
    for (const auto& p : client_->publishes)
      if (is_batch(p)) out.push_back(id_of(p));
    out.erase(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(std::min(skip, out.size())));
    return out;
  }
  std::size_t sent_count() const { return sent().size(); }

  // Batch publishes the broker has not answered yet.
  std::size_t awaiting_puback() const {
    return static_cast<std::size_t>(
        std::count_if(client_->publishes.begin(), client_->publishes.end(),
                      [&](const FakeMqttClient::Publish& p) { return is_batch(p) && !p.answered; }));
  }

  // The broker PUBACKs every batch publish not yet answered.
  void puback_all() {
    for (std::size_t i = 0; i < client_->publishes.size(); ++i)
      if (is_batch(client_->publishes[i]) && !client_->publishes[i].answered) client_->answer_publish(i);
    run();
  }

  // The hub's receipt for `id`.
  void receipt(const std::string& id, protocol::ReceiptStatus status = protocol::ReceiptStatus::accepted,
               std::string reason = {}) {
    client_->arrive(protocol::receipt_topic(kPartner), protocol::to_json(protocol::Receipt{id, status, std::move(reason)}));
    run();
  }

  std::optional<BatchState> state(const std::string& id) {
    auto s = outbox_->state(id);
    EXPECT_TRUE(s);
    return s ? *s : std::nullopt;
  }

  OutboxStats stats() {
    auto s = outbox_->stats();
    EXPECT_TRUE(s);
    return s ? *s : OutboxStats{};
  }

  // Declared in the order they must outlive each other: the forwarder goes first.
  FakeClock clock_;
  SimTimers timers_{clock_};
  boost::asio::io_context io_;
  test_support::TempDir dir_{"svd-forwarder"};
  std::unique_ptr<Outbox> outbox_;
  FakeMqttClient* client_ = nullptr;  // owned by the forwarder
  std::string log_;
  int drained_ = 0;
  std::unique_ptr<Forwarder> forwarder_;
};

// The connect is refused again and again: each next attempt comes after between half and all of a
// step that doubles from backoff_min and stops at backoff_max; after a connection that worked,
// the step starts from backoff_min again.
TEST_F(ForwarderTest, ReconnectBacksOffExponentiallyWithJitterUpToTheCap) {
  make_forwarder(options());  // backoff 250 ms .. 30 s
  forwarder_->start();
  run();
  ASSERT_TRUE(client_->connect_pending()) << "the first connect is at once";
  EXPECT_EQ(clock_.steady_now(), SteadyTime{});

  const std::vector<milliseconds> steps = {250ms, 500ms, 1s, 2s, 4s, 8s, 16s, 30s, 30s, 30s, 30s};
  std::vector<milliseconds> delays;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const SteadyTime refused = clock_.steady_now();
    client_->answer_connect(false);
    run();
    ASSERT_FALSE(client_->connect_pending());
    // Timer by timer, the one-second tick included: the next connect comes exactly when the
    // backoff has passed, never earlier.
    ASSERT_TRUE(advance_until([&] { return client_->connect_pending(); }, 60s)) << log_;
    delays.push_back(std::chrono::duration_cast<milliseconds>(clock_.steady_now() - refused));
    EXPECT_GE(delays.back(), steps[i] / 2) << "attempt " << i + 2;
    EXPECT_LE(delays.back(), steps[i]) << "attempt " << i + 2;
  }
  EXPECT_EQ(forwarder_->counters().connect_failures, steps.size());
  EXPECT_EQ(client_->connect_calls.size(), steps.size() + 1);

  // Connected: the step is back to the start for the next loss.
  client_->answer_connect(true);
  run();
  client_->answer_subscribe(true);
  run();
  ASSERT_TRUE(forwarder_->counters().connected);
  const SteadyTime lost = clock_.steady_now();
  client_->lose_connection();
  run();
  EXPECT_FALSE(forwarder_->counters().connected);
  ASSERT_TRUE(advance_until([&] { return client_->connect_pending(); }, 60s)) << log_;
  EXPECT_GE(clock_.steady_now() - lost, 125ms);
  EXPECT_LE(clock_.steady_now() - lost, 250ms);
  EXPECT_EQ(forwarder_->counters().connection_losses, 1u);
}

// With 12 batches queued, inflight 2 and window 5: never more than 2 publishes awaiting PUBACK
// nor more than 5 batches awaiting the hub's receipt, whatever the broker and hub do; each
// receipt lets one more out, in order, until all are acknowledged.
TEST_F(ForwarderTest, InflightAndReceiptWindowsBoundWhatIsOutstanding) {
  const auto ids = queue_extract("extract-a", 12);
  auto o = options();
  o.inflight = 2;
  o.window = 5;
  make_forwarder(std::move(o));
  start_connected();

  std::set<std::string> receipted;
  auto check = [&] {
    EXPECT_LE(awaiting_puback(), 2u);
    std::size_t awaiting_receipt = 0;
    for (const auto& id : sent())
      if (!receipted.count(id)) ++awaiting_receipt;
    EXPECT_LE(awaiting_receipt, 5u);
    return awaiting_receipt;
  };

  EXPECT_EQ(sent(), std::vector<std::string>(ids.begin(), ids.begin() + 2)) << "inflight";
  check();
  // PUBACKs open the in-flight window, up to the receipt window.
  for (int i = 0; i < 5; ++i) {
    puback_all();
    check();
  }
  EXPECT_EQ(sent(), std::vector<std::string>(ids.begin(), ids.begin() + 5)) << "window";
  EXPECT_EQ(state(ids[0]), BatchState::published);
  EXPECT_EQ(state(ids[5]), BatchState::queued);
  // Time passing (ticks, well within the receipt timeout) and notify_queued let nothing more out.
  advance(30s);
  forwarder_->notify_queued();
  run();
  EXPECT_EQ(sent_count(), 5u);
  EXPECT_EQ(check(), 5u);

  // Each receipt frees one place in the window; the next batch follows in order.
  for (std::size_t next = 0; next < ids.size(); ++next) {
    receipt(ids[next]);
    receipted.insert(ids[next]);
    puback_all();
    check();
    EXPECT_EQ(sent_count(), std::min<std::size_t>(ids.size(), next + 6)) << "after receipt " << next;
  }
  EXPECT_EQ(sent(), ids) << "each batch once, in order";
  EXPECT_EQ(stats().acknowledged, 12u);
  EXPECT_EQ(drained_, 1);
  EXPECT_EQ(forwarder_->counters().accepted, 12u);
  EXPECT_EQ(forwarder_->counters().receipt_timeouts, 0u);
}

// No receipt for receipt_timeout after a batch went out: everything unacknowledged goes out again,
// oldest first, at the timeout (checked on the forwarder's one-second tick, which started with
// it, so at 120 s exactly here) and not a tick before; the re-sent batches wait a full timeout again.
TEST_F(ForwarderTest, ReceiptTimeoutResendsAfterTheTimeoutAndNotBefore) {
  const auto ids = queue_extract("extract-a", 3);
  make_forwarder(options());  // receipt_timeout 120 s
  start_connected();
  EXPECT_EQ(sent(), ids);
  puback_all();
  advance(30s);
  receipt(ids[1]);  // answered: not sent again

  advance(120s - 30s - 1ms);
  EXPECT_EQ(sent_count(), 3u) << "re-sent before the receipt timeout";
  EXPECT_EQ(forwarder_->counters().receipt_timeouts, 0u);
  advance(1ms);
  EXPECT_EQ(sent(3), (std::vector<std::string>{ids[0], ids[2]})) << log_;
  EXPECT_EQ(forwarder_->counters().receipt_timeouts, 1u);
  EXPECT_EQ(state(ids[1]), BatchState::acknowledged);

  // The second round counts from the re-send, and waits twice as long: no receipt came since.
  puback_all();
  advance(240s - 1ms);
  EXPECT_EQ(sent_count(), 5u);
  advance(1ms);
  EXPECT_EQ(sent(5), (std::vector<std::string>{ids[0], ids[2]}));
  EXPECT_EQ(forwarder_->counters().receipt_timeouts, 2u);

  puback_all();
  receipt(ids[0]);
  receipt(ids[2]);
  EXPECT_EQ(drained_, 1);
  advance(600s);
  EXPECT_EQ(sent_count(), 7u) << "nothing left to time out";
}

// While the hub answers nothing (away, its broker queueing every copy for it), each re-send of a
// batch waits twice as long as the one before, up to receipt_timeout_max; the first receipt that
// comes shows the hub answering again, and what still waits goes again after the ordinary timeout.
TEST_F(ForwarderTest, ReSendsBackOffWhileTheHubIsSilentAndAReceiptEndsIt) {
  const auto ids = queue_extract("extract-a", 2);
  auto o = options();  // receipt_timeout 120 s
  o.receipt_timeout_max = 600s;
  make_forwarder(o);
  start_connected();
  EXPECT_EQ(sent(), ids);
  puback_all();

  // Re-sent at 120, +240, +480, then every 600 s: not at the fixed 120 s (17 rounds in the hour).
  std::vector<std::chrono::seconds> gaps;
  std::chrono::seconds since{0};
  std::size_t seen = sent_count();
  for (int s = 0; s < 3600; ++s) {
    advance(1s);
    ++since;
    if (sent_count() != seen) {
      EXPECT_EQ(sent(seen), ids) << "both batches, oldest first";
      seen = sent_count();
      gaps.push_back(since);
      since = 0s;
      puback_all();
    }
  }
  EXPECT_EQ(gaps, (std::vector<std::chrono::seconds>{120s, 240s, 480s, 600s, 600s, 600s, 600s})) << log_;

  // The hub is back: one receipt, 360 s after the last re-send. The other batch has waited more
  // than the ordinary timeout, so it goes at the next tick, not 240 s later.
  ASSERT_EQ(since, 360s);
  receipt(ids[0]);
  const std::size_t before = sent_count();
  advance(1s);
  EXPECT_EQ(sent(before), (std::vector<std::string>{ids[1]})) << log_;
}

// Each batch waits for its own receipt: one sent a minute after another is sent again a minute
// later too, so re-sends come spread out as the batches first went, never a whole window at once.
TEST_F(ForwarderTest, EachBatchIsSentAgainOnlyWhenItsOwnReceiptIsLate) {
  const auto a = queue_extract("extract-a", 2);
  make_forwarder(options());  // receipt_timeout 120 s
  start_connected();
  EXPECT_EQ(sent(), a);
  puback_all();
  advance(60s);
  const auto b = queue_extract("extract-b", 2);
  forwarder_->notify_queued();
  advance(1ms);
  EXPECT_EQ(sent(2), b);
  puback_all();

  advance(60s - 1ms);  // a's timeout: only a's batches go again
  EXPECT_EQ(sent(4), a) << log_;
  puback_all();
  receipt(a[0]);
  receipt(a[1]);
  advance(59s);  // 179 s: b has waited 119 s
  EXPECT_EQ(sent_count(), 6u) << "b went again before its own timeout";
  advance(2s);  // the tick after b's timeout
  EXPECT_EQ(sent(6), b) << log_;
  EXPECT_EQ(forwarder_->counters().receipt_timeouts, 2u);
}

// Batches that time out together go again no more than `inflight` at a time; the rest on the
// next ticks, as PUBACKs make room.
TEST_F(ForwarderTest, ReSendsKeepToTheInflightLimit) {
  const auto ids = queue_extract("extract-a", 6);
  auto o = options();
  o.inflight = 2;
  o.window = 6;
  make_forwarder(std::move(o));
  start_connected();
  for (int i = 0; i < 3; ++i) {
    advance(1ms);
    puback_all();
  }
  ASSERT_EQ(sent(), ids) << log_;
  advance(120s);
  EXPECT_EQ(sent(6), (std::vector<std::string>{ids[0], ids[1]})) << log_;
  puback_all();
  advance(1s);
  EXPECT_EQ(sent(8), (std::vector<std::string>{ids[2], ids[3]})) << log_;
  puback_all();
  advance(1s);
  EXPECT_EQ(sent(10), (std::vector<std::string>{ids[4], ids[5]})) << log_;
}

// The link drops with batches of two extracts out: after the reconnect, and only once the
// receipt subscription is confirmed, every unacknowledged batch goes out again in outbox order
// (extract order first, then seq; not the ids' order), skipping those already acknowledged. A
// PUBACK from before the loss is ignored.
TEST_F(ForwarderTest, ReconnectResendsUnacknowledgedBatchesInOutboxOrder) {
  const auto zulu = queue_extract("zulu", 3);   // queued first
  const auto alpha = queue_extract("alpha", 2);
  make_forwarder(options());
  start_connected();
  const std::vector<std::string> all = {zulu[0], zulu[1], zulu[2], alpha[0], alpha[1]};
  EXPECT_EQ(sent(), all);
  for (std::size_t i = 0; i < client_->publishes.size(); ++i)
    if (is_batch(client_->publishes[i]) && id_of(client_->publishes[i]) != alpha[1]) client_->answer_publish(i);
  run();
  receipt(zulu[1]);
  receipt(alpha[0]);
  const auto pubacks = forwarder_->counters().pubacks;

  client_->lose_connection();
  run();
  ASSERT_TRUE(advance_until([&] { return client_->connect_pending(); }, 60s)) << log_;
  client_->answer_connect(true);
  run();
  EXPECT_EQ(sent_count(), 5u) << "sent before the receipt subscription was confirmed";
  ASSERT_TRUE(client_->subscribe_pending());
  client_->answer_subscribe(true);
  run();
  EXPECT_EQ(sent(5), (std::vector<std::string>{zulu[0], zulu[2], alpha[1]})) << log_;

  // alpha[1]'s first publish is PUBACKed late, after the restart of the sending order.
  for (std::size_t i = 0; i < client_->publishes.size(); ++i) {
    if (is_batch(client_->publishes[i]) && id_of(client_->publishes[i]) == alpha[1]) {
      client_->answer_publish(i);
      break;
    }
  }
  run();
  EXPECT_EQ(forwarder_->counters().pubacks, pubacks);
  puback_all();
  EXPECT_EQ(forwarder_->counters().pubacks, pubacks + 3);
  for (const auto& id : {zulu[0], zulu[2], alpha[1]}) receipt(id);
  EXPECT_EQ(stats().acknowledged, 5u);
  EXPECT_EQ(drained_, 1);
}

// The hub rejects a batch: it is marked rejected with the hub's reason, counted, and never sent
// again: not after the receipt timeout, not after a reconnect. It does not hold up the drain.
TEST_F(ForwarderTest, RejectedBatchIsMarkedAndNotSentAgain) {
  const auto ids = queue_extract("extract-a", 3);
  make_forwarder(options());
  start_connected();
  puback_all();
  receipt(ids[0]);
  receipt(ids[1], protocol::ReceiptStatus::rejected, "records_digest_mismatch");
  EXPECT_EQ(state(ids[1]), BatchState::rejected);
  EXPECT_EQ(forwarder_->counters().rejected, 1u);
  EXPECT_EQ(stats().rejected, 1u);
  EXPECT_NE(log_.find("rejected batch extract-a-1: records_digest_mismatch"), std::string::npos) << log_;

  advance(120s);
  EXPECT_EQ(sent(3), std::vector<std::string>{ids[2]}) << "the receipt timeout re-sends only what is unanswered";
  client_->lose_connection();
  run();
  reconnect();
  EXPECT_EQ(sent(4), std::vector<std::string>{ids[2]}) << "a reconnect re-sends only what is unacknowledged";

  EXPECT_EQ(drained_, 0);
  puback_all();
  receipt(ids[2]);
  EXPECT_EQ(drained_, 1) << "a rejected batch is not waited for";
  EXPECT_EQ(state(ids[0]), BatchState::acknowledged);
  EXPECT_EQ(state(ids[1]), BatchState::rejected);
  EXPECT_EQ(state(ids[2]), BatchState::acknowledged);
}

// Receipts are at-least-once and the hub may have stored a batch before: a `duplicate` receipt
// acknowledges like `accepted`, and the same receipt arriving twice changes nothing the second
// time. In particular it does not free a second place in the window.
TEST_F(ForwarderTest, DuplicateReceiptsAcknowledgeOnceAndDoNotWidenTheWindow) {
  const auto ids = queue_extract("extract-a", 4);
  auto o = options();
  o.inflight = 2;
  o.window = 2;
  make_forwarder(std::move(o));
  start_connected();
  puback_all();
  EXPECT_EQ(sent_count(), 2u);

  receipt(ids[0], protocol::ReceiptStatus::duplicate);
  EXPECT_EQ(state(ids[0]), BatchState::acknowledged);
  EXPECT_EQ(forwarder_->counters().duplicates, 1u);
  EXPECT_EQ(sent(), (std::vector<std::string>{ids[0], ids[1], ids[2]}));
  puback_all();

  receipt(ids[0], protocol::ReceiptStatus::duplicate);  // the same receipt again
  EXPECT_EQ(sent_count(), 3u) << "a repeated receipt let another batch out past the window";
  EXPECT_EQ(state(ids[0]), BatchState::acknowledged);

  receipt(ids[1]);
  receipt(ids[1]);
  EXPECT_EQ(sent(), (std::vector<std::string>{ids[0], ids[1], ids[2], ids[3]}));
  puback_all();
  receipt(ids[2]);
  receipt(ids[3]);
  EXPECT_EQ(stats().acknowledged, 4u);
  EXPECT_EQ(drained_, 1);
  advance(300s);
  EXPECT_EQ(sent_count(), 4u) << "nothing is sent twice";
  EXPECT_EQ(forwarder_->counters().outbox_errors, 0u);
}

// A receipt naming a batch this gateway never sent (another partner's, a stale one, garbage)
// changes nothing: no outbox row, no place in the window; nor does an unreadable one.
TEST_F(ForwarderTest, ReceiptForAnUnknownBatchIsIgnored) {
  const auto ids = queue_extract("extract-a", 3);
  auto o = options();
  o.inflight = 2;
  o.window = 2;
  make_forwarder(std::move(o));
  start_connected();
  puback_all();
  EXPECT_EQ(sent_count(), 2u);
  const OutboxStats before = stats();

  receipt("0123456789abcdef0123456789abcdef");
  receipt("0123456789abcdef0123456789abcdef", protocol::ReceiptStatus::rejected, "bad_envelope");
  client_->arrive(protocol::receipt_topic(kPartner), "not a receipt");
  run();

  EXPECT_EQ(sent_count(), 2u) << "an unknown receipt freed a place in the window";
  const OutboxStats after = stats();
  EXPECT_EQ(after.queued, before.queued);
  EXPECT_EQ(after.published, before.published);
  EXPECT_EQ(after.acknowledged, 0u);
  EXPECT_EQ(after.rejected, 0u);
  EXPECT_EQ(forwarder_->counters().outbox_errors, 0u);
  EXPECT_EQ(state("0123456789abcdef0123456789abcdef"), std::nullopt);

  // And the forwarder carries on as before.
  receipt(ids[0]);
  EXPECT_EQ(sent(), ids);
  puback_all();
  receipt(ids[1]);
  receipt(ids[2]);
  EXPECT_EQ(stats().acknowledged, 3u);
  EXPECT_EQ(drained_, 1);
}

// The status message reads the injected clock, and stop() says offline and disconnects cleanly.
TEST_F(ForwarderTest, StatusUsesTheClockAndStopSaysOffline) {
  queue_extract("extract-a", 1);
  make_forwarder(options());
  start_connected();
  const auto status_topic = protocol::status_topic(kPartner);
  ASSERT_FALSE(client_->publishes.empty());
  const auto& online = client_->publishes.front();
  EXPECT_EQ(online.topic, status_topic);
  EXPECT_TRUE(online.retained);
  EXPECT_NE(online.payload.find("\"state\":\"online\""), std::string::npos) << online.payload;
  EXPECT_NE(online.payload.find("\"time\":\"2026-11-23T09:00:00Z\""), std::string::npos) << online.payload;

  bool done = false;
  forwarder_->stop([&] { done = true; });
  run();
  EXPECT_NE(client_->publishes.back().payload.find("\"state\":\"offline\""), std::string::npos);
  ASSERT_TRUE(client_->disconnect_pending());
  EXPECT_FALSE(done) << "done before the disconnect completed";
  client_->answer_disconnect();
  run();
  EXPECT_TRUE(done);
  forwarder_.reset();
}

}  // namespace
}  // namespace svd::deliver
