#include "transport/mqtt.h"

#include <openssl/crypto.h>

namespace svd::transport {

namespace {

// Paho's send and receive threads may still be unwinding when main returns: they are marked
// stopped before their thread-local OpenSSL state is released. OpenSSL's exit handler would then
// free that state under them (a double free seen at svdhub shutdown), so any program that talks
// MQTT leaves OpenSSL's global state to the process exit instead. This runs before main, ahead of
// any other OpenSSL call, which is the only time the option takes effect.
const bool openssl_without_exit_handler = [] {
  return OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr) == 1;
}();

}  // namespace

std::string broker_uri(const config::MqttEndpoint& endpoint) {
  if (endpoint.transport == config::MqttEndpoint::Transport::wss)
    return "wss://" + endpoint.host + ":" + std::to_string(endpoint.port) + endpoint.ws_path;
  return "ssl://" + endpoint.host + ":" + std::to_string(endpoint.port);
}

std::unique_ptr<mqtt::async_client> make_client(const config::MqttEndpoint& endpoint, const std::string& client_id) {
  const int version = endpoint.mqtt_version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
  return std::make_unique<mqtt::async_client>(broker_uri(endpoint), client_id, mqtt::create_options(version),
                                              static_cast<mqtt::iclient_persistence*>(nullptr));
}

std::unique_ptr<mqtt::iasync_client> make_iasync_client(const config::MqttEndpoint& endpoint,
                                                        const std::string& client_id) {
  return make_client(endpoint, client_id);
}

mqtt::connect_options make_connect_options(const config::MqttEndpoint& endpoint) {
  mqtt::ssl_options_builder ssl;
  ssl.trust_store(endpoint.ca.string())
      .key_store(endpoint.cert.string())
      .private_key(endpoint.key.string())
      .enable_server_cert_auth(true)
      .verify(true);
  mqtt::connect_options_builder b;
  if (endpoint.mqtt_version == 5) {
    // Paho C refuses cleansession with v5; clean start is its counterpart.
    b.mqtt_version(MQTTVERSION_5).clean_session(false).clean_start(false);
  } else {
    b.mqtt_version(MQTTVERSION_3_1_1).clean_session(false);
  }
  b.connect_timeout(std::chrono::seconds(10))
      .keep_alive_interval(std::chrono::seconds(endpoint.keepalive_seconds))
      .automatic_reconnect(false)
      .ssl(ssl.finalize());
  mqtt::connect_options options = b.finalize();
  // Paho tunnels a wss connection through an "HTTPS proxy" with CONNECT and then starts TLS with
  // the broker inside the tunnel (its "HTTP proxy" is for plain ws only).
  if (endpoint.transport == config::MqttEndpoint::Transport::wss && !endpoint.proxy.empty())
    options.set_https_proxy(endpoint.proxy);
  return options;
}

}  // namespace svd::transport
