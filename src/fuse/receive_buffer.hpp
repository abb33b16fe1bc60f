// ReceiveBuffer: where a worker reads requests from /dev/fuse, laid out so
// that a WRITE's payload lands page-aligned.
//
// A FUSE WRITE arrives as fuse_in_header + fuse_write_in + payload in one
// read(2).  Starting the read 80 bytes before a page boundary puts the
// payload on that boundary, so an O_DIRECT path can pwrite it as it is —
// without it every write costs a copy into an aligned bounce buffer.
#pragma once

#include <linux/fuse.h>

#include <cstddef>

#include "core/aligned_buffer.hpp"
#include "core/path_io.hpp"

namespace mpathfs::fuse {

class ReceiveBuffer {
 public:
  // Where a WRITE's payload starts in a request.
  static constexpr size_t kWritePayloadOffset = sizeof(fuse_in_header) + sizeof(fuse_write_in);
  static_assert(kWritePayloadOffset < kMaxAlign);

  // max_request: libfuse's receive size (its largest: 256 pages + one page
  // for headers).
  explicit ReceiveBuffer(size_t max_request)
      : buf_(max_request + 2 * size_t{kMaxAlign}, kMaxAlign) {}

  // The start of the read: kWritePayloadOffset before an aligned boundary.
  char* mem() const { return reinterpret_cast<char*>(buf_.data()) + kMaxAlign - kWritePayloadOffset; }
  size_t capacity() const { return buf_.size() - (kMaxAlign - kWritePayloadOffset); }

 private:
  AlignedBuffer buf_;
};

}  // namespace mpathfs::fuse
