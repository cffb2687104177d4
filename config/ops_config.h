#pragma once
// [ops] of both configs: where the local operations port (/healthz, /metrics; ops/ops_server.h)
// listens. Plain HTTP, so an address on the host or a management network, never a public one.

#include <string>

namespace svd::config {

struct OpsConfig {
  std::string listen = "127.0.0.1";  // an IP literal: a host name would make it depend on DNS
  int port = 9464;                   // 0: off
};

}  // namespace svd::config
