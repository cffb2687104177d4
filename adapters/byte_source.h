#pragma once
// Where extract bytes come from. A seam so tests can feed input in chunks of any size
// (including one byte at a time) and inject read failures.
// Thread-safety: none; one source belongs to one reader. Read failures are io_error.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>

#include "base/errc.h"

namespace svd::adapters {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Fills up to buf.size() bytes; returns the count, 0 only at end of input.
  virtual result<std::size_t> read(std::span<char> buf) = 0;
};

// Reads a file sequentially (posix read, no mmap so memory stays bounded). A symbolic link is
// not followed: an extract is a file of its own, never a pointer to another one. Opening failure
// (a link included) is errc::io_error.
result<std::unique_ptr<ByteSource>> open_file_source(const std::filesystem::path& path);

// Reads from memory; `data` must outlive the source. For tests and small inputs.
std::unique_ptr<ByteSource> memory_source(std::string_view data);

}  // namespace svd::adapters
