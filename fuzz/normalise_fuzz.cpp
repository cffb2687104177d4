// The normalisation behind every token (crypto/normalise.h): names and NHS numbers as they come
// out of the readers. A name is given as the readers would hand it over, so only valid UTF-8:
// the input itself when it is, and the input read as Windows-1252 always. Besides the
// sanitizers (ICU's NFKD and case mapping grow strings), it checks the contract's promises:
// a name comes out as A-Z only and normalising it again changes nothing; an NHS number comes out
// as ten digits that pass the check, and normalising it again gives it back.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "adapters/encoding.h"
#include "crypto/normalise.h"

namespace {

void name(std::string_view utf8) {
  const std::string n = svd::crypto::normalise_name(utf8);
  for (const char c : n)
    if (c < 'A' || c > 'Z') std::abort();
  if (svd::crypto::normalise_name(n) != n) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  if (svd::adapters::valid_utf8(in)) name(in);
  std::string from_1252;
  svd::adapters::windows_1252_to_utf8(in, from_1252);
  name(from_1252);

  if (const auto nhs = svd::crypto::normalise_nhs_number(in)) {
    if (nhs->size() != 10) std::abort();
    for (const char c : *nhs)
      if (c < '0' || c > '9') std::abort();
    if (!svd::crypto::nhs_check_digit_ok(*nhs)) std::abort();
    if (svd::crypto::normalise_nhs_number(*nhs) != nhs) std::abort();
  }
  return 0;
}
