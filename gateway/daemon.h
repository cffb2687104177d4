#pragma once
// `svdgw run`: the gateway daemon (DESIGN 2, 4; docs/daemon.md).
//
// Threads, each owning what it touches so that no SQLite handle is ever shared:
//   - the network thread (the caller's) runs one io_context for all network I/O: the HTTPS
//     upload API, the local operations port, signals, the schedule timer and the watchdog;
//   - the store thread owns the extract store and the spool (accepting uploads, scans, status
//     reads, retention, the storage figure for the quota);
//   - the outbox thread owns the outbox and the forwarder's strand (Paho does its own network
//     I/O on its own threads and only posts there);
//   - the worker thread processes one extract at a time (run_pipeline, which has its own pool),
//     writing its batches through the outbox thread, so the outbox keeps a single writer.
//
// Lifecycle: READY once the stores, the TLS context and the listeners are up; SIGTERM or
// SIGINT drains (stop accepting, answer requests in progress, abandon the extract being
// processed: it is processed again at the next start, with the same batch ids; stop the
// forwarder cleanly) and returns 0; SIGHUP reloads the config and the TLS certificates (a bad
// new config or certificate is refused and the old one kept). Renewed certificate files are also
// picked up without a signal, every [gateway] credentials_check_seconds
// (gateway/certificate_renewal.h).

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
