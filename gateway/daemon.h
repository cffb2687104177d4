#pragma once
// `svdgw run`: the gateway daemon. run_daemon() loads the config and keys, then a composition
// root opens the stores and wires the components (gateway/upload_backend.h, spool_intake.h,
// extract_worker.h, schedule_watch.h, housekeeping.h, certificate_renewal.h; deliver/forwarder.h;
// audit/keeper.h) onto their threads: docs/architecture.md ("Threads") says which thread owns
// what, docs/daemon.md what an operator sees. SIGTERM or SIGINT drains and returns 0; SIGHUP
// reloads the config and the TLS certificates, keeping the old ones if the new do not load.

#include <filesystem>
#include <string>

namespace svd::gateway {

struct DaemonOptions {
  std::filesystem::path config_file;
  std::string version;
};

// Runs until SIGTERM or SIGINT. Returns the process's exit status: 0 after a clean stop, 1 when
// it cannot start (every reason logged).
int run_daemon(const DaemonOptions& options);

}  // namespace svd::gateway
