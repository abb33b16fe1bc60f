// Metadata on paths: the aligned read-modify-write of the last sector (fake
// O_DIRECT paths), and label / clear on real files in a temporary directory.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "core/label.hpp"
#include "core/metadata.hpp"
#include "core/volume_name.hpp"

namespace mpathfs {
namespace {

using Bytes = std::vector<std::byte>;
namespace fs = std::filesystem;
constexpr uint64_t k8MiB = 8ull << 20;

// An in-memory path that enforces O_DIRECT alignment the way the kernel
// does (EINVAL), counts its calls and fails on request.  Small on purpose:
// these tests only look at the last sector.
struct MemDisk {
  uint64_t size = 1 << 20;
  uint32_t sector = 512;
  uint32_t align = 1;  // > 1: direct I/O
  Bytes bytes = Bytes(size);
};

class MemPathIo final : public PathIo {
 public:
  explicit MemPathIo(std::shared_ptr<MemDisk> d) : d_(std::move(d)) {}

  int read_errno = 0, write_errno = 0, sync_errno = 0;
  int reads = 0, writes = 0, syncs = 0, unaligned = 0;

  ssize_t pread(void* buf, size_t len, uint64_t off) noexcept override {
    if (read_errno) return -read_errno;
    if (!aligned(buf, len, off)) return -EINVAL;
    ++reads;
    const size_t n = off >= d_->size ? 0 : static_cast<size_t>(std::min<uint64_t>(len, d_->size - off));
    std::memcpy(buf, d_->bytes.data() + off, n);
    return static_cast<ssize_t>(n);
  }
  ssize_t pwrite(const void* buf, size_t len, uint64_t off) noexcept override {
    if (write_errno) return -write_errno;
    if (!aligned(buf, len, off)) return -EINVAL;
    if (off + len > d_->size) return -ENOSPC;  // a device does not grow
    ++writes;
    std::memcpy(d_->bytes.data() + off, buf, len);
    return static_cast<ssize_t>(len);
  }
  int fdatasync() noexcept override {
    ++syncs;
    return -sync_errno;
  }
  uint64_t size() const noexcept override { return d_->size; }
  uint32_t sector_size() const noexcept override { return d_->sector; }
  uint32_t align() const noexcept override { return d_->align; }
  bool direct() const noexcept override { return d_->align > 1; }
  PathKind kind() const noexcept override { return PathKind::kBlockDevice; }

 private:
  bool aligned(const void* buf, size_t len, uint64_t off) {
    const uint64_t a = d_->align;
    if (reinterpret_cast<uintptr_t>(buf) % a == 0 && len % a == 0 && off % a == 0) return true;
    ++unaligned;
    return false;
  }
  std::shared_ptr<MemDisk> d_;
};

std::shared_ptr<MemDisk> mem_disk(uint64_t size, uint32_t sector, uint32_t align) {
  auto d = std::make_shared<MemDisk>();
  d->size = size;
  d->sector = sector;
  d->align = align;
  d->bytes = Bytes(size);
  return d;
}

Bytes slice(const Bytes& b, uint64_t off, size_t len) {
  return Bytes(b.begin() + static_cast<ptrdiff_t>(off), b.begin() + static_cast<ptrdiff_t>(off + len));
}

// A bool, so a failure does not make Catch print megabytes of bytes.
bool same(const Bytes& a, const Bytes& b) { return a == b; }

// Deterministic non-zero bytes, so an untouched region is recognisable.
Bytes pattern(size_t len, unsigned seed) {
  Bytes v(len);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<std::byte>(x >> 24);
  }
  return v;
}

Metadata sample_metadata(uint32_t sector, uint64_t size) {
  Metadata md;
  md.uuid = new_uuid();
  md.name = "vm1";
  md.sector_size = sector;
  md.size = size;
  md.mode = Mode::kActiveRead;
  return md;
}

// A fresh directory under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "mpathfs-label-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

void write_file(const std::string& path, const Bytes& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  REQUIRE(f.good());
}

Bytes read_file(const std::string& path) {
  Bytes b(fs::file_size(path));
  std::ifstream f(path, std::ios::binary);
  f.read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(b.size()));
  REQUIRE(f.good());
  return b;
}

Bytes tail(const Bytes& b, size_t n) { return Bytes(b.end() - static_cast<ptrdiff_t>(n), b.end()); }
Bytes head(const Bytes& b, size_t n) { return Bytes(b.begin(), b.begin() + static_cast<ptrdiff_t>(n)); }

Result<std::optional<Metadata>> read_file_metadata(const std::string& path) {
  auto io = open_posix_path(path, OpenOptions{});
  if (!io) return io.error();
  return read_metadata(**io);
}

LabelRequest request(std::vector<std::string> paths, bool force = false) {
  LabelRequest r;
  r.name = "vm1";
  r.mode = Mode::kActiveActive;
  r.paths = std::move(paths);
  r.force = force;
  return r;
}

}  // namespace

// ---- the last sector through PathIo ----

TEST_CASE("metadata_offset is the last sector", "[label]") {
  MemPathIo io(mem_disk(1 << 20, 4096, 1));
  CHECK(metadata_offset(io) == (1u << 20) - 4096);
}

TEST_CASE("O_DIRECT alignment 4096 over 512-byte sectors: read-modify-write keeps the neighbours", "[label]") {
  const uint64_t size = 1 << 20;
  auto disk = mem_disk(size, 512, 4096);
  const Bytes before = pattern(size, 7);
  disk->bytes = before;
  MemPathIo io(disk);

  const Metadata md = sample_metadata(512, size);
  REQUIRE(write_metadata(io, md).ok());
  CHECK(io.unaligned == 0);
  CHECK(io.syncs == 1);
  Bytes expected(512);
  REQUIRE(encode_metadata(md, expected).ok());
  CHECK(same(slice(disk->bytes, size - 512, 512), expected));
  CHECK(same(head(disk->bytes, size - 512), head(before, size - 512)));  // the 3584 bytes before it too

  auto r = read_metadata(io);
  REQUIRE(r.ok());
  REQUIRE(r->has_value());
  CHECK(**r == md);

  REQUIRE(erase_metadata(io).ok());
  CHECK(io.unaligned == 0);
  CHECK(io.syncs == 2);
  CHECK(same(slice(disk->bytes, size - 512, 512), Bytes(512)));
  CHECK(same(head(disk->bytes, size - 512), head(before, size - 512)));
  CHECK_FALSE(read_metadata(io).value().has_value());
}

TEST_CASE("a sector as large as the alignment is written without a read", "[label]") {
  const uint64_t size = 64 << 10;
  MemPathIo io(mem_disk(size, 4096, 4096));
  REQUIRE(write_metadata(io, sample_metadata(4096, size)).ok());
  CHECK(io.reads == 0);
  CHECK(io.writes == 1);
  CHECK(io.unaligned == 0);
}

TEST_CASE("a path whose size is not a multiple of its alignment is refused, nothing written", "[label]") {
  const uint64_t size = (1 << 20) - 512;
  MemPathIo io(mem_disk(size, 512, 4096));
  auto s = write_metadata(io, sample_metadata(512, size));
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == EINVAL);
  CHECK(io.writes == 0);
}

TEST_CASE("a path smaller than one sector holds no metadata", "[label]") {
  MemPathIo io(mem_disk(256, 512, 1));
  auto r = read_metadata(io);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == EINVAL);
}

TEST_CASE("I/O errors on the last sector come back with their errno", "[label]") {
  MemPathIo io(mem_disk(1 << 20, 512, 4096));
  SECTION("read") {
    io.read_errno = EIO;
    auto r = read_metadata(io);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == EIO);
    // The read-modify-write fails before anything is written.
    CHECK(write_metadata(io, sample_metadata(512, 1 << 20)).error().code == EIO);
    CHECK(io.writes == 0);
  }
  SECTION("write") {
    io.write_errno = ENOSPC;
    CHECK(erase_metadata(io).error().code == ENOSPC);
  }
  SECTION("flush") {
    io.sync_errno = EIO;
    CHECK(write_metadata(io, sample_metadata(512, 1 << 20)).error().code == EIO);
  }
}

// ---- volume names ----

TEST_CASE("valid_volume_name: 1-15 characters of A-Za-z0-9._-", "[label]") {
  CHECK(valid_volume_name("a"));
  CHECK(valid_volume_name("vm1"));
  CHECK(valid_volume_name("Disk_0.backup-2"));  // 15
  CHECK_FALSE(valid_volume_name(""));
  CHECK_FALSE(valid_volume_name("sixteen-chars-xx"));
  CHECK_FALSE(valid_volume_name("a/b"));
  CHECK_FALSE(valid_volume_name("a b"));
  CHECK_FALSE(valid_volume_name("vol\xc3\xa9"));
  CHECK_FALSE(valid_volume_name(std::string_view("a\0b", 3)));
  CHECK_FALSE(valid_volume_name("."));
  CHECK_FALSE(valid_volume_name(".."));
}

// ---- label / clear on files ----

TEST_CASE("label: two names of one file show the label, no warning", "[label][files]") {
  TempDir dir;
  const std::string a = dir.file("a.img");
  const Bytes data = pattern(k8MiB, 1);
  write_file(a, data);
  std::string b = dir.file("b.img");
  SECTION("hard link") { REQUIRE(::link(a.c_str(), b.c_str()) == 0); }
  SECTION("symlink") { REQUIRE(::symlink(a.c_str(), b.c_str()) == 0); }

  auto rep = label_paths(request({a, b}));
  REQUIRE(rep.ok());
  CHECK(rep->warnings.empty());
  const Metadata& md = rep->written;
  CHECK(md.name == "vm1");
  CHECK(md.uuid.size() == 36);
  CHECK(md.version == 1);
  CHECK(md.sector_size == 512);
  CHECK(md.size == k8MiB);
  CHECK(md.mode == Mode::kActiveActive);

  for (const auto& p : {a, b}) {
    auto r = read_file_metadata(p);
    REQUIRE(r.ok());
    REQUIRE(r->has_value());
    CHECK(**r == md);
  }
  const Bytes after = read_file(a);
  REQUIRE(after.size() == k8MiB);
  CHECK(same(head(after, k8MiB - 512), head(data, k8MiB - 512)));  // data untouched
}

TEST_CASE("label: a path to another disk is reported, the first is still labeled", "[label][files]") {
  TempDir dir;
  const std::string a = dir.file("a.img"), b = dir.file("b.img");
  write_file(a, Bytes(k8MiB));
  const Bytes other = pattern(k8MiB, 2);
  write_file(b, other);

  auto rep = label_paths(request({a, b}));
  REQUIRE(rep.ok());
  REQUIRE(rep->warnings.size() == 1);
  CHECK(rep->warnings[0] == "No metadata found on " + b + ". It is not a path of " + a + ".");
  CHECK(read_file_metadata(a).value().value().uuid == rep->written.uuid);
  CHECK(same(read_file(b), other));  // only the first path is written
}

TEST_CASE("label: a path that cannot be opened is refused, nothing written", "[label][files]") {
  TempDir dir;
  const std::string a = dir.file("a.img");
  write_file(a, Bytes(k8MiB));
  auto rep = label_paths(request({a, dir.file("missing.img")}));
  REQUIRE_FALSE(rep.ok());
  CHECK(rep.error().code == ENOENT);
  CHECK_FALSE(read_file_metadata(a).value().has_value());
}

TEST_CASE("label: paths of different sizes are refused, nothing written", "[label][files]") {
  TempDir dir;
  const std::string a = dir.file("a.img"), b = dir.file("b.img");
  const Bytes da = pattern(k8MiB, 3), db = pattern(k8MiB + 4096, 4);
  write_file(a, da);
  write_file(b, db);
  auto rep = label_paths(request({a, b}));
  REQUIRE_FALSE(rep.ok());
  CHECK(rep.error().code == EINVAL);
  CHECK(rep.error().msg.find("differ in size") != std::string::npos);
  CHECK(same(read_file(a), da));
  CHECK(same(read_file(b), db));
}

TEST_CASE("label: a path smaller than two sectors is refused", "[label][files]") {
  TempDir dir;
  const std::string a = dir.file("a.img");
  write_file(a, Bytes(512));
  auto rep = label_paths(request({a}));
  REQUIRE_FALSE(rep.ok());
  CHECK(rep.error().code == EINVAL);
  CHECK(same(read_file(a), Bytes(512)));
}

TEST_CASE("label: bad names and no paths are refused", "[label][files]") {
  TempDir dir;
  const std::string a = dir.file("a.img");
  write_file(a, Bytes(k8MiB));
  LabelRequest r = request({a});
  SECTION("name too long") { r.name = "sixteen-chars-xx"; }
  SECTION("name with a slash") { r.name = "a/b"; }
  SECTION("no path") { r.paths.clear(); }
  auto rep = label_paths(r);
  REQUIRE_FALSE(rep.ok());
  CHECK(rep.error().code == EINVAL);
  CHECK_FALSE(read_file_metadata(a).value().has_value());
}

TEST_CASE("label: an already labeled first path needs force", "[label][files]") {
  TempDir dir;
  const std::string a = dir.file("a.img");
  write_file(a, Bytes(k8MiB));
  auto first = label_paths(request({a}));
  REQUIRE(first.ok());

  auto again = label_paths(request({a}));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == EEXIST);
  CHECK(again.error().msg.find(first->written.uuid) != std::string::npos);
  CHECK(read_file_metadata(a).value().value().uuid == first->written.uuid);

  auto forced = label_paths(request({a}, /*force=*/true));
  REQUIRE(forced.ok());
  CHECK(forced->written.uuid != first->written.uuid);
  CHECK(read_file_metadata(a).value().value().uuid == forced->written.uuid);
}

TEST_CASE("clear: an unlabeled path is refused and left alone", "[label][files]") {
  TempDir dir;
  const std::string a = dir.file("a.img");
  const Bytes data = pattern(k8MiB, 5);
  write_file(a, data);
  auto s = clear_path(a);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == EINVAL);
  CHECK(s.error().msg == "Can't clear metadata on " + a);
  CHECK(same(read_file(a), data));
}

TEST_CASE("clear: the label is gone and the whole last sector is zero", "[label][files]") {
  TempDir dir;
  const std::string a = dir.file("a.img");
  const Bytes data = pattern(k8MiB, 6);
  write_file(a, data);
  REQUIRE(label_paths(request({a})).ok());
  REQUIRE(clear_path(a).ok());
  CHECK_FALSE(read_file_metadata(a).value().has_value());
  const Bytes after = read_file(a);
  CHECK(same(tail(after, 512), Bytes(512)));
  CHECK(same(head(after, k8MiB - 512), head(data, k8MiB - 512)));
}

TEST_CASE("clear: a malformed label of ours is still removed", "[label][files]") {
  TempDir dir;
  const std::string a = dir.file("a.img");
  Bytes data(k8MiB);
  Bytes sector(512);
  REQUIRE(encode_metadata(sample_metadata(512, k8MiB), sector).ok());
  sector[88] = std::byte{9};  // mode byte out of range
  std::copy(sector.begin(), sector.end(), data.end() - 512);
  write_file(a, data);
  REQUIRE(read_file_metadata(a).error().code == EINVAL);
  REQUIRE(clear_path(a).ok());
  CHECK(same(tail(read_file(a), 512), Bytes(512)));
}

TEST_CASE("label and clear on an O_DIRECT file", "[label][files]") {
  TempDir dir;
  const std::string a = dir.file("a.img");
  const Bytes data = pattern(k8MiB, 8);
  write_file(a, data);
  {
    auto io = open_posix_path(a, OpenOptions{});
    REQUIRE(io.ok());
    INFO("align " << (*io)->align());
    if (!(*io)->direct()) {
      WARN("the file system under " << a << " refuses O_DIRECT; buffered path tested only");
    } else {
      CHECK((*io)->align() >= 512);
    }
    const Metadata md = sample_metadata(512, k8MiB);
    REQUIRE(write_metadata(**io, md).ok());
    CHECK(read_metadata(**io).value().value() == md);
  }
  const Bytes after = read_file(a);
  CHECK(same(head(after, k8MiB - 512), head(data, k8MiB - 512)));
  REQUIRE(clear_path(a).ok());
  CHECK(same(tail(read_file(a), 512), Bytes(512)));
}

}  // namespace mpathfs
