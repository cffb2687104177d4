#pragma once
// Lowercase hex, the one spelling the project writes and accepts for digests, tokens, keys and
// signatures: hashes are compared as text, so one value must have one spelling. Pure functions;
// any thread.

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace svd {

// Writes 2 * size lowercase hex digits to out (no terminator): for callers that build a larger
// string in place (tokens).
void hex_into(const unsigned char* data, std::size_t size, char* out);
std::string to_hex(std::span<const unsigned char> bytes);

// True when s is exactly `digits` lowercase hex digits.
bool is_lower_hex(std::string_view s, std::size_t digits);

// Lowercase hex of any even length into bytes; false (out unspecified) on anything else.
bool from_hex(std::string_view text, std::vector<unsigned char>& out);
// Exactly 2 * out.size() lowercase hex digits into out; false (out unspecified) otherwise.
bool from_hex(std::string_view text, std::span<unsigned char> out);
template <std::size_t N>
bool from_hex(std::string_view text, std::array<unsigned char, N>& out) {
  return from_hex(text, std::span<unsigned char>(out));
}

}  // namespace svd
