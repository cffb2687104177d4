#include "hub/receiver.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <optional>
#include <ostream>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "base/log_safe.h"
#include "base/service.h"
#include "base/time.h"
#include "crypto/certificate_info.h"
#include "hub/hub_metrics.h"
#include "hub/intake.h"
#include "hub/sharing.h"
#include "hub/status_handler.h"
#include "protocol/envelope.h"
#include "ops/ops_server.h"
#include "protocol/status.h"
#include "transport/mqtt.h"

namespace svd::hub {
namespace {

constexpr auto kWait = std::chrono::seconds(10);
constexpr const char* kBatches = "svd/v1/+/+/batch";
constexpr const char* kCheckpoints = "svd/v1/+/audit";
constexpr const char* kStatuses = "svd/v1/+/status";
// A group: at most this many messages, and no more taken once their payloads reach this size. What
// a group needs on top of its payloads (the records parsed, a COPY buffer) grows with it, and
// beyond a few MiB a larger group saves no time: one commit per 4 MiB is already a small share.
constexpr std::size_t kGroupMessages = 64;
constexpr std::size_t kGroupBytes = std::size_t{4} << 20;

// systemd's watchdog (WatchdogSec=): WATCHDOG=1 is sent from the receive loop itself, so the
// pings stop when the loop is stuck. One step of the loop may legitimately block for 10 s or
// more (a CONNACK or a SUBACK, 10 s each; a group's commit and its PUBACKs), so it pings every
// quarter of the timeout rather than every half: two pings are then at most a quarter plus one
// step apart, within a WatchdogSec of 60 s or more.
class Watchdog {
 public:
  Watchdog() : interval_(service::watchdog_interval()) {}  // half the timeout, if systemd asked

  void kick() {
    if (!interval_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now < next_) return;
    service::notify("WATCHDOG=1");
    next_ = now + *interval_ / 2;
  }

 private:
  std::optional<std::chrono::microseconds> interval_;
  std::chrono::steady_clock::time_point next_{};
};

// Sleeps up to `d`, waking early when a stop is requested; the watchdog is kept fed meanwhile.
void pause(std::chrono::milliseconds d, const std::atomic<bool>& stop, Watchdog& watchdog) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!stop && std::chrono::steady_clock::now() < until) {
    watchdog.kick();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// What this instance subscribes to: every partner's batches (and checkpoints, with a witness),
// or only those of the partners in [broker] partners, so that several instances can share the
// partners out on a broker without MQTT 5 shared subscriptions (docs/clustering.md).
std::vector<std::string> topic_filters(const config::HubReceiverConfig& config, bool checkpoints) {
  if (config.partner_filter.empty()) {
    std::vector<std::string> all{kBatches};
    if (checkpoints) all.emplace_back(kCheckpoints);
    all.emplace_back(kStatuses);
    return all;
  }
  std::vector<std::string> filters;
  for (const auto& p : config.partner_filter) filters.push_back(protocol::batch_topic(p, "+"));
  if (checkpoints) {
    for (const auto& p : config.partner_filter) filters.push_back(protocol::audit_topic(p));
  }
  for (const auto& p : config.partner_filter) filters.push_back(protocol::status_topic(p));
  return filters;
}

bool connect_and_subscribe(mqtt::async_client& client, const mqtt::connect_options& options,
                           const std::vector<std::string>& filters, Watchdog& watchdog, std::ostream& log) {
  try {
    if (!client.connect(options)->wait_for(kWait)) {
      log << "broker: no CONNACK within 10 s\n";
      return false;
    }
    for (const auto& filter : filters) {
      watchdog.kick();  // one wait of up to 10 s per filter: with many partners, more than a timeout
      if (!client.subscribe(filter, 1)->wait_for(kWait)) {
        log << "broker: no SUBACK within 10 s\n";
        return false;
      }
    }
    return true;
  } catch (const mqtt::exception& e) {
    log << "broker: cannot connect: " << e.what() << '\n';
    return false;
  }
}

// One receipt to publish, and how to name it in the log.
struct Answer {
  std::string topic;
  std::string payload;
  std::string what;  // "batch <id>" or "checkpoint <partner> seq <n>", the peer's text log_safe
};

std::string checkpoint_name(const protocol::CheckpointReceipt& r) {
  return "checkpoint " + log_safe(r.checkpoint.partner) + " seq " + std::to_string(r.checkpoint.seq);
}

// The group's audit checkpoints, each decided (and committed) by the witness in arrival order.
// `audit`: (index into group, partner of its topic).
void witness_checkpoints(Witness* witness, const std::vector<mqtt::const_message_ptr>& group,
                         const std::vector<std::pair<std::size_t, std::string>>& audit, bool& told_no_witness,
                         std::vector<Answer>& answers, HubMetrics& metrics, std::ostream& log) {
  for (const auto& [i, partner] : audit) {
    const std::string topic = log_safe(group[i]->get_topic(), kLogSafeTopicBytes);
    if (!witness) {
      if (!told_no_witness) log << "checkpoint on " << topic << ": dropped, no [witness] key configured\n";
      told_no_witness = true;
      continue;
    }
    auto outcome = witness->handle(partner, group[i]->get_payload_str());
    if (!outcome) {
      // The gateway publishes it again until it has a receipt.
      log << "checkpoint on " << topic << ": not answered (witness store unavailable)\n";
      continue;
    }
    const protocol::CheckpointReceipt& r = outcome->receipt;
    if (outcome->alarm) metrics.witness_alarm(partner);
    log << checkpoint_name(r) << " on " << topic << ": " << protocol::to_string(r.status)
        << (r.reason.empty() ? "" : " (" + r.reason + ")") << '\n';
    answers.push_back({protocol::receipt_topic(partner), protocol::to_json(r), checkpoint_name(r)});
  }
}

// A receipt published and not yet acknowledged by the broker (PUBACK).
struct Outstanding {
  std::string what;
  mqtt::delivery_token_ptr token;
  std::chrono::steady_clock::time_point deadline;
};

// Stores the group, then answers it. The receipts go out only after handle_group (and each
// checkpoint's Witness::handle) returned, i.e. after the commit: a receipt never acknowledges
// something that is not durable. Their PUBACKs are not waited for here (check_outstanding does,
// between groups): Paho reads PUBACKs on the thread that may be waiting for room in the Intake,
// which only the loop makes by going on.
void store_and_answer(mqtt::async_client& client, Intake& intake, BatchHandler& handler, Witness* witness,
                      StatusHandler& statuses, HubMetrics& metrics, const std::vector<Received>& group,
                      bool& told_no_witness, std::vector<Outstanding>& outstanding, std::ostream& log) {
  std::vector<Message> messages;
  std::vector<std::string_view> topics;  // of messages
  std::vector<mqtt::const_message_ptr> checkpoints;
  std::vector<std::pair<std::size_t, std::string>> audit;
  messages.reserve(group.size());
  for (const Received& r : group) {
    if (r.lost) continue;
    if (!r.message) {  // over max_batch_bytes: answered from its topic and header alone
      messages.push_back({r.topic, r.head, true});
      topics.push_back(r.topic);
      continue;
    }
    std::string partner;
    if (protocol::parse_status_topic(r.message->get_topic(), partner)) {
      // Advice, never answered: recorded at once, apart from the group's transaction.
      const std::string line = statuses.handle(r.message->get_topic(), r.message->get_payload_str(),
                                               static_cast<std::int64_t>(std::time(nullptr)));
      if (!line.empty()) log << line << '\n';
      continue;
    }
    if (parse_audit_topic(r.message->get_topic(), partner)) {
      audit.emplace_back(checkpoints.size(), std::move(partner));
      checkpoints.push_back(r.message);
      continue;
    }
    messages.push_back({r.message->get_topic(), r.message->get_payload_str()});
    topics.push_back(r.message->get_topic());
  }
  std::vector<Answer> answers;
  if (!messages.empty()) {
    const std::vector<Reply> replies = handler.handle_group(messages);
    if (handler.last_store().stored) metrics.commit(handler.last_store().seconds, handler.last_store().ok);
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    for (std::size_t j = 0; j < replies.size(); ++j) {
      const Reply& reply = replies[j];
      const std::string_view topic = topics[j];
      if (reply.topic.empty()) {
        log << "batch on " << log_safe(topic, kLogSafeTopicBytes)
            << ": not answered (store unavailable or not a batch topic)\n";
        continue;
      }
      metrics.batch(reply.partner, reply.feed, protocol::to_string(reply.receipt.status), reply.receipt.reason,
                    reply.records, now);
      if (reply.log) log << log_line(reply, topic) << '\n';
      answers.push_back({reply.topic, protocol::to_json(reply.receipt), "batch " + log_safe(reply.receipt.batch_id)});
    }
  }
  witness_checkpoints(witness, checkpoints, audit, told_no_witness, answers, metrics, log);

  const auto deadline = std::chrono::steady_clock::now() + kWait;
  intake.call_paho([&] {
    for (Answer& a : answers) {
      try {
        auto token = client.publish(a.topic, a.payload, 1, false);
        outstanding.push_back({std::move(a.what), std::move(token), deadline});
      } catch (const mqtt::exception& e) {
        // The gateway re-sends after its receipt timeout and gets "duplicate" then.
        log << "receipt for " << a.what << " not sent: " << e.what() << '\n';
      }
    }
  });
}

// Logs the receipts the broker refused or did not acknowledge within 10 s, and forgets them and
// the acknowledged ones. The gateway re-sends what it got no receipt for, and is answered
// `duplicate`.
void check_outstanding(std::vector<Outstanding>& outstanding, std::ostream& log) {
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(outstanding, [&](const Outstanding& o) {
    try {
      if (o.token->try_wait()) return true;
    } catch (const mqtt::exception& e) {
      log << "receipt for " << o.what << " not sent: " << e.what() << '\n';
      return true;
    }
    if (now < o.deadline) return false;
    log << "receipt for " << o.what << ": no PUBACK within 10 s\n";
    return true;
  });
}

// [store] retain_days: one transaction deleting what is older, between two groups.
class Retention {
 public:
  explicit Retention(std::optional<int> days) : days_(days) {}

  void run_if_due(Store& store, std::ostream& log) {
    if (!days_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now < next_) return;
    next_ = now + std::chrono::hours(1);
    const std::int64_t before = static_cast<std::int64_t>(std::time(nullptr)) - std::int64_t{*days_} * 86400;
    auto deleted = store.delete_received_before(before);
    if (!deleted) {
      log << "retention: cannot delete records received before " << utc_iso(before)
          << " (the store refused; trying again in an hour)\n";
      return;
    }
    std::uint64_t total = 0;
    std::string per_feed;
    for (const auto& [feed, n] : *deleted) {
      total += n;
      if (n) per_feed += (per_feed.empty() ? "" : ", ") + feed + " " + std::to_string(n);
    }
    log << "retention: deleted " << total << " record(s) received before " << utc_iso(before)
        << (per_feed.empty() ? "" : " (" + per_feed + ")") << '\n';
  }

 private:
  std::optional<int> days_;
  std::chrono::steady_clock::time_point next_{};
};

// Every minute (and 5 s after new batches), between groups, what the store says about each partner
// for /metrics and /healthz: the feeds overdue now (hub/sharing.h), each partner's last stored
// batch, each gateway's state.
// A feed is watched from svdhub's start or its partner's earliest delivery of the last two months,
// whichever is earlier, so a restart does not forget a feed that was already overdue.
class Oversight {
 public:
  explicit Oversight(const config::HubReceiverConfig& config) : config_(config) {}

  // New batches were stored: look again soon (not after every group: the query reads two months
  // of batch rows).
  void stored() { soon_ = true; }

  void run_if_due(Store& store, const StatusHandler& statuses, HubMetrics& metrics, std::ostream& log) {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_ && !(soon_ && now >= last_ + std::chrono::seconds(5))) return;
    next_ = now + std::chrono::minutes(1);
    last_ = now;
    soon_ = false;
    metrics.gateways(statuses.latest());
    const auto wall = std::chrono::system_clock::now();
    const auto seconds = [](config::SystemTime t) {
      return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
    };
    auto arrivals = store.extract_arrivals(seconds(wall - std::chrono::hours(24 * 62)),
                                           seconds(wall + std::chrono::hours(24)));
    if (!arrivals) {
      if (!told_) log << "oversight: cannot read the extracts from the store (trying again every minute)\n";
      told_ = true;
      return;
    }
    told_ = false;
    config::SystemTime watched = started_;
    std::map<std::string, std::int64_t, std::less<>> last;
    for (const auto& a : *arrivals) {
      watched = std::min(watched, config::SystemTime(std::chrono::seconds(a.received_at)));
      auto& t = last[a.partner];
      t = std::max(t, a.stored_at);
    }
    metrics.last_batches(last);
    metrics.feeds(feed_statuses(config_, *arrivals, wall, watched));
  }

 private:
  const config::HubReceiverConfig& config_;
  const config::SystemTime started_ = std::chrono::system_clock::now();
  std::chrono::steady_clock::time_point next_{}, last_{};
  bool soon_ = false, told_ = false;
};

// "2027-11-23 09:15:20 UTC" (crypto/certificate_info.h) as an instant.
std::optional<config::SystemTime> not_after(const std::string& text) {
  if (text.size() != 23 || !text.ends_with(" UTC")) return std::nullopt;
  return parse_utc_iso(text.substr(0, 10) + "T" + text.substr(11, 8) + "Z");
}

// The operations port on a thread of its own, when [ops] asks for one.
class OpsPort {
 public:
  bool open(const config::OpsConfig& ops, HubMetrics& metrics, const Intake& intake, const std::atomic<bool>& stop,
            std::ostream& log) {
    if (ops.port == 0) return true;
    auto server = ops::OpsServer::open(
        io_, ops.listen, static_cast<unsigned short>(ops.port),
        [&metrics, &intake, &stop](std::string_view path) {
          const auto now = static_cast<std::int64_t>(std::time(nullptr));
          if (path == "/metrics")
            return ops::Reply{200, std::string(ops::kMetricsContentType), metrics.render(now, intake.pending_bytes())};
          if (path == "/healthz") return ops::Reply{stop ? 503 : 200, "application/json", metrics.health_json(stop, now)};
          return ops::Reply{404, "application/problem+json",
                            R"({"type":"about:blank","title":"Not Found","status":404,)"
                            R"("detail":"This port serves /healthz and /metrics."})"};
        },
        [&log](const std::string& m) { log << "ops: " << m << '\n'; });
    if (!server) {
      log << "ops: cannot listen on " << ops.listen << " port " << ops.port << ": " << server.error().message() << '\n';
      return false;
    }
    server_ = std::move(*server);
    thread_ = std::thread([this] { io_.run(); });
    return true;
  }
  ~OpsPort() {
    if (!server_) return;
    // On the I/O thread, as OpsServer::stop() asks; then nothing more runs there.
    boost::asio::post(io_, [this] {
      server_->stop();
      io_.stop();
    });
    thread_.join();
    server_.reset();
  }

 private:
  boost::asio::io_context io_;
  std::unique_ptr<ops::OpsServer> server_;
  std::thread thread_;
};

}  // namespace

int run_receiver(const config::HubReceiverConfig& config, std::string_view version, BatchHandler& handler,
                 Witness* witness, const std::atomic<bool>& stop, std::ostream& log,
                 const std::atomic<bool>* reloading) {
  auto client = transport::make_client(config.broker, config.client_id);
  const auto options = transport::make_connect_options(config.broker);
  Intake intake(config.max_pending_bytes, config.max_batch_bytes);
  ops::Metrics registry("svdhub");
  HubMetrics metrics(registry, version, config);
  if (auto cert = crypto::read_certificate_info(config.broker.cert))
    if (auto t = not_after(cert->not_after)) metrics.certificate_expiry(*t);
  OpsPort ops_port;  // declared after what its handler reads, so it stops first
  if (!ops_port.open(config.ops, metrics, intake, stop, log)) return 1;
  // Both run on Paho's thread; put() may wait there for room (hub/intake.h).
  client->set_message_callback([&intake](mqtt::const_message_ptr m) { intake.put(std::move(m)); });
  client->set_connection_lost_handler([&intake](const std::string&) { intake.connection_lost(); });
  std::vector<Outstanding> outstanding;
  // Ours, not client->is_connected(): every Paho call must go through intake.call_paho().
  bool connected = false;
  std::mt19937 rng(std::random_device{}());
  auto backoff = std::chrono::milliseconds(250);
  bool told_no_witness = false;
  const std::vector<std::string> filters = topic_filters(config, witness != nullptr);
  std::string subscribed;  // "a and b and c", for the log
  for (const auto& f : filters) subscribed += (subscribed.empty() ? "" : " and ") + f;
  Watchdog watchdog;
  Retention retention(config.store.retain_days);
  StatusHandler statuses(handler.store(), config);
  Oversight oversight(config);
  // Ready once the store is open and the loop runs, not once the broker answers: a broker that is
  // down must not fail the start (the loop keeps reconnecting).
  service::notify("READY=1\nSTATUS=receiving batches");
  while (!stop) {
    watchdog.kick();
    retention.run_if_due(handler.store(), log);
    oversight.run_if_due(handler.store(), statuses, metrics, log);
    check_outstanding(outstanding, log);
    // What is already here goes first, even after the connection was lost: Paho's thread may be
    // waiting for room, and would not read the next CONNACK and SUBACKs until it has some. A
    // message and whatever else is waiting are one group: one commit (one fsync) for all of them.
    // Never wait for more: a lone batch is answered at once.
    std::vector<Received> group =
        intake.take(std::chrono::milliseconds(connected ? 250 : 0), kGroupMessages, kGroupBytes);
    if (!group.empty()) {
      const bool lost = group.back().lost;
      if (group.size() > (lost ? 1u : 0u)) {
        watchdog.kick();
        store_and_answer(*client, intake, handler, witness, statuses, metrics, group, told_no_witness, outstanding,
                         log);
        if (handler.last_store().stored && handler.last_store().ok) oversight.stored();
      }
      intake.release(group);
      if (lost) {
        connected = false;
        metrics.broker_connected(false);
        log << "broker: connection lost\n";
      }
      continue;
    }
    if (connected) continue;
    if (!intake.call_paho([&] { return connect_and_subscribe(*client, options, filters, watchdog, log); })) {
      // Exponential backoff with full jitter, capped at 30 s.
      pause(std::chrono::milliseconds(std::uniform_int_distribution<long>(0, backoff.count())(rng)), stop, watchdog);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
      continue;
    }
    backoff = std::chrono::milliseconds(250);
    connected = true;
    metrics.broker_connected(true);
    log << "broker: connected to " << transport::broker_uri(config.broker) << ", subscribed to " << subscribed
        << '\n';
  }
  // Paho's thread may be waiting for room: let it go before disconnecting.
  intake.stop();
  if (!reloading || !*reloading) service::notify("STOPPING=1");
  try {
    if (client->is_connected()) client->disconnect()->wait_for(kWait);
  } catch (const mqtt::exception&) {
  }
  return 0;
}

}  // namespace svd::hub
