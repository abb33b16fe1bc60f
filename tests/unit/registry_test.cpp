// The volume set (src/core/registry.cpp) over real temp files: create,
// destroy/stop, apply() of control commands.  SPEC "The mounted tree".
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/registry.hpp"
#include "unit/fake_path_io.hpp"

using namespace mpathfs;
using namespace mpathfs::test;

namespace {

constexpr uint64_t kFileSize = 8 << 20;

// A mkdtemp directory of backing files, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mpathfs-unit-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // A file of `size` bytes (zeros), returned as an absolute path.
  std::string file(const std::string& name, uint64_t size = kFileSize) {
    auto p = dir_ / name;
    int fd = ::open(p.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
    ::close(fd);
    return p.string();
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  std::filesystem::path dir_;
};

VolumeSpec spec(std::string name, std::vector<std::string> paths) {
  VolumeSpec s;
  s.name = std::move(name);
  s.paths = std::move(paths);
  return s;
}

int code(const VoidResult& s) { return s ? 0 : s.error().code; }

std::vector<std::byte> read_file(const std::string& f, uint64_t off, size_t len) {
  std::vector<std::byte> out(len);
  int fd = ::open(f.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  REQUIRE(::pread(fd, out.data(), len, static_cast<off_t>(off)) == static_cast<ssize_t>(len));
  ::close(fd);
  return out;
}

}  // namespace

TEST_CASE("path_word_to_name: absolute as is, bare names under /dev", "[registry]") {
  CHECK(path_word_to_name("/dev/sdb") == "/dev/sdb");
  CHECK(path_word_to_name("sdb") == "/dev/sdb");
  CHECK(path_word_to_name("/srv/a/vm1.img") == "/srv/a/vm1.img");
  CHECK(path_word_to_name("") == "");
}

TEST_CASE("create over two temp files", "[registry][create]") {
  TempDir d;
  Registry reg({});
  auto a = d.file("a"), b = d.file("b");
  const uint64_t gen0 = reg.generation();
  REQUIRE(reg.create(spec("vol0", {a, b})));
  CHECK(reg.generation() > gen0);
  auto v = reg.find("vol0");
  REQUIRE(v);
  CHECK(v->size() == kFileSize);
  CHECK(v->mode() == Mode::kActivePassive);
  CHECK_FALSE(v->uuid());
  CHECK(v->state() == VolumeState::kOptimal);
  auto st = v->status();
  REQUIRE(st.paths.size() == 2);
  CHECK(st.paths[0].path == a);
  CHECK(st.paths[0].state == PathState::kActive);
  CHECK(st.paths[1].path == b);
  CHECK(st.paths[1].state == PathState::kPassive);
  REQUIRE(reg.list().size() == 1);
  CHECK(reg.list()[0].volume == v);
  auto id = reg.id_of("vol0");
  REQUIRE(id);
  CHECK(reg.find_id(*id) == v);
  CHECK(reg.status_table().find("vol0") != std::string::npos);
  CHECK(reg.status_table().find(a + " (ACTIVE)") != std::string::npos);
}

TEST_CASE("I/O through a registry volume reaches the files, aligned or not", "[registry][io]") {
  TempDir d;
  Registry reg({});
  // Two paths to one disk: the file and a hard link to it.
  auto a = d.file("a");
  auto b = d.path("b");
  std::filesystem::create_hard_link(a, b);
  REQUIRE(reg.create(spec("vol0", {a, b})));
  auto v = reg.find("vol0");
  IoContext ctx(1 << 20);
  auto data = pattern(3000, 8);
  REQUIRE(v->write(ctx, data.data(), data.size(), 1000).value() == 3000);
  CHECK(read_file(a, 1000, 3000) == data);
  REQUIRE(v->rotate());
  const std::byte* got = nullptr;
  REQUIRE(v->read(ctx, 3000, 1000, &got).value() == 3000);
  CHECK(std::vector<std::byte>(got, got + 3000) == data);
  CHECK(v->flush() == 0);
}

TEST_CASE("create: mixed sizes EINVAL", "[registry][create]") {
  TempDir d;
  Registry reg({});
  auto s = reg.create(spec("vol0", {d.file("a"), d.file("b", kFileSize + 4096)}));
  CHECK(code(s) == EINVAL);
  CHECK_FALSE(reg.find("vol0"));
  CHECK(reg.list().empty());
}

TEST_CASE("create: a missing path is ENOENT", "[registry][create]") {
  TempDir d;
  Registry reg({});
  CHECK(code(reg.create(spec("vol0", {d.file("a"), d.path("missing")}))) == ENOENT);
  CHECK_FALSE(reg.find("vol0"));
}

TEST_CASE("create: an empty file is EINVAL", "[registry][create]") {
  TempDir d;
  Registry reg({});
  CHECK(code(reg.create(spec("vol0", {d.file("empty", 0)}))) == EINVAL);
}

TEST_CASE("create: a directory is refused", "[registry][create]") {
  TempDir d;
  Registry reg({});
  std::filesystem::create_directory(d.path("dir"));
  auto s = reg.create(spec("vol0", {d.path("dir")}));
  CHECK_FALSE(s);
  CHECK_FALSE(reg.find("vol0"));
}

TEST_CASE("create: duplicate volume name EEXIST", "[registry][create]") {
  TempDir d;
  Registry reg({});
  REQUIRE(reg.create(spec("vol0", {d.file("a")})));
  CHECK(code(reg.create(spec("vol0", {d.file("b")}))) == EEXIST);
  CHECK(reg.list().size() == 1);
}

TEST_CASE("create: bad and reserved names EINVAL", "[registry][create]") {
  TempDir d;
  Registry reg({});
  auto a = d.file("a");
  for (const char* n : {"", "0123456789abcdef", "a/b", "a b", ".", "..", "ctl", "status"}) {
    INFO("'" << n << "'");
    CHECK(code(reg.create(spec(n, {a}))) == EINVAL);
  }
  CHECK(reg.list().empty());
}

TEST_CASE("create: no paths EINVAL, the same path twice EEXIST", "[registry][create]") {
  TempDir d;
  Registry reg({});
  CHECK(code(reg.create(spec("vol0", {}))) == EINVAL);
  auto a = d.file("a");
  CHECK(code(reg.create(spec("vol0", {a, a}))) == EEXIST);
  CHECK(reg.list().empty());
}

TEST_CASE("create: a path already used by another volume is EBUSY", "[registry][create]") {
  TempDir d;
  Registry reg({});
  auto a = d.file("a"), b = d.file("b"), c = d.file("c");
  REQUIRE(reg.create(spec("vol0", {a, b})));
  CHECK(code(reg.create(spec("vol1", {c, b}))) == EBUSY);
  CHECK_FALSE(reg.find("vol1"));
  // ... and through `add`.
  REQUIRE(reg.create(spec("vol1", {c})));
  CHECK(code(reg.apply("vol1", PathCmd{CtlFile::kAdd, a})) == EBUSY);
  CHECK(reg.find("vol1")->paths().size() == 1);
}

TEST_CASE("a path spelled differently is still the path another volume uses: EBUSY",
          "[registry][create]") {
  // check_not_used_elsewhere compares names as given: "/d/./a" and "/d//a"
  // are the same file as "/d/a", so two volumes would write one disk
  // behind each other's back (a regular file has no O_EXCL to catch it).
  TempDir d;
  Registry reg({});
  auto a = d.file("a");
  REQUIRE(reg.create(spec("vol0", {a})));
  const std::string dir = std::filesystem::path(a).parent_path().string();
  CHECK(code(reg.create(spec("vol1", {dir + "/./a"}))) == EBUSY);
  CHECK(code(reg.create(spec("vol2", {dir + "//a"}))) == EBUSY);
}

TEST_CASE("create: per-volume settings and defaults", "[registry][create]") {
  TempDir d;
  VolumeDefaults def;
  def.no_path_retry = 12;
  def.io_timeout = 3;
  def.file_mode = 0640;
  Registry reg(def);
  auto s = spec("vol0", {d.file("a")});
  s.mode = Mode::kActiveRead;
  s.io_timeout = 9;
  REQUIRE(reg.create(s));
  auto v = reg.find("vol0");
  CHECK(v->mode() == Mode::kActiveRead);
  CHECK(v->no_path_retry() == 12);
  CHECK(v->settings().io_timeout == 9);
  CHECK(v->settings().file_mode == 0640u);
}

TEST_CASE("apply: control commands on a volume", "[registry][apply]") {
  TempDir d;
  Registry reg({});
  auto a = d.file("a"), b = d.file("b"), c = d.file("c");
  REQUIRE(reg.create(spec("vol0", {a, b})));
  auto v = reg.find("vol0");
  REQUIRE(reg.apply("vol0", PathCmd{CtlFile::kAdd, c}));
  CHECK(v->paths().size() == 3);
  CHECK(code(reg.apply("vol0", PathCmd{CtlFile::kAdd, c})) == EEXIST);
  CHECK(code(reg.apply("vol0", PathCmd{CtlFile::kAdd, d.file("big", kFileSize * 2)})) == EINVAL);
  CHECK(code(reg.apply("vol0", PathCmd{CtlFile::kAdd, d.path("missing")})) == ENOENT);
  CHECK(v->paths().size() == 3);
  REQUIRE(reg.apply("vol0", PathCmd{CtlFile::kFail, a}));
  CHECK(v->active_paths() == b);
  REQUIRE(reg.apply("vol0", PathCmd{CtlFile::kRestore, a}));
  CHECK(v->active_paths() == b);
  REQUIRE(reg.apply("vol0", PathCmd{CtlFile::kPrefer, c}));
  CHECK(v->active_paths() == c);
  REQUIRE(reg.apply("vol0", RotateCmd{}));
  CHECK(v->active_paths() == a);
  REQUIRE(reg.apply("vol0", PathCmd{CtlFile::kRemove, a}));
  CHECK(v->active_paths() == b);
  CHECK(code(reg.apply("vol0", PathCmd{CtlFile::kRemove, a})) == ENOENT);
  REQUIRE(reg.apply("vol0", ConfigureCmd{Mode::kActiveActive}));
  CHECK(v->mode() == Mode::kActiveActive);
  REQUIRE(reg.apply("vol0", NoPathRetryCmd{-1}));
  CHECK(v->no_path_retry() == -1);
  // The removed path is free for another volume.
  REQUIRE(reg.create(spec("vol1", {a})));
}

TEST_CASE("apply: a command for an unknown volume is ENOENT", "[registry][apply]") {
  TempDir d;
  Registry reg({});
  auto a = d.file("a");
  for (auto f : {CtlFile::kAdd, CtlFile::kRemove, CtlFile::kFail, CtlFile::kRestore, CtlFile::kPrefer}) {
    INFO(ctl_file_name(f));
    CHECK(code(reg.apply("nope", PathCmd{f, a})) == ENOENT);
  }
  CHECK(code(reg.apply("nope", RotateCmd{})) == ENOENT);
  CHECK(code(reg.apply("nope", ConfigureCmd{Mode::kActiveActive})) == ENOENT);
  CHECK(code(reg.apply("nope", NoPathRetryCmd{0})) == ENOENT);
  CHECK(code(reg.apply("", DestroyCmd{"nope"})) == ENOENT);
  CHECK(code(reg.apply("", StopCmd{"nope"})) == ENOENT);
}

TEST_CASE("apply: create, stop and destroy from the ctl/ files", "[registry][apply]") {
  TempDir d;
  Registry reg({});
  auto a = d.file("a"), b = d.file("b");
  auto cmd = parse_control(CtlFile::kCreate, "vol0 -A " + a + " " + b + "\n");
  REQUIRE(cmd);
  REQUIRE(reg.apply("", *cmd));
  auto v = reg.find("vol0");
  REQUIRE(v);
  CHECK(v->mode() == Mode::kActiveActive);
  REQUIRE(reg.apply("", StopCmd{"vol0"}));
  CHECK_FALSE(reg.find("vol0"));
  CHECK(v->is_shut_down());
  REQUIRE(reg.apply("", CreateCmd{"vol0", Mode::kActivePassive, false, {a, b}}));
  REQUIRE(reg.apply("", DestroyCmd{"vol0"}));
  CHECK_FALSE(reg.find("vol0"));
  CHECK(reg.list().empty());
}

TEST_CASE("destroy while open is EBUSY, after close it goes", "[registry][destroy]") {
  TempDir d;
  Registry reg({});
  REQUIRE(reg.create(spec("vol0", {d.file("a"), d.file("b")})));
  auto v = reg.find("vol0");
  v->open_ref();
  CHECK(code(reg.destroy("vol0", true)) == EBUSY);
  CHECK(code(reg.destroy("vol0", false)) == EBUSY);
  CHECK(reg.find("vol0") == v);
  CHECK_FALSE(v->is_shut_down());
  v->close_ref();
  const uint64_t gen = reg.generation();
  REQUIRE(reg.destroy("vol0", true));
  CHECK_FALSE(reg.find("vol0"));
  CHECK(reg.generation() > gen);
  CHECK(code(reg.destroy("vol0", true)) == ENOENT);
  // Its paths are free again.
  CHECK(reg.create(spec("vol0", {d.path("a"), d.path("b")})));
}

TEST_CASE("stop keeps a label, destroy erases it", "[registry][label]") {
  TempDir d;
  Registry reg({});
  // Two paths to one disk: the file and a hard link to it (label reads the
  // sector back through every other path and refuses a different disk).
  auto a = d.file("a");
  auto b = d.path("b");
  std::filesystem::create_hard_link(a, b);
  auto s = spec("lab", {a, b});
  s.label = true;
  REQUIRE(reg.create(s));
  auto v = reg.find("lab");
  REQUIRE(v->uuid());
  const std::string uuid = *v->uuid();
  CHECK(v->size() == kFileSize - 512);  // the metadata sector is not exposed
  // The label is on the last sector of the file.
  auto last = read_file(a, kFileSize - 512, 16);
  CHECK(std::memcmp(last.data(), "GEOM::MULTIPATH", 16) == 0);
  // Writing the volume's last byte never touches it.
  IoContext ctx(1 << 20);
  std::byte x{0xEE};
  CHECK(v->write(ctx, &x, 1, v->size() - 1).value() == 1);
  CHECK(v->write(ctx, &x, 1, v->size()).value() == -ENOSPC);
  CHECK(std::memcmp(read_file(a, kFileSize - 512, 16).data(), "GEOM::MULTIPATH", 16) == 0);

  // stop: the label stays; creating again tastes it (same UUID, same size).
  REQUIRE(reg.destroy("lab", false));
  REQUIRE(reg.create(spec("lab", {a, b})));
  v = reg.find("lab");
  REQUIRE(v->uuid());
  CHECK(*v->uuid() == uuid);
  CHECK(v->size() == kFileSize - 512);

  // destroy: the label is erased; creating again gives a manual volume.
  REQUIRE(reg.destroy("lab", true));
  CHECK(read_file(a, kFileSize - 512, 512) == std::vector<std::byte>(512));
  REQUIRE(reg.create(spec("lab", {a, b})));
  CHECK_FALSE(reg.find("lab")->uuid());
  CHECK(reg.find("lab")->size() == kFileSize);
}

TEST_CASE("create -l over two different disks is refused and leaves no label", "[registry][label]") {
  TempDir d;
  Registry reg({});
  auto s = spec("lab", {d.file("a"), d.file("b")});
  s.label = true;
  CHECK(code(reg.create(s)) == EINVAL);
  CHECK_FALSE(reg.find("lab"));
  CHECK(read_file(d.path("a"), kFileSize - 512, 512) == std::vector<std::byte>(512));
}

TEST_CASE("shut_down_all and flush_all reach every volume", "[registry]") {
  TempDir d;
  Registry reg({});
  REQUIRE(reg.create(spec("v1", {d.file("a")})));
  REQUIRE(reg.create(spec("v2", {d.file("b")})));
  reg.flush_all();
  reg.shut_down_all();
  CHECK(reg.find("v1")->is_shut_down());
  CHECK(reg.find("v2")->is_shut_down());
  CHECK(reg.reap_lost().empty());  // shut down is not gone
}
