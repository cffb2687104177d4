#include "adapters/table_reader.h"

namespace svd::adapters {

// clear()/assign() keep capacity, so once the first few records have sized the buffers a
// reader's steady state allocates nothing here.
void Record::reset(std::size_t n) {
  row = 0;
  error = errc::ok;
  error_column = npos;
  text_.clear();
  begin_.assign(n, 0);
  end_.assign(n, 0);
  present_.assign(n, false);
}

void Record::set(std::size_t i, std::string_view value) {
  const std::size_t b = text_.size();
  text_.append(value);
  begin_[i] = b;
  end_[i] = text_.size();
  present_[i] = true;
}

}  // namespace svd::adapters
