#include "process/postcode.h"

namespace svd::process {
namespace {

bool alpha(char c) { return c >= 'A' && c <= 'Z'; }
bool digit(char c) { return c >= '0' && c <= '9'; }
bool in(char c, std::string_view set) { return set.find(c) != std::string_view::npos; }

// Position rules of the Royal Mail format: no Q, V or X first; no I, J or Z second; the third
// letter of A9A and the fourth of AA9A from fixed sets; no C, I, K, M, O or V in the inward code.
bool first_ok(char c) { return alpha(c) && !in(c, "QVX"); }
bool second_ok(char c) { return alpha(c) && !in(c, "IJZ"); }
bool third_a9a_ok(char c) { return in(c, "ABCDEFGHJKPSTUW"); }
bool fourth_aa9a_ok(char c) { return in(c, "ABEHMNPRVWXY"); }
bool inward_letter_ok(char c) { return alpha(c) && !in(c, "CIKMOV"); }

bool outward_ok(std::string_view o) {
  switch (o.size()) {
    case 2:  // A9
      return first_ok(o[0]) && digit(o[1]);
    case 3:  // A99, AA9, A9A
      return first_ok(o[0]) && ((digit(o[1]) && digit(o[2])) || (second_ok(o[1]) && digit(o[2])) ||
                                (digit(o[1]) && third_a9a_ok(o[2])));
    case 4:  // AA99, AA9A
      return first_ok(o[0]) && second_ok(o[1]) && digit(o[2]) && (digit(o[3]) || fourth_aa9a_ok(o[3]));
    default:
      return false;
  }
}

}  // namespace

std::optional<Postcode> parse_postcode(std::string_view raw) {
  // Compact form first: upper case, no spaces. Real postcodes are at most 7 characters.
  char compact[8];
  std::size_t n = 0;
  for (char c : raw) {
    if (c == ' ' || c == '\t') continue;
    if (n == sizeof compact) return std::nullopt;
    compact[n++] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  if (n < 5 || n > 7) return std::nullopt;
  std::string_view all(compact, n);
  std::string_view outward = all.substr(0, n - 3), inward = all.substr(n - 3);
  Postcode pc;
  pc.text.reserve(n + 1);
  pc.text.append(outward).append(1, ' ').append(inward);
  pc.outward = outward.size();
  if (pc.text == "GIR 0AA") return pc;
  if (pc.text == "ZZ99 3VZ" || pc.text == "ZZ99 3WZ") {
    pc.pseudo = true;
    return pc;
  }
  if (!outward_ok(outward) || !digit(inward[0]) || !inward_letter_ok(inward[1]) || !inward_letter_ok(inward[2]))
    return std::nullopt;
  return pc;
}

}  // namespace svd::process
