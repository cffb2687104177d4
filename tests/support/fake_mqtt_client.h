#pragma once
// An MQTT client without a broker, for unit tests of code that holds Paho's mqtt::iasync_client
// (the forwarder: deliver/forwarder.h). It records every request (connect, subscribe, publish,
// disconnect) and answers none by itself: the test answers each one (succeed, fail) when it
// chooses, delivers messages and drops the connection, so every ordering Paho can produce can be
// written down. Answers go to the caller's listener and callback on the test's thread, as Paho
// would call them on its own; code under test that only posts from them (as it must with Paho)
// then runs its handlers when the test polls its io_context.
//
// Thread-safety: none; one thread (the test's, which also polls the io_context) uses it.
// Header-only so any test target can use it without linking more than Paho.

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <mqtt/iasync_client.h>

namespace svd::test_support {

class FakeMqttClient final : public mqtt::iasync_client {
 public:
  // A request awaiting the test's answer: its token and the listener to tell (null when the
  // caller passed none).
  struct Request {
    mqtt::token_ptr token;
    mqtt::iaction_listener* listener = nullptr;
  };
  struct Publish {
    std::string topic, payload;
    int qos = 0;
    bool retained = false;
    void* context = nullptr;  // the caller's user context
    mqtt::delivery_token_ptr token;
    mqtt::iaction_listener* listener = nullptr;
    bool answered = false;  // PUBACKed or failed by the test (always true without a listener)
  };

  FakeMqttClient(std::string server_uri, std::string client_id)
      : server_uri_(std::move(server_uri)), client_id_(std::move(client_id)) {}

  // ---- what the code under test asked for -------------------------------------------------

  std::vector<Publish> publishes;                   // every publish, in call order
  std::vector<std::string> subscriptions;           // topic filters, in call order
  std::vector<mqtt::connect_options> connect_calls;  // options of every connect, in call order
  std::size_t disconnect_calls = 0;

  bool connect_pending() const { return connect_.has_value(); }
  bool subscribe_pending() const { return subscribe_.has_value(); }
  bool disconnect_pending() const { return disconnect_.has_value(); }
  bool callbacks_set() const { return callback_ != nullptr; }

  // ---- the broker's side, as the test plays it --------------------------------------------

  // Answers the pending connect; the client is connected after a success.
  void answer_connect(bool ok) {
    Request r = take(connect_, "connect");
    connected_ = ok;
    tell(r, ok);
  }
  void answer_subscribe(bool ok) { tell(take(subscribe_, "subscribe"), ok); }
  // Completes the pending disconnect: not connected any more.
  void answer_disconnect() {
    Request r = take(disconnect_, "disconnect");
    connected_ = false;
    tell(r, true);
  }
  // The broker's PUBACK (ok) or a failed delivery (not ok) of publishes[index].
  void answer_publish(std::size_t index, bool ok = true) {
    Publish& p = publishes.at(index);
    if (p.answered) throw std::logic_error("FakeMqttClient: publish " + std::to_string(index) + " answered twice");
    p.answered = true;
    if (p.listener) {
      if (ok) {
        p.listener->on_success(*p.token);
      } else {
        p.listener->on_failure(*p.token);
      }
    }
  }
  // A message from the broker on a subscribed topic.
  void arrive(const std::string& topic, const std::string& payload) {
    if (!connected_) throw std::logic_error("FakeMqttClient: a message arrives while not connected");
    if (callback_) callback_->message_arrived(mqtt::make_message(topic, payload, 1, false));
  }
  // The connection dies (keep-alive timeout, broker gone) and connection_lost is called. A pending
  // subscribe is forgotten; unanswered publishes stay answerable, because Paho may still complete
  // them (a persistent session re-sends them after the next connect), late.
  void lose_connection(const std::string& cause = "fake: connection lost") {
    connected_ = false;
    subscribe_.reset();
    if (callback_) callback_->connection_lost(cause);
  }

  // ---- mqtt::iasync_client ----------------------------------------------------------------

  mqtt::token_ptr connect() override { return connect(mqtt::connect_options()); }
  mqtt::token_ptr connect(mqtt::connect_options options) override {
    return record_connect(std::move(options), nullptr, nullptr);
  }
  mqtt::token_ptr connect(mqtt::connect_options options, void* context, mqtt::iaction_listener& cb) override {
    return record_connect(std::move(options), context, &cb);
  }
  mqtt::token_ptr connect(void* context, mqtt::iaction_listener& cb) override {
    return record_connect(mqtt::connect_options(), context, &cb);
  }
  mqtt::token_ptr reconnect() override { return connect(); }

  mqtt::token_ptr disconnect() override { return record_disconnect(nullptr, nullptr); }
  mqtt::token_ptr disconnect(mqtt::disconnect_options) override { return record_disconnect(nullptr, nullptr); }
  mqtt::token_ptr disconnect(int) override { return record_disconnect(nullptr, nullptr); }
  mqtt::token_ptr disconnect(int, void* context, mqtt::iaction_listener& cb) override {
    return record_disconnect(context, &cb);
  }
  mqtt::token_ptr disconnect(void* context, mqtt::iaction_listener& cb) override {
    return record_disconnect(context, &cb);
  }

  mqtt::delivery_token_ptr get_pending_delivery_token(int) const override { return nullptr; }
  std::vector<mqtt::delivery_token_ptr> get_pending_delivery_tokens() const override { return {}; }
  mqtt::string get_client_id() const override { return client_id_; }
  mqtt::string get_server_uri() const override { return server_uri_; }
  bool is_connected() const override { return connected_; }

  mqtt::delivery_token_ptr publish(mqtt::string_ref topic, const void* payload, std::size_t n, int qos,
                                   bool retained) override {
    return publish(mqtt::make_message(std::move(topic), payload, n, qos, retained));
  }
  mqtt::delivery_token_ptr publish(mqtt::string_ref topic, const void* payload, std::size_t n) override {
    return publish(mqtt::make_message(std::move(topic), payload, n));
  }
  mqtt::delivery_token_ptr publish(mqtt::string_ref topic, const void* payload, std::size_t n, int qos,
                                   bool retained, void* context, mqtt::iaction_listener& cb) override {
    return publish(mqtt::make_message(std::move(topic), payload, n, qos, retained), context, cb);
  }
  mqtt::delivery_token_ptr publish(mqtt::string_ref topic, mqtt::binary_ref payload, int qos,
                                   bool retained) override {
    return publish(mqtt::make_message(std::move(topic), std::move(payload), qos, retained));
  }
  mqtt::delivery_token_ptr publish(mqtt::string_ref topic, mqtt::binary_ref payload) override {
    return publish(mqtt::make_message(std::move(topic), std::move(payload)));
  }
  mqtt::delivery_token_ptr publish(mqtt::const_message_ptr msg) override {
    return record_publish(std::move(msg), nullptr, nullptr);
  }
  mqtt::delivery_token_ptr publish(mqtt::const_message_ptr msg, void* context, mqtt::iaction_listener& cb) override {
    return record_publish(std::move(msg), context, &cb);
  }

  void set_callback(mqtt::callback& cb) override { callback_ = &cb; }
  void disable_callbacks() override { callback_ = nullptr; }

  mqtt::token_ptr subscribe(const mqtt::string& filter, int, const mqtt::subscribe_options&,
                            const mqtt::properties&) override {
    return record_subscribe(filter, nullptr, nullptr);
  }
  mqtt::token_ptr subscribe(const mqtt::string& filter, int, void* context, mqtt::iaction_listener& cb,
                            const mqtt::subscribe_options&, const mqtt::properties&) override {
    return record_subscribe(filter, context, &cb);
  }
  mqtt::token_ptr subscribe(mqtt::const_string_collection_ptr, const qos_collection&,
                            const std::vector<mqtt::subscribe_options>&, const mqtt::properties&) override {
    throw std::logic_error("FakeMqttClient: subscribe to several filters is not faked");
  }
  mqtt::token_ptr subscribe(mqtt::const_string_collection_ptr, const qos_collection&, void*, mqtt::iaction_listener&,
                            const std::vector<mqtt::subscribe_options>&, const mqtt::properties&) override {
    throw std::logic_error("FakeMqttClient: subscribe to several filters is not faked");
  }
  mqtt::token_ptr unsubscribe(const mqtt::string&, const mqtt::properties&) override {
    throw std::logic_error("FakeMqttClient: unsubscribe is not faked");
  }
  mqtt::token_ptr unsubscribe(mqtt::const_string_collection_ptr, const mqtt::properties&) override {
    throw std::logic_error("FakeMqttClient: unsubscribe is not faked");
  }
  mqtt::token_ptr unsubscribe(mqtt::const_string_collection_ptr, void*, mqtt::iaction_listener&,
                              const mqtt::properties&) override {
    throw std::logic_error("FakeMqttClient: unsubscribe is not faked");
  }
  mqtt::token_ptr unsubscribe(const mqtt::string&, void*, mqtt::iaction_listener&, const mqtt::properties&) override {
    throw std::logic_error("FakeMqttClient: unsubscribe is not faked");
  }

 private:
  // Paho's tokens call this on their client when the C library completes them; ours never are.
  void remove_token(mqtt::token*) override {}

  static mqtt::token_ptr make_token(mqtt::token::Type type, mqtt::iasync_client& self, void* context,
                                    mqtt::iaction_listener* cb) {
    return cb ? mqtt::token::create(type, self, context, *cb) : mqtt::token::create(type, self);
  }

  mqtt::token_ptr record_connect(mqtt::connect_options options, void* context, mqtt::iaction_listener* cb) {
    // Paho refuses a second connect while one is under way, or while connected.
    if (connect_ || connected_) throw mqtt::exception(MQTTASYNC_OPERATION_INCOMPLETE);
    connect_calls.push_back(std::move(options));
    connect_ = Request{make_token(mqtt::token::Type::CONNECT, *this, context, cb), cb};
    return connect_->token;
  }
  mqtt::token_ptr record_subscribe(const mqtt::string& filter, void* context, mqtt::iaction_listener* cb) {
    if (!connected_) throw mqtt::exception(MQTTASYNC_DISCONNECTED);
    if (subscribe_) throw std::logic_error("FakeMqttClient: a second subscribe before the first is answered");
    subscriptions.push_back(filter);
    subscribe_ = Request{make_token(mqtt::token::Type::SUBSCRIBE, *this, context, cb), cb};
    return subscribe_->token;
  }
  mqtt::token_ptr record_disconnect(void* context, mqtt::iaction_listener* cb) {
    ++disconnect_calls;
    if (!connected_) throw mqtt::exception(MQTTASYNC_DISCONNECTED);
    disconnect_ = Request{make_token(mqtt::token::Type::DISCONNECT, *this, context, cb), cb};
    return disconnect_->token;
  }
  mqtt::delivery_token_ptr record_publish(mqtt::const_message_ptr msg, void* context, mqtt::iaction_listener* cb) {
    if (!connected_) throw mqtt::exception(MQTTASYNC_DISCONNECTED);
    auto token = cb ? mqtt::delivery_token::create(*this, msg, context, *cb) : mqtt::delivery_token::create(*this, msg);
    publishes.push_back(Publish{msg->get_topic(), msg->get_payload_str(), msg->get_qos(), msg->is_retained(), context,
                                token, cb, cb == nullptr});
    return token;
  }

  static Request take(std::optional<Request>& slot, const char* what) {
    if (!slot) throw std::logic_error(std::string("FakeMqttClient: no ") + what + " to answer");
    Request r = std::move(*slot);
    slot.reset();
    return r;
  }
  static void tell(const Request& r, bool ok) {
    if (!r.listener) return;
    if (ok) {
      r.listener->on_success(*r.token);
    } else {
      r.listener->on_failure(*r.token);
    }
  }

  std::string server_uri_, client_id_;
  mqtt::callback* callback_ = nullptr;
  bool connected_ = false;
  std::optional<Request> connect_, subscribe_, disconnect_;
};

}  // namespace svd::test_support
