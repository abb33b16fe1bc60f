// Path identity (issue 12, items 3 and 4): what a path's last sector says
// (taste_label's typed outcome), which label field refuses a path, add and
// create refusing a malformed or mismatched label, the checker's identity
// check, and scan's distinct names for one name on several disks.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>

#include "core/checker.hpp"
#include "core/label.hpp"
#include "core/metadata.hpp"
#include "core/registry.hpp"
#include "unit/fake_path_io.hpp"

using namespace mpathfs;
using namespace mpathfs::test;

namespace {

constexpr uint64_t kSize = 1 << 20;
constexpr uint32_t kSector = 512;

Metadata label_of(const std::string& uuid, const std::string& name = "lv") {
  Metadata md;
  md.uuid = uuid;
  md.name = name;
  md.sector_size = kSector;
  md.size = kSize;
  return md;
}

// The encoded label, as a sector, with one byte changed.
std::vector<std::byte> sector_with(const Metadata& md, size_t off = 0, int byte = -1) {
  std::vector<std::byte> s(kSector);
  REQUIRE(encode_metadata(md, s));
  if (byte >= 0) s[off] = static_cast<std::byte>(byte);
  return s;
}

// A file of kSize bytes in its own temp directory, removed afterwards.
class Files {
 public:
  Files() {
    std::string t = (std::filesystem::temp_directory_path() / "mpathfs-id-XXXXXX").string();
    REQUIRE(::mkdtemp(t.data()) != nullptr);
    dir_ = t;
  }
  ~Files() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // A zero file whose last sector is `last` (none when empty).
  std::string file(const std::string& name, const std::vector<std::byte>& last = {}) {
    std::string p = (dir_ / name).string();
    int fd = ::open(p.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, kSize) == 0);
    if (!last.empty()) REQUIRE(::pwrite(fd, last.data(), last.size(), kSize - kSector) == kSector);
    ::close(fd);
    return p;
  }
  std::vector<std::byte> last_sector(const std::string& p) {
    std::vector<std::byte> s(kSector);
    int fd = ::open(p.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    REQUIRE(::pread(fd, s.data(), s.size(), kSize - kSector) == kSector);
    ::close(fd);
    return s;
  }

 private:
  std::filesystem::path dir_;
};

VolumeSpec spec(std::string name, std::vector<std::string> paths) {
  VolumeSpec s;
  s.name = std::move(name);
  s.paths = std::move(paths);
  return s;
}

std::string why(const VoidResult& s) { return s ? std::string("ok") : s.error().describe(); }
int code(const VoidResult& s) { return s ? 0 : s.error().code; }

const std::string kUuid = "5f0e1c2a-3b4d-4e5f-8a6b-7c8d9e0f1a2b";
const std::string kOther = "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d";

}  // namespace

TEST_CASE("taste_label tells no label, a label, a malformed one and a failed read apart", "[identity]") {
  auto disk = std::make_shared<FakeDisk>(kSize);
  FakePathIo io(disk, FakeOptions{});
  auto put = [&](const std::vector<std::byte>& s) {
    std::lock_guard lk(disk->mu);
    std::copy(s.begin(), s.end(), disk->bytes.end() - kSector);
  };
  CHECK(taste_label(io).kind == LabelKind::kNone);

  put(sector_with(label_of(kUuid)));
  LabelTaste t = taste_label(io);
  REQUIRE(t.kind == LabelKind::kLabel);
  CHECK(t.md == label_of(kUuid));

  SECTION("a mode byte out of range is malformed, and the message names it") {
    put(sector_with(label_of(kUuid), 88, 7));
    t = taste_label(io);
    CHECK(t.kind == LabelKind::kMalformed);
    CHECK_THAT(t.error.msg, Catch::Contains("mode byte 7"));
  }
  SECTION("a name without NUL is malformed") {
    auto s = sector_with(label_of(kUuid));
    for (size_t i = 56; i < 72; ++i) s[i] = std::byte{'x'};
    put(s);
    t = taste_label(io);
    CHECK(t.kind == LabelKind::kMalformed);
    CHECK_THAT(t.error.msg, Catch::Contains("name field"));
  }
  SECTION("a failed read is unreadable, with its errno: never malformed") {
    io.read_errno = EIO;
    t = taste_label(io);
    CHECK(t.kind == LabelKind::kUnreadable);
    CHECK(t.error.code == EIO);
  }
}

TEST_CASE("a path smaller than a sector carries no label (not an error)", "[identity]") {
  FakeOptions o;
  o.size = 100;
  FakePathIo io(std::make_shared<FakeDisk>(100), o);
  CHECK(taste_label(io).kind == LabelKind::kNone);
}

TEST_CASE("check_label_identity names the field that differs", "[identity]") {
  auto check = [](const LabelTaste& t) { return check_label_identity(t, "/p", kUuid, kSize, kSector); };
  LabelTaste t;
  t.kind = LabelKind::kLabel;
  t.md = label_of(kUuid);
  CHECK(check(t));
  t.md.size = 0;
  t.md.sector_size = 0;  // 0: "do not check" (gmultipath)
  CHECK(check(t));

  t.md = label_of(kOther);
  CHECK_THAT(why(check(t)), Catch::Contains("carries UUID " + kOther));
  t.md = label_of(kUuid);
  t.md.version = 2;
  CHECK_THAT(why(check(t)), Catch::Contains("metadata version 2"));
  t.md = label_of(kUuid);
  t.md.sector_size = 4096;
  CHECK_THAT(why(check(t)), Catch::Contains("sector size 4096"));
  t.md = label_of(kUuid);
  t.md.size = kSize * 2;
  CHECK_THAT(why(check(t)), Catch::Contains("metadata size"));
  for (auto s : {check(t), check(LabelTaste{})}) CHECK(code(s) == EINVAL);
  CHECK_THAT(why(check(LabelTaste{})), Catch::Contains("no metadata"));

  LabelTaste bad{LabelKind::kMalformed, {}, err_inval("malformed metadata: mode byte 9 is not 0, 1 or 2")};
  CHECK(code(check(bad)) == EINVAL);
  CHECK_THAT(why(check(bad)), Catch::Contains("mode byte 9"));
  LabelTaste io{LabelKind::kUnreadable, {}, Error{EIO, "cannot read"}};
  CHECK(code(check(io)) == EIO);
}

TEST_CASE("add to a labeled volume refuses a malformed label, another version or sector size: EINVAL",
          "[identity][registry]") {
  Files f;
  Registry reg({});
  const std::string a = f.file("a", sector_with(label_of(kUuid)));
  REQUIRE(reg.create(spec("lv", {a})));
  auto v = reg.find("lv");
  REQUIRE(v->uuid() == kUuid);

  Metadata v2 = label_of(kUuid);
  v2.version = 2;
  Metadata s4k = label_of(kUuid);
  s4k.sector_size = 4096;
  const std::string bad_mode = f.file("mode", sector_with(label_of(kUuid), 88, 3));
  const std::string version = f.file("version", sector_with(v2));
  const std::string sector = f.file("sector", sector_with(s4k));
  const std::string foreign = f.file("foreign", sector_with(label_of(kOther)));
  for (auto& [p, field] : std::vector<std::pair<std::string, std::string>>{
           {bad_mode, "mode byte 3"}, {version, "version 2"}, {sector, "sector size 4096"}, {foreign, "UUID"}}) {
    auto s = reg.apply("lv", PathCmd{CtlFile::kAdd, p});
    INFO(p << ": " << why(s));
    CHECK(code(s) == EINVAL);
    CHECK_THAT(why(s), Catch::Contains(field));
  }
  CHECK(v->paths().size() == 1);
  // The same label through another name of the disk joins.
  const std::string b = f.file("b", sector_with(label_of(kUuid)));
  CHECK(reg.apply("lv", PathCmd{CtlFile::kAdd, b}));
  CHECK(v->paths().size() == 2);

  SECTION("create refuses them too, first path or not") {
    CHECK(code(reg.create(spec("c1", {bad_mode}))) == EINVAL);
    CHECK(code(reg.create(spec("c2", {version}))) == EINVAL);
    const std::string c = f.file("c", sector_with(label_of(kOther)));
    const std::string c_v2 = f.file("c_v2", sector_with([] {
                                      Metadata m = label_of(kOther);
                                      m.version = 2;
                                      return m;
                                    }()));
    auto s = reg.create(spec("c3", {c, c_v2}));
    CHECK(code(s) == EINVAL);
    CHECK_THAT(why(s), Catch::Contains("version 2"));
    CHECK(code(reg.create(spec("c4", {c, bad_mode}))) == EINVAL);
    CHECK_FALSE(reg.find("c1"));
    CHECK_FALSE(reg.find("c3"));
    CHECK(reg.create(spec("c5", {c})));  // its paths were released
  }
}

TEST_CASE("verify_identity: a path that now carries another label or size is not the volume's",
          "[identity][checker]") {
  Files f;
  Registry reg({});
  const std::string a = f.file("a", sector_with(label_of(kUuid)));
  const std::string b = f.file("b", sector_with(label_of(kUuid)));
  REQUIRE(reg.create(spec("lv", {a, b})));
  auto v = reg.find("lv");
  auto pb = v->find_path(b);
  REQUIRE(pb);
  CHECK(verify_identity(*v, *pb));
  f.file("b", sector_with(label_of(kOther)));  // rewritten in place: same inode
  auto s = verify_identity(*v, *pb);
  CHECK(code(s) == EINVAL);
  CHECK_THAT(why(s), Catch::Contains("carries UUID " + kOther));
  f.file("b", sector_with(label_of(kUuid), 88, 5));
  CHECK_THAT(why(verify_identity(*v, *pb)), Catch::Contains("mode byte 5"));
  f.file("b", sector_with(label_of(kUuid)));
  CHECK(verify_identity(*v, *pb));
  REQUIRE(::truncate(b.c_str(), kSize * 2) == 0);
  CHECK_THAT(why(verify_identity(*v, *pb)), Catch::Contains("now has"));
}

TEST_CASE("scan: one 15-character name on three disks gives three distinct names, and destroy erases the right label",
          "[identity][registry][scan]") {
  Files f;
  const std::string name = "abcdefghijklmno";
  REQUIRE(name.size() == 15);
  const std::vector<std::string> uuids = {kUuid, kOther, "11111111-2222-4333-8444-555555555555"};
  std::vector<std::string> disks;
  for (size_t i = 0; i < 3; ++i)
    disks.push_back(f.file("d" + std::to_string(i), sector_with(label_of(uuids[i], name))));
  const std::string junk = f.file("junk", sector_with(label_of(kUuid, name), 88, 9));

  Registry reg({});
  auto problems = reg.assemble({disks[0], disks[1], disks[2], junk}).problems;
  std::set<std::string> names;
  std::map<std::string, std::string> by_uuid;
  for (auto& e : reg.list()) {
    names.insert(e.volume->name());
    by_uuid[*e.volume->uuid()] = e.volume->name();
    CHECK(e.volume->name().size() <= 15);
  }
  CHECK(names.size() == 3);  // three volumes, three names
  CHECK(by_uuid.size() == 3);
  CHECK(by_uuid[uuids[0]] == name);
  CHECK(names.count(name) == 1);
  // Two clash lines and one for the malformed label, each naming its device.
  REQUIRE(problems.size() == 3);
  CHECK_THAT(problems[2], Catch::StartsWith(junk + ": ") && Catch::Contains("mode byte 9"));
  // A second scan finds everything assembled and says nothing.
  CHECK(reg.assemble({disks[0], disks[1], disks[2]}).problems.empty());
  CHECK(reg.list().size() == 3);

  for (size_t i : {1, 0, 2}) {
    REQUIRE(reg.destroy(by_uuid[uuids[i]], true));
    CHECK(f.last_sector(disks[i]) == std::vector<std::byte>(kSector));
    for (size_t j = 0; j < 3; ++j) {
      if (reg.find(by_uuid[uuids[j]])) CHECK(f.last_sector(disks[j]) == sector_with(label_of(uuids[j], name)));
    }
  }
  CHECK(reg.list().empty());
}
