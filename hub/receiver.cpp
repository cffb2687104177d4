#include "hub/receiver.h"

#include <algorithm>
#include <chrono>
#include <ostream>
#include <random>
#include <thread>

#include "transport/mqtt.h"

namespace svd::hub {
namespace {

constexpr auto kWait = std::chrono::seconds(10);
constexpr const char* kBatches = "svd/v1/+/+/batch";

// Sleeps up to `d`, waking early when a stop is requested.
void pause(std::chrono::milliseconds d, const std::atomic<bool>& stop) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!stop && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

bool connect_and_subscribe(mqtt::async_client& client, const mqtt::connect_options& options, std::ostream& log) {
  try {
    if (!client.connect(options)->wait_for(kWait)) {
      log << "broker: no CONNACK within 10 s\n";
      return false;
    }
    if (!client.subscribe(kBatches, 1)->wait_for(kWait)) {
      log << "broker: no SUBACK within 10 s\n";
      return false;
    }
    return true;
  } catch (const mqtt::exception& e) {
    log << "broker: cannot connect: " << e.what() << '\n';
    return false;
  }
}

}  // namespace

int run_receiver(const config::HubReceiverConfig& config, BatchHandler& handler, const std::atomic<bool>& stop,
                 std::ostream& log) {
  auto client = transport::make_client(config.broker, config.client_id);
  const auto options = transport::make_connect_options(config.broker);
  client->start_consuming();
  std::mt19937 rng(std::random_device{}());
  auto backoff = std::chrono::milliseconds(250);
  while (!stop) {
    if (!client->is_connected()) {
      if (!connect_and_subscribe(*client, options, log)) {
        // Exponential backoff with full jitter, capped at 30 s.
        pause(std::chrono::milliseconds(std::uniform_int_distribution<long>(0, backoff.count())(rng)), stop);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
        continue;
      }
      backoff = std::chrono::milliseconds(250);
      log << "broker: connected to " << transport::broker_uri(config.broker) << ", subscribed to " << kBatches << '\n';
    }
    mqtt::const_message_ptr msg;
    if (!client->try_consume_message_for(&msg, std::chrono::milliseconds(250))) continue;
    if (!msg) {  // Paho queues a null message when the connection is lost
      log << "broker: connection lost\n";
      continue;
    }
    Reply reply = handler.handle(msg->get_topic(), msg->get_payload_str());
    if (reply.topic.empty()) {
      log << "batch on " << msg->get_topic() << ": not answered (store unavailable or not a batch topic)\n";
      continue;
    }
    log << "batch " << reply.receipt.batch_id << " on " << msg->get_topic() << ": "
        << protocol::to_string(reply.receipt.status)
        << (reply.receipt.reason.empty() ? "" : " (" + reply.receipt.reason + ")") << '\n';
    try {
      client->publish(reply.topic, protocol::to_json(reply.receipt), 1, false)->wait_for(kWait);
    } catch (const mqtt::exception& e) {
      // The gateway re-sends after its receipt timeout and gets "duplicate" then.
      log << "receipt for " << reply.receipt.batch_id << " not sent: " << e.what() << '\n';
    }
  }
  try {
    if (client->is_connected()) client->disconnect()->wait_for(kWait);
  } catch (const mqtt::exception&) {
  }
  return 0;
}

}  // namespace svd::hub
