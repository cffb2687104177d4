#pragma once
// What `svdgw run` and `svdhub run` need from their service manager (systemd) and its log:
// sd_notify(3) messages (READY, RELOADING, STOPPING, WATCHDOG, STATUS) and one log line per event
// on stderr. Here in the base library so that svdhub does not link the gateway's. Under
// systemd, stderr goes to the journal: lines carry the sd-daemon(3) priority prefix ("<6>"),
// and the journal adds the time; anywhere else they start with the UTC time and the level.
// Nothing here knows what a line says: callers never put a raw identifier or a file name in it.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace svd::service {

enum class Level { error = 3, warning = 4, notice = 5, info = 6 };

// One line to stderr in a single write(2), so lines from several threads never interleave.
void log(Level level, std::string_view message);

// sd_notify(0, state); does nothing when not started by systemd (no NOTIFY_SOCKET).
void notify(const std::string& state);

// Half the watchdog timeout systemd asked for (WATCHDOG_USEC), if it asked: how often to ping.
std::optional<std::chrono::microseconds> watchdog_interval();

}  // namespace svd::service
