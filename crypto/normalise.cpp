#include "crypto/normalise.h"

#include "crypto/detail/fatal.h"

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf16.h>
#include <unicode/utypes.h>

namespace svd::crypto {
using detail::die;

namespace {

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
constexpr bool is_lower(char c) { return c >= 'a' && c <= 'z'; }

bool is_ascii(std::string_view s) {
  for (const char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// The process-wide NFKD instance: ICU owns it, it is immutable and safe to share across
// threads. Failing to get it means the ICU data is missing, a broken installation.
const icu::Normalizer2& nfkd() {
  static const icu::Normalizer2* const instance = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFKDInstance(status);
    if (U_FAILURE(status) || n == nullptr) die("ICU cannot provide NFKD normalisation data");
    return n;
  }();
  return *instance;
}

std::string normalise_name_icu(std::string_view utf8) {
  // ICU string lengths are int32_t. Readers bound a cell far below this; a name this long is a
  // caller bug, not data.
  if (utf8.size() > static_cast<std::size_t>(INT32_MAX)) die("name longer than ICU can handle");
  // Valid UTF-8 converts without error (ill-formed sequences would become U+FFFD, which the
  // A-Z filter drops); a bogus string here can only mean an allocation failure.
  const icu::UnicodeString source =
      icu::UnicodeString::fromUTF8(icu::StringPiece(utf8.data(), static_cast<int32_t>(utf8.size())));
  if (source.isBogus()) die("ICU could not convert a name (out of memory)");

  // 1. Compatibility decomposition: "é" -> "e" + U+0301, "ﬁ" -> "fi", "Ａ" -> "A".
  UErrorCode status = U_ZERO_ERROR;
  const icu::UnicodeString decomposed = nfkd().normalize(source, status);
  if (U_FAILURE(status) || decomposed.isBogus()) die("ICU NFKD normalisation failed (out of memory)");

  // 2. Drop combining marks (general category Mn).
  icu::UnicodeString unmarked;
  const int32_t length = decomposed.length();
  for (int32_t i = 0; i < length;) {
    const UChar32 c = decomposed.char32At(i);
    i += U16_LENGTH(c);
    if (u_charType(c) != U_NON_SPACING_MARK) unmarked.append(c);
  }
  if (unmarked.isBogus()) die("ICU could not build a name (out of memory)");

  // 3. Upper case: Unicode default full case mapping with the root locale, never the process
  //    locale (a Turkish locale must not change tokens). Full mapping: "ß" -> "SS".
  unmarked.toUpper(icu::Locale::getRoot());
  if (unmarked.isBogus()) die("ICU upper-casing failed (out of memory)");

  // 4. Keep only A-Z. Those are single UTF-16 code units, never part of a surrogate pair.
  std::string out;
  out.reserve(static_cast<std::size_t>(unmarked.length()));
  const int32_t upper_length = unmarked.length();
  for (int32_t i = 0; i < upper_length; ++i) {
    const char16_t u = unmarked.charAt(i);
    if (u >= u'A' && u <= u'Z') out.push_back(static_cast<char>(u));
  }
  return out;
}

}  // namespace

bool nhs_check_digit_ok(std::string_view ten_digits) {
  if (ten_digits.size() != 10) return false;
  int sum = 0;
  for (std::size_t i = 0; i < 10; ++i) {
    if (!is_digit(ten_digits[i])) return false;
    if (i < 9) sum += (ten_digits[i] - '0') * static_cast<int>(10 - i);
  }
  int check = 11 - sum % 11;
  if (check == 11) check = 0;
  if (check == 10) return false;  // no valid NHS number has this check digit
  return check == ten_digits[9] - '0';
}

std::optional<std::string> normalise_nhs_number(std::string_view raw) {
  // Spaces and hyphens only are separators; anything else that is not a digit fails the check.
  char digits[10];
  std::size_t n = 0;
  for (const char c : raw) {
    if (c == ' ' || c == '-') continue;
    if (n == sizeof digits) return std::nullopt;  // more than 10 characters remain
    digits[n++] = c;
  }
  const std::string_view candidate(digits, n);
  if (!nhs_check_digit_ok(candidate)) return std::nullopt;
  return std::string(candidate);
}

std::string normalise_name(std::string_view utf8) {
  if (!is_ascii(utf8)) return normalise_name_icu(utf8);
  // ASCII is already NFKD and has no combining marks: upper-case letters, drop the rest.
  std::string out;
  out.reserve(utf8.size());
  for (const char c : utf8) {
    if (is_upper(c)) {
      out.push_back(c);
    } else if (is_lower(c)) {
      out.push_back(static_cast<char>(c - 'a' + 'A'));
    }
  }
  return out;
}

}  // namespace svd::crypto
