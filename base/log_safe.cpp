#include "base/log_safe.h"

#include <algorithm>

#include "base/hex.h"

namespace svd {

std::string log_safe(std::string_view text, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 3);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    char buf[4] = {'\\', 0, 0, 0};
    std::size_t n = 2;
    switch (c) {
      case '\\': buf[1] = '\\'; break;
      case '\n': buf[1] = 'n'; break;
      case '\r': buf[1] = 'r'; break;
      case '\t': buf[1] = 't'; break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          buf[0] = static_cast<char>(c);
          n = 1;
        } else {
          buf[1] = 'x';
          hex_into(&c, 1, buf + 2);
          n = 4;
        }
    }
    if (out.size() + n > max_bytes) {
      out += "\u2026";
      break;
    }
    out.append(buf, n);
  }
  return out;
}

}  // namespace svd
