#pragma once
// UK postcodes as the `postcode` domain validator sees them (docs/feed-schemas.md, "Domains"):
// the Royal Mail's six outward shapes plus GIR 0AA, with the letter restrictions per position
// (postcode.cpp lists them), and the NHS pseudo-postcodes ZZ99 3VZ (no fixed abode) and
// ZZ99 3WZ (not known), which are accepted but flagged so a report can count them. Pure; any
// thread.

#include <optional>
#include <string>
#include <string_view>

namespace svd::process {

struct Postcode {
  std::string text;       // normalised: upper case, one space before the inward code
  std::size_t outward = 0;  // length of the outward code within text
  bool pseudo = false;    // an NHS pseudo-postcode
};

// Case and spacing are forgiven ("sw1a2aa", " SW1A  2AA "); nothing else is.
std::optional<Postcode> parse_postcode(std::string_view raw);

}  // namespace svd::process
