// AlignedBuffer: a heap buffer aligned for O_DIRECT, made once and reused
// (each I/O worker owns one), so the hot path never allocates.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <utility>

namespace mpathfs {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(size_t size, size_t align) {
    void* p = nullptr;
    if (posix_memalign(&p, align, size) != 0) throw std::bad_alloc();
    data_ = static_cast<std::byte*>(p);
    size_ = size;
  }
  ~AlignedBuffer() { std::free(data_); }
  AlignedBuffer(AlignedBuffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return data_ == nullptr; }

 private:
  std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace mpathfs
