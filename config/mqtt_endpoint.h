#pragma once
// Where an MQTT client connects and with which credentials: the gateway's [hub] and svdhub's
// [broker] sections share this shape and its checks.

#include <filesystem>
#include <string>

namespace svd::config {

struct MqttEndpoint {
  std::string host;  // the name in the broker's certificate (it is verified)
  int port = 8883;
  std::filesystem::path ca;    // the broker's CA, pinned: the system CAs are not used
  std::filesystem::path cert;  // this client's certificate; its CN is the client's identity
  std::filesystem::path key;
  int mqtt_version = 4;  // 4 = MQTT 3.1.1 (every broker speaks it), 5 = MQTT 5
  int keepalive_seconds = 30;
  // MQTT over TLS (port 8883), or over secure WebSockets (wss, usually port 443), which is what a
  // site that lets out only HTTPS, often only through a proxy, can reach. TLS, and the client's
  // certificate, end at the broker either way.
  enum class Transport { tls, wss };
  Transport transport = Transport::tls;
  std::string ws_path = "/mqtt";  // wss: the broker's WebSocket path
  // wss: an HTTP proxy ("host:port") that the connection goes through with CONNECT: it carries
  // the TLS bytes and sees only the broker's name and port. "" = straight to the broker.
  std::string proxy;
};

}  // namespace svd::config
