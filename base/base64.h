#pragma once
// Standard base64 (RFC 4648 section 4, '+' and '/'), over OpenSSL's EVP_EncodeBlock and
// EVP_DecodeBlock: for Content-Digest headers (RFC 9530). Pure functions; any thread.

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace svd {

// Padded with '=' to a multiple of four characters.
std::string base64_encode(std::span<const unsigned char> bytes);

// The bytes, or nothing when `text` holds anything but the alphabet, or its padding is wrong.
// Padding may be left out ("AB" reads as "AB=="), as RFC 8941 byte sequences allow.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace svd
