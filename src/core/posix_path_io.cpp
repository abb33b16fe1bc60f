// The POSIX implementation of PathIo: one fd per path, O_DIRECT where the
// object supports it, with a clean fallback where it does not.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "core/path_io.hpp"

namespace mpathfs {
namespace {

class PosixPathIo final : public PathIo {
 public:
  PosixPathIo(int fd, PathKind kind, bool direct, uint32_t sector, uint32_t align, uint64_t size, dev_t rdev)
      : fd_(fd), kind_(kind), direct_(direct), sector_(sector), align_(align), size_(size), rdev_(rdev) {}
  ~PosixPathIo() override {
    if (fd_ >= 0) ::close(fd_);
  }
  PosixPathIo(const PosixPathIo&) = delete;
  PosixPathIo& operator=(const PosixPathIo&) = delete;

  ssize_t pread(void* buf, size_t len, uint64_t off) noexcept override {
    // Loop over short transfers and EINTR; stop at EOF.
    size_t done = 0;
    while (done < len) {
      ssize_t n = ::pread(fd_, static_cast<char*>(buf) + done, len - done, off + done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return -errno;
      }
      if (n == 0) break;
      done += n;
    }
    return static_cast<ssize_t>(done);
  }

  ssize_t pwrite(const void* buf, size_t len, uint64_t off) noexcept override {
    size_t done = 0;
    while (done < len) {
      ssize_t n = ::pwrite(fd_, static_cast<const char*>(buf) + done, len - done, off + done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return -errno;
      }
      if (n == 0) return -EIO;  // a device that accepts nothing is broken
      done += n;
    }
    return static_cast<ssize_t>(done);
  }

  int fdatasync() noexcept override {
    if (::fdatasync(fd_) == 0) return 0;
    // EINVAL: the object has no sync (some character-like files); nothing to flush.
    return errno == EINVAL ? 0 : -errno;
  }

  int refresh_size() noexcept override {
    uint64_t sz = 0;
    if (int e = current_size(sz); e < 0) return e;
    size_ = sz;
    return 0;
  }

  int current_size(uint64_t& out) const noexcept override {
    if (kind_ == PathKind::kBlockDevice) {
      if (::ioctl(fd_, BLKGETSIZE64, &out) != 0) return -errno;
    } else {
      struct stat st{};
      if (::fstat(fd_, &st) != 0) return -errno;
      out = static_cast<uint64_t>(st.st_size);
    }
    return 0;
  }

  uint64_t size() const noexcept override { return size_; }
  uint32_t sector_size() const noexcept override { return sector_; }
  uint32_t align() const noexcept override { return direct_ ? align_ : 1; }
  bool direct() const noexcept override { return direct_; }
  PathKind kind() const noexcept override { return kind_; }
  dev_t block_device() const noexcept override { return rdev_; }

 private:
  int fd_;
  PathKind kind_;
  bool direct_;
  uint32_t sector_;
  uint32_t align_;
  uint64_t size_;
  dev_t rdev_;  // 0 unless a block device
};

// Direct-I/O offset alignment of a regular file, from statx(STATX_DIOALIGN)
// (Linux 6.1).  0: the file system said it has no direct I/O.  Unknown: 4096,
// which every file system that does direct I/O accepts.
uint32_t file_dio_align(int fd) {
#ifdef STATX_DIOALIGN
  struct statx stx{};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 && (stx.stx_mask & STATX_DIOALIGN)) {
    if (stx.stx_dio_offset_align == 0) return 0;
    uint32_t a = stx.stx_dio_offset_align;
    if (stx.stx_dio_mem_align > a) a = stx.stx_dio_mem_align;
    return a > kMaxAlign ? kMaxAlign : (a < 512 ? 512 : a);
  }
#endif
  (void)fd;
  return kMaxAlign;
}

// True if an O_DIRECT read of one aligned block is refused as EINVAL, i.e.
// the file system accepted O_DIRECT at open but cannot actually do it.
bool direct_read_refused(int fd, uint32_t align) {
  void* buf = nullptr;
  if (posix_memalign(&buf, kMaxAlign, kMaxAlign) != 0) return false;
  ssize_t n = ::pread(fd, buf, align, 0);
  int e = errno;
  std::free(buf);
  return n < 0 && e == EINVAL;
}

}  // namespace

Result<std::unique_ptr<PathIo>> open_posix_path(const std::string& name, const OpenOptions& opt) {
  struct stat st{};
  if (::stat(name.c_str(), &st) != 0) {
    int e = errno;
    return Error{e, "cannot open path " + name};
  }
  PathKind kind = S_ISBLK(st.st_mode)   ? PathKind::kBlockDevice
                  : S_ISREG(st.st_mode) ? PathKind::kRegularFile
                                        : PathKind::kOther;
  if (kind == PathKind::kOther) {
    return err_inval("path " + name + " is neither a block device nor a regular file");
  }
  int flags = (opt.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  if (kind == PathKind::kBlockDevice && opt.exclusive) flags |= O_EXCL;

  int fd = -1;
  bool direct = false;
  if (opt.try_direct) {
    fd = ::open(name.c_str(), flags | O_DIRECT);
    if (fd >= 0) direct = true;
    else if (errno != EINVAL) {
      int e = errno;
      return Error{e, e == EBUSY ? "path " + name + " is in use (mounted or held exclusively)"
                                 : "cannot open path " + name};
    }
  }
  if (fd < 0) {
    fd = ::open(name.c_str(), flags);
    if (fd < 0) {
      int e = errno;
      return Error{e, e == EBUSY ? "path " + name + " is in use (mounted or held exclusively)"
                                 : "cannot open path " + name};
    }
  }
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return Error{e, "cannot stat path " + name};
  }

  uint32_t sector = 512;
  uint32_t align = 512;
  uint64_t size = 0;
  if (kind == PathKind::kBlockDevice) {
    int lbs = 0;
    if (::ioctl(fd, BLKSSZGET, &lbs) == 0 && lbs > 0) sector = static_cast<uint32_t>(lbs);
    align = sector > kMaxAlign ? kMaxAlign : sector;
    if (::ioctl(fd, BLKGETSIZE64, &size) != 0) {
      int e = errno;
      ::close(fd);
      return Error{e, "cannot read the size of " + name};
    }
  } else {
    size = static_cast<uint64_t>(st.st_size);
    if (direct) {
      align = file_dio_align(fd);
      // A size that is not a multiple of the alignment would make the last
      // read-modify-write grow the file: such files are used buffered.
      if (align == 0 || size % align != 0 || (size >= align && direct_read_refused(fd, align))) {
        // Accepted O_DIRECT at open, but does not do it: reopen buffered.
        ::close(fd);
        fd = ::open(name.c_str(), flags);
        if (fd < 0) {
          int e = errno;
          return Error{e, "cannot open path " + name};
        }
        direct = false;
        align = 1;
      }
    }
  }
  if (sector > kMaxAlign || (sector & (sector - 1)) != 0) {
    ::close(fd);
    return err_inval("path " + name + " has an unsupported sector size " + std::to_string(sector));
  }
  return std::unique_ptr<PathIo>(new PosixPathIo(fd, kind, direct, sector, direct ? align : 1, size,
                                                     kind == PathKind::kBlockDevice ? st.st_rdev : 0));
}

}  // namespace mpathfs
