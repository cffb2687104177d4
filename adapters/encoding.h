#pragma once
// Text encodings a feed may declare, and the checks every cell goes through.
// Pure; any thread.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace svd::adapters {

enum class Encoding { utf8, windows_1252 };

// "utf-8"/"utf8" and "windows-1252"/"cp1252" (case-insensitive); nullopt otherwise.
std::optional<Encoding> parse_encoding(std::string_view name);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view s);

// Appends the UTF-8 form of Windows-1252 bytes to `out`. The five code points Windows-1252
// leaves undefined (0x81 0x8D 0x8F 0x90 0x9D) map to U+FFFD rather than failing: they never
// occur in text a partner meant to send, and a replacement keeps the row's other cells.
void windows_1252_to_utf8(std::string_view in, std::string& out);

}  // namespace svd::adapters
