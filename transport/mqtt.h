#pragma once
// How svdgw and svdhub connect to the hub broker with Eclipse Paho MQTT C++ (docs/architecture.md,
// "Mutual TLS on both sides"):
// mutual TLS with the broker's CA pinned (trust_store: no system CAs) and its host name verified
// (verify(true): Paho C does not check it otherwise), client id = the certificate's CN,
// persistence NONE (durable state lives in our own SQLite stores), no Paho auto-reconnect (the
// caller reconnects with backoff and then re-sends from its store), and the MQTT version set in
// both the create and the connect options (v5 needs both). Never ca_path() or an SSL error
// handler: both are broken by copies in Paho C++ 1.2.

#include <memory>
#include <string>

#include <mqtt/async_client.h>
#include <mqtt/iasync_client.h>

#include "config/mqtt_endpoint.h"

namespace svd::transport {

// "ssl://host:port"
std::string broker_uri(const config::MqttEndpoint& endpoint);

std::unique_ptr<mqtt::async_client> make_client(const config::MqttEndpoint& endpoint, const std::string& client_id);

// The same client, handed out as Paho's interface: what the forwarder holds, so that a unit test
// can put a fake in its place (tests/support/fake_mqtt_client.h). svdhub's receiver keeps
// make_client: it consumes messages through async_client's queue, which the interface lacks.
std::unique_ptr<mqtt::iasync_client> make_iasync_client(const config::MqttEndpoint& endpoint,
                                                        const std::string& client_id);

// A persistent session (clean_session false / clean_start false for v5), so QoS 1 messages
// for this client wait at the broker while it is away.
mqtt::connect_options make_connect_options(const config::MqttEndpoint& endpoint);

}  // namespace svd::transport
