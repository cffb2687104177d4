#include "hub/receiver.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <ostream>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "base/service.h"
#include "protocol/envelope.h"
#include "transport/mqtt.h"

namespace svd::hub {
namespace {

constexpr auto kWait = std::chrono::seconds(10);
constexpr const char* kBatches = "svd/v1/+/+/batch";
constexpr const char* kCheckpoints = "svd/v1/+/audit";
// A group: at most this many messages, and no more taken once their payloads reach this size.
constexpr std::size_t kGroupMessages = 64;
constexpr std::size_t kGroupBytes = std::size_t{32} << 20;

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
    return all;
  }
  std::vector<std::string> filters;
  for (const auto& p : config.partner_filter) filters.push_back(protocol::batch_topic(p, "+"));
  if (checkpoints) {
    for (const auto& p : config.partner_filter) filters.push_back(protocol::audit_topic(p));
  }
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
  std::string what;  // "batch <id>" or "checkpoint <partner> seq <n>"
};

std::string checkpoint_name(const protocol::CheckpointReceipt& r) {
  return "checkpoint " + r.checkpoint.partner + " seq " + std::to_string(r.checkpoint.seq);
}

// The group's audit checkpoints, each decided (and committed) by the witness in arrival order.
// `audit`: (index into group, partner of its topic).
void witness_checkpoints(Witness* witness, const std::vector<mqtt::const_message_ptr>& group,
                         const std::vector<std::pair<std::size_t, std::string>>& audit, bool& told_no_witness,
                         std::vector<Answer>& answers, std::ostream& log) {
  for (const auto& [i, partner] : audit) {
    const std::string& topic = group[i]->get_topic();
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
    log << checkpoint_name(r) << " on " << topic << ": " << protocol::to_string(r.status)
        << (r.reason.empty() ? "" : " (" + r.reason + ")") << '\n';
    answers.push_back({protocol::receipt_topic(partner), protocol::to_json(r), checkpoint_name(r)});
  }
}

// Stores the group, then answers it. The receipts go out only after handle_group (and each
// checkpoint's Witness::handle) returned, i.e. after the commit: a receipt never acknowledges
// something that is not durable. They are published together and their PUBACKs awaited together
// (one deadline), so a group costs one round trip to the broker, not one per message.
void store_and_answer(mqtt::async_client& client, BatchHandler& handler, Witness* witness,
                      const std::vector<mqtt::const_message_ptr>& group, bool& told_no_witness, std::ostream& log) {
  std::vector<Message> messages;
  std::vector<std::size_t> batch_of;  // indexes into group
  std::vector<std::pair<std::size_t, std::string>> audit;
  messages.reserve(group.size());
  for (std::size_t i = 0; i < group.size(); ++i) {
    std::string partner;
    if (parse_audit_topic(group[i]->get_topic(), partner)) {
      audit.emplace_back(i, std::move(partner));
      continue;
    }
    messages.push_back({group[i]->get_topic(), group[i]->get_payload_str()});
    batch_of.push_back(i);
  }
  std::vector<Answer> answers;
  if (!messages.empty()) {
    const std::vector<Reply> replies = handler.handle_group(messages);
    for (std::size_t j = 0; j < replies.size(); ++j) {
      const Reply& reply = replies[j];
      const std::string& topic = group[batch_of[j]]->get_topic();
      if (reply.topic.empty()) {
        log << "batch on " << topic << ": not answered (store unavailable or not a batch topic)\n";
        continue;
      }
      log << "batch " << reply.receipt.batch_id << " on " << topic << ": " << protocol::to_string(reply.receipt.status)
          << (reply.receipt.reason.empty() ? "" : " (" + reply.receipt.reason + ")") << '\n';
      answers.push_back({reply.topic, protocol::to_json(reply.receipt), "batch " + reply.receipt.batch_id});
    }
  }
  witness_checkpoints(witness, group, audit, told_no_witness, answers, log);

  std::vector<std::pair<const Answer*, mqtt::delivery_token_ptr>> sent;
  for (const Answer& a : answers) {
    try {
      sent.emplace_back(&a, client.publish(a.topic, a.payload, 1, false));
    } catch (const mqtt::exception& e) {
      // The gateway re-sends after its receipt timeout and gets "duplicate" then.
      log << "receipt for " << a.what << " not sent: " << e.what() << '\n';
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  for (const auto& [answer, token] : sent) {
    try {
      if (!token->wait_until(deadline)) log << "receipt for " << answer->what << ": no PUBACK within 10 s\n";
    } catch (const mqtt::exception& e) {
      log << "receipt for " << answer->what << " not sent: " << e.what() << '\n';
    }
  }
}

}  // namespace

int run_receiver(const config::HubReceiverConfig& config, BatchHandler& handler, Witness* witness,
                 const std::atomic<bool>& stop, std::ostream& log) {
  auto client = transport::make_client(config.broker, config.client_id);
  const auto options = transport::make_connect_options(config.broker);
  client->start_consuming();
  std::mt19937 rng(std::random_device{}());
  auto backoff = std::chrono::milliseconds(250);
  bool told_no_witness = false;
  const std::vector<std::string> filters = topic_filters(config, witness != nullptr);
  std::string subscribed;  // "a and b and c", for the log
  for (const auto& f : filters) subscribed += (subscribed.empty() ? "" : " and ") + f;
  Watchdog watchdog;
  // Ready once the store is open and the loop runs, not once the broker answers: a broker that is
  // down must not fail the start (the loop keeps reconnecting).
  service::notify("READY=1\nSTATUS=receiving batches");
  while (!stop) {
    watchdog.kick();
    if (!client->is_connected()) {
      if (!connect_and_subscribe(*client, options, filters, watchdog, log)) {
        // Exponential backoff with full jitter, capped at 30 s.
        pause(std::chrono::milliseconds(std::uniform_int_distribution<long>(0, backoff.count())(rng)), stop, watchdog);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
        continue;
      }
      backoff = std::chrono::milliseconds(250);
      log << "broker: connected to " << transport::broker_uri(config.broker) << ", subscribed to " << subscribed
          << '\n';
    }
    mqtt::const_message_ptr msg;
    if (!client->try_consume_message_for(&msg, std::chrono::milliseconds(250))) continue;
    if (!msg) {  // Paho queues a null message when the connection is lost
      log << "broker: connection lost\n";
      continue;
    }
    // Whatever else is already waiting joins this message's group: one commit (one fsync) for
    // all of them. Never wait for more: a lone batch is answered at once.
    std::vector<mqtt::const_message_ptr> group{msg};
    std::size_t bytes = msg->get_payload().size();
    bool lost = false;
    while (group.size() < kGroupMessages && bytes < kGroupBytes && client->try_consume_message(&msg)) {
      if (!msg) {
        lost = true;
        break;
      }
      bytes += msg->get_payload().size();
      group.push_back(std::move(msg));
    }
    watchdog.kick();
    store_and_answer(*client, handler, witness, group, told_no_witness, log);
    if (lost) log << "broker: connection lost\n";
  }
  service::notify("STOPPING=1");
  try {
    if (client->is_connected()) client->disconnect()->wait_for(kWait);
  } catch (const mqtt::exception&) {
  }
  return 0;
}

}  // namespace svd::hub
