#include "base/hex.h"

namespace svd {

namespace {

int nibble(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; }

bool decode(std::string_view text, unsigned char* out) {
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
    const int hi = nibble(text[i]), lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i / 2] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

}  // namespace

void hex_into(const unsigned char* data, std::size_t size, char* out) {
  static constexpr char kHexDigits[] = "0123456789abcdef";
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = kHexDigits[data[i] >> 4];
    out[2 * i + 1] = kHexDigits[data[i] & 0x0f];
  }
}

std::string to_hex(std::span<const unsigned char> bytes) {
  std::string out(bytes.size() * 2, '\0');
  hex_into(bytes.data(), bytes.size(), out.data());
  return out;
}

bool is_lower_hex(std::string_view s, std::size_t digits) {
  if (s.size() != digits) return false;
  for (const char c : s)
    if (nibble(c) < 0) return false;
  return true;
}

bool from_hex(std::string_view text, std::vector<unsigned char>& out) {
  if (text.size() % 2 != 0) return false;
  out.resize(text.size() / 2);
  return decode(text, out.data());
}

bool from_hex(std::string_view text, std::span<unsigned char> out) {
  return text.size() == 2 * out.size() && decode(text, out.data());
}

}  // namespace svd
