#pragma once
// `svdgw audit snapshot`: a consistent copy of the live audit log for auditors who may not read
// the gateway's state directory. SQLite's online backup (one read transaction, so the daemon
// keeps writing), in rollback-journal mode so that a reader without write access to the copy's
// folder can open it (a WAL database needs its -shm file), written as OUT.part, flushed and
// renamed into place, mode 0640: the group of OUT's folder (svdaudit in the package, whose
// folder is set-group-id) reads it with `svdgw audit report --log`, `export --log`.
// Then the copy's chain is checked.
//
// Exit status: 0 written and its chain verifies, 3 written but the chain does not verify, 1 the
// config, the log or the output cannot be read or written, 2 bad arguments.

#include <filesystem>
#include <optional>

namespace svd::audit {

struct AuditSnapshotArgs {
  std::filesystem::path config;               // or empty, with `log`
  std::optional<std::filesystem::path> log;   // default: <state_dir>/audit.db
  std::filesystem::path out;
};

int audit_snapshot_main(const AuditSnapshotArgs& args);

}  // namespace svd::audit
