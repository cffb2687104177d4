#pragma once
// Plumbing the CSV and JSON Lines readers share: a fixed read buffer over a ByteSource, and
// the ASCII name folding used to match column names.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/byte_source.h"
#include "base/errc.h"

namespace svd::adapters::detail {

// One fixed buffer, refilled only once fully consumed, so memory stays at one chunk however
// large the extract is. Readers scan [pos, end) directly and advance pos themselves.
class ChunkInput {
 public:
  static constexpr std::size_t kChunkBytes = 64 << 10;

  explicit ChunkInput(std::unique_ptr<ByteSource> src)
      : src_(std::move(src)), buf_(kChunkBytes) {
    pos = end = buf_.data();
  }

  const char* pos;
  const char* end;

  // Makes bytes available if any remain: true when pos < end afterwards, false at the end of
  // input. Only refills when the buffer is exhausted, so callers must have used [pos, end).
  result<bool> fill() {
    if (pos != end) return true;
    if (eof_) return false;
    auto n = src_->read(std::span<char>(buf_.data(), buf_.size()));
    if (!n) return errc::io_error;
    bytes_read_ += *n;
    pos = buf_.data();
    end = pos + *n;
    if (*n == 0) eof_ = true;
    return *n != 0;
  }

  // Drops a UTF-8 byte order mark at the very start. Sources may hand out a byte at a time,
  // so the first three bytes are gathered before deciding.
  result<void> skip_bom() {
    while (!eof_ && static_cast<std::size_t>(end - pos) < 3) {
      const auto used = static_cast<std::size_t>(end - buf_.data());
      auto n = src_->read(std::span<char>(buf_.data() + used, buf_.size() - used));
      if (!n) return errc::io_error;
      bytes_read_ += *n;
      end += *n;
      if (*n == 0) eof_ = true;
    }
    if (end - pos >= 3 && static_cast<unsigned char>(pos[0]) == 0xEF &&
        static_cast<unsigned char>(pos[1]) == 0xBB && static_cast<unsigned char>(pos[2]) == 0xBF) {
      pos += 3;
    }
    return {};
  }

  std::uint64_t bytes_read() const { return bytes_read_; }

 private:
  std::unique_ptr<ByteSource> src_;
  std::vector<char> buf_;
  std::uint64_t bytes_read_ = 0;
  bool eof_ = false;
};

constexpr char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

inline std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

inline bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

}  // namespace svd::adapters::detail
