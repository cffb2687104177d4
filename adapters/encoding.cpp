#include "adapters/encoding.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace svd::adapters {
namespace {

constexpr char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

// Nearly every cell is plain ASCII; testing eight bytes per step keeps validation and
// transcoding off the per-byte path for them.
constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;

std::size_t ascii_prefix(const unsigned char* p, std::size_t n) {
  std::size_t i = 0;
  while (i + 8 <= n) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    if ((w & kHighBits) != 0) break;
    i += 8;
  }
  while (i < n && p[i] < 0x80) ++i;
  return i;
}

// Code points for bytes 0x80..0xFF. Only 0x80..0x9F differ from Latin-1; the holes
// Windows-1252 leaves undefined become U+FFFD (see the header for why not an error).
constexpr std::array<char16_t, 128> make_cp1252_table() {
  constexpr char16_t c1[32] = {
      0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,  // 80..87
      0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,  // 88..8F
      0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,  // 90..97
      0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,  // 98..9F
  };
  std::array<char16_t, 128> t{};
  for (std::size_t i = 0; i < 32; ++i) t[i] = c1[i];
  for (std::size_t i = 32; i < 128; ++i) t[i] = static_cast<char16_t>(0x80 + i);
  return t;
}

constexpr std::array<char16_t, 128> kCp1252 = make_cp1252_table();

}  // namespace

std::optional<Encoding> parse_encoding(std::string_view name) {
  if (iequals(name, "utf-8") || iequals(name, "utf8")) return Encoding::utf8;
  if (iequals(name, "windows-1252") || iequals(name, "cp1252")) return Encoding::windows_1252;
  return std::nullopt;
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    i += ascii_prefix(p + i, n - i);
    if (i >= n) break;
    const unsigned char c = p[i];
    // Ranges from Unicode Table 3-7: the second byte's range is what excludes overlongs
    // (E0, F0), surrogates (ED) and code points past U+10FFFF (F4).
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;  // stray continuation byte, C0/C1 overlong lead, or F5..FF
    }
    if (n - i < len) return false;
    if (p[i + 1] < lo || p[i + 1] > hi) return false;
    for (std::size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return false;
    }
    i += len;
  }
  return true;
}

void windows_1252_to_utf8(std::string_view in, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  std::size_t i = 0;
  while (i < n) {
    const std::size_t run = ascii_prefix(p + i, n - i);
    out.append(in.data() + i, run);
    i += run;
    if (i >= n) break;
    const char16_t cp = kCp1252[p[i] - 0x80u];
    if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    ++i;
  }
}

}  // namespace svd::adapters
