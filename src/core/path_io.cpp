#include "core/path_io.hpp"

#include <algorithm>

namespace mpathfs {

// The directio checker of multipath-tools: read the first block.  A path
// whose size is below one block (a tiny test file) reads what it has.
int PathIo::probe(void* scratch) noexcept {
  size_t len = std::max<size_t>(align(), 512);
  if (len > size()) len = static_cast<size_t>(size());
  const ssize_t n = pread(scratch, len, 0);
  return n < 0 ? static_cast<int>(n) : 0;
}

}  // namespace mpathfs
