#pragma once
// Normalisation is part of the token contract: every site must produce the same bytes for the
// same person, or tokens stop linking. Change nothing here without a new contract version.
// Pure; any thread.

#include <optional>
#include <string>
#include <string_view>

namespace svd::crypto {

// Strips spaces and hyphens; returns the 10 digits when they pass the Modulus 11 check,
// nullopt otherwise (wrong length, a non-digit, check digit 10, or a mismatch).
std::optional<std::string> normalise_nhs_number(std::string_view raw);

// The Modulus 11 check on exactly 10 ASCII digits.
bool nhs_check_digit_ok(std::string_view ten_digits);

// Unicode NFKD, combining marks removed, upper case, only A-Z kept:
// "O'Brien-Smith" -> "OBRIENSMITH", "José" -> "JOSE". ASCII input takes a fast path that
// never touches ICU. Input must be valid UTF-8 (the readers guarantee it).
// Consequences of the contract, not special cases: letters NFKD does not decompose are dropped
// ("Øyvind" -> "YVIND", "Łukasz" -> "UKASZ"); upper case is the Unicode default full mapping
// in the root locale ("Strauß" -> "STRAUSS", never locale-dependent); non-Latin scripts
// contribute nothing ("Иван" -> "").
std::string normalise_name(std::string_view utf8);

}  // namespace svd::crypto
