#pragma once
// Text a peer sent (a batch id, a topic, a version string), fit to be one field of a log line. A
// newline in it would let the peer write log lines of its own, an escape sequence would act on
// the terminal reading the log, and journald keeps a message that is not UTF-8 as a blob; its
// length is the peer's to choose. Pure; any thread.

#include <cstddef>
#include <string>
#include <string_view>

namespace svd {

// Enough for any id of ours (64 characters at most) with room to spare.
inline constexpr std::size_t kLogSafeBytes = 128;

// Printable ASCII as it is, but a backslash doubled (so that what the peer spelt "\n" still reads
// apart from a newline); newline, carriage return and tab as \n, \r and \t; every other byte
// (control characters, DEL, anything not ASCII) as \xhh. At most `max_bytes` of that, never half
// an escape, then "…" (U+2026) when something was left out: as every byte above 0x7e is escaped,
// a "…" in the result can only be that mark.
std::string log_safe(std::string_view text, std::size_t max_bytes = kLogSafeBytes);

}  // namespace svd
