#include "ingest/http_request.h"

#include <algorithm>
#include <utility>
#include <vector>

#include <boost/beast/core/string.hpp>
#include <boost/url/parse.hpp>

#include "base/base64.h"
#include "base/identity.h"

namespace svd::ingest {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {
constexpr std::size_t kMaxSegments = 8;  // more than any route has
}  // namespace

// ---- path and names -----------------------------------------------------------------------------

std::string Route::pattern() const {
  const std::string feed_text = valid_identity(feed) ? feed : "<invalid>";
  switch (kind) {
    case RouteKind::extract_upload: return "/v1/feeds/" + feed_text + "/extracts/<name>";
    case RouteKind::nothing_upload: return "/v1/feeds/" + feed_text + "/nothing-to-share/<name>";
    case RouteKind::status: return "/v1/extracts/<id>";
    case RouteKind::health: return "/healthz";
    case RouteKind::unknown: break;
  }
  return "<other>";
}

http::verb Route::method() const {
  return kind == RouteKind::extract_upload || kind == RouteKind::nothing_upload ? http::verb::put : http::verb::get;
}

Route parse_route(std::string_view target) {
  Route r;
  const auto url = boost::urls::parse_origin_form(target);
  if (!url) {
    r.problem = protocol::Problem::bad_request;
    return r;
  }
  std::vector<std::string> segs;
  for (std::string seg : url->segments()) {  // percent-decoded
    if (segs.size() == kMaxSegments) return r;  // longer than any route: 404
    // Decoding first means "%2F", "%2E%2E" and friends are judged by what they stand for.
    if (seg == "." || seg == ".." || seg.find_first_of(std::string_view("/\\\0", 3)) != std::string::npos) {
      r.problem = protocol::Problem::invalid_path;
      return r;
    }
    segs.push_back(std::move(seg));
  }
  if (segs.size() == 5 && segs[0] == "v1" && segs[1] == "feeds" &&
      (segs[3] == "extracts" || segs[3] == "nothing-to-share")) {
    r.kind = segs[3] == "extracts" ? RouteKind::extract_upload : RouteKind::nothing_upload;
    r.feed = std::move(segs[2]);
    r.name = std::move(segs[4]);
  } else if (segs.size() == 3 && segs[0] == "v1" && segs[1] == "extracts") {
    r.kind = RouteKind::status;
    r.id = std::move(segs[2]);
  } else if (segs.size() == 1 && segs[0] == "healthz") {
    r.kind = RouteKind::health;
  }
  return r;
}

// ---- Content-Digest (RFC 9530: an RFC 8941 dictionary) -------------------------------------------

namespace {

// Just enough of RFC 8941 to find one member of a dictionary and to reject what does not parse.
class SfDictionary {
 public:
  struct Member {
    std::string key;
    std::optional<std::string> bytes;  // set when the value is a byte sequence
  };

  static std::optional<std::vector<Member>> parse(std::string_view s) {
    SfDictionary p(s);
    std::vector<Member> members;
    p.skip_sp();
    if (p.at_end()) return members;
    for (;;) {
      Member m;
      if (!p.key(m.key)) return std::nullopt;
      if (p.peek('=')) {
        ++p.i_;
        if (p.peek('(')) {
          if (!p.inner_list()) return std::nullopt;
        } else if (!p.bare_item(&m.bytes) || !p.parameters()) {
          return std::nullopt;
        }
      } else if (!p.parameters()) {
        return std::nullopt;
      }
      if (members.size() == kMaxMembers) return std::nullopt;
      members.push_back(std::move(m));
      p.skip_ows();
      if (p.at_end()) return members;
      if (!p.peek(',')) return std::nullopt;
      ++p.i_;
      p.skip_ows();
      if (p.at_end()) return std::nullopt;
    }
  }

 private:
  static constexpr std::size_t kMaxMembers = 32;
  explicit SfDictionary(std::string_view s) : s_(s) {}

  bool at_end() const { return i_ >= s_.size(); }
  bool peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
  void skip_sp() {
    while (peek(' ')) ++i_;
  }
  void skip_ows() {
    while (peek(' ') || peek('\t')) ++i_;
  }
  static bool lcalpha(char c) { return c >= 'a' && c <= 'z'; }
  static bool alpha(char c) { return lcalpha(c) || (c >= 'A' && c <= 'Z'); }
  static bool digit(char c) { return c >= '0' && c <= '9'; }
  static bool tchar(char c) {
    return alpha(c) || digit(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  }

  bool key(std::string& out) {
    if (at_end() || !(lcalpha(s_[i_]) || s_[i_] == '*')) return false;
    const std::size_t start = i_;
    while (!at_end() && (lcalpha(s_[i_]) || digit(s_[i_]) || s_[i_] == '_' || s_[i_] == '-' || s_[i_] == '.' ||
                         s_[i_] == '*'))
      ++i_;
    out.assign(s_.substr(start, i_ - start));
    return true;
  }

  bool parameters() {
    while (peek(';')) {
      ++i_;
      skip_sp();
      std::string k;
      if (!key(k)) return false;
      if (peek('=')) {
        ++i_;
        if (!bare_item(nullptr)) return false;
      }
    }
    return true;
  }

  bool inner_list() {
    ++i_;  // '('
    for (;;) {
      skip_sp();
      if (peek(')')) {
        ++i_;
        return parameters();
      }
      if (!bare_item(nullptr) || !parameters()) return false;
      if (!peek(' ') && !peek(')')) return false;
    }
  }

  bool bare_item(std::optional<std::string>* bytes) {
    if (at_end()) return false;
    const char c = s_[i_];
    if (c == '-' || digit(c)) return number();
    if (c == '"') return string();
    if (c == '*' || alpha(c)) {
      ++i_;
      while (!at_end() && (tchar(s_[i_]) || s_[i_] == ':' || s_[i_] == '/')) ++i_;
      return true;
    }
    if (c == ':') {
      const std::size_t end = s_.find(':', i_ + 1);
      if (end == std::string_view::npos) return false;
      auto decoded = base64_decode(s_.substr(i_ + 1, end - i_ - 1));
      if (!decoded) return false;
      i_ = end + 1;
      if (bytes) *bytes = std::move(*decoded);
      return true;
    }
    if (c == '?') {
      if (i_ + 1 >= s_.size() || (s_[i_ + 1] != '0' && s_[i_ + 1] != '1')) return false;
      i_ += 2;
      return true;
    }
    return false;
  }

  bool number() {
    if (peek('-')) ++i_;
    std::size_t digits = 0;
    while (!at_end() && digit(s_[i_])) {
      ++i_;
      ++digits;
    }
    if (digits == 0 || digits > 15) return false;
    if (peek('.')) {
      if (digits > 12) return false;
      ++i_;
      std::size_t frac = 0;
      while (!at_end() && digit(s_[i_])) {
        ++i_;
        ++frac;
      }
      if (frac == 0 || frac > 3) return false;
    }
    return true;
  }

  bool string() {
    ++i_;  // '"'
    while (!at_end()) {
      const char c = s_[i_++];
      if (c == '"') return true;
      if (c == '\\') {
        if (at_end() || (s_[i_] != '"' && s_[i_] != '\\')) return false;
        ++i_;
      } else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) {
        return false;
      }
    }
    return false;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace

DigestHeader content_digest(const http::fields& fields, std::array<unsigned char, 32>& sha256) {
  std::string joined;  // several field lines are one comma-separated list (RFC 9110 5.3)
  bool present = false;
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    if (!beast::iequals(it->name_string(), "Content-Digest")) continue;
    if (present) joined += ", ";
    joined.append(it->value().data(), it->value().size());
    present = true;
  }
  if (!present) return DigestHeader::absent;
  const auto members = SfDictionary::parse(joined);
  if (!members) return DigestHeader::malformed;
  const SfDictionary::Member* found = nullptr;
  for (const auto& m : *members)
    if (m.key == "sha-256") found = &m;  // the last one wins, as in any RFC 8941 dictionary
  if (found == nullptr) return DigestHeader::absent;
  if (!found->bytes || found->bytes->size() != sha256.size()) return DigestHeader::malformed;
  std::copy(found->bytes->begin(), found->bytes->end(), sha256.begin());
  return DigestHeader::sha256;
}

}  // namespace svd::ingest
