// Labeled volumes end to end (issue 7): `mpathfs label` / `dump`, `create -l`
// through ctl/create and the command line, the metadata sector out of reach
// of the volume file, `configure` rewriting the mode byte on disk, `destroy`
// erasing the metadata and `stop` keeping it, `add` checking the UUID, and
// `scan` assembling volumes from the metadata (name clashes included).
//
// Two paths to one disk are two names of one image file (hard links):
// mpathfs tells paths apart by name, and both show the same data, which is
// what label's read-back and scan's UUID match need.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <regex>
#include <sstream>

#include "e2e/command_checks.hpp"
#include "e2e/harness.hpp"

#ifndef MPATHFS_BIN
#define MPATHFS_BIN "mpathfs"
#endif

using namespace mpathfs::e2e;
using Strings = std::vector<std::string>;
using Catch::Matchers::Contains;

namespace {

RunResult cmd(const Strings& args) { return mp_raw(args); }
RunResult mp(const Daemon& d, const Strings& args) { return mpathfs::e2e::mp(d.mnt(), args); }

constexpr uint64_t kSize = 4 * MiB;
constexpr uint64_t kSector = 512;
constexpr uint64_t kVolSize = kSize - kSector;


// `mpathfs dump PATH`, its "Key: value" lines.  Empty when it fails.
std::map<std::string, std::string> dump(const std::string& path) {
  RunResult r = cmd({"dump", path});
  INFO(r.describe());
  std::map<std::string, std::string> out;
  if (r.exit_code() != 0) return out;
  std::istringstream in(r.output);
  std::string l;
  while (std::getline(in, l)) {
    l = trim(l);
    auto c = l.find(": ");
    if (c != std::string::npos) out[l.substr(0, c)] = l.substr(c + 2);
  }
  return out;
}

// The last sector of a path file, read beside the daemon.
Bytes last_sector(const std::string& path) { return read_range(path, kSize - kSector, kSector); }

std::string hard_link(const std::string& target, const std::string& name) {
  if (::link(target.c_str(), name.c_str()) != 0) throw std::runtime_error("link " + name + ": " + std::strerror(errno));
  return name;
}

bool is_uuid(const std::string& s) {
  static const std::regex re("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$");
  return std::regex_match(s, re);
}

bool exists(const std::string& p) {
  struct stat st{};
  return ::stat(p.c_str(), &st) == 0;
}

// Two names (hard links) of one image of `kSize` bytes of pattern `seed`.
Strings one_disk(const TempDir& tmp, const std::string& stem, uint64_t seed) {
  std::string a = make_pattern_file(tmp / (stem + "0.img"), kSize, seed);
  return {a, hard_link(a, tmp / (stem + "1.img"))};
}

}  // namespace

TEST_CASE("label: label and dump: every field, through every name of the disk", "[label]") {
  TempDir tmp{"mpathfs-label"};
  Strings a = one_disk(tmp, "a", 3);
  REQUIRE_OK(cmd({"label", "-A", "lab0", a[0], a[1]}));
  auto m0 = dump(a[0]);
  INFO(cmd({"dump", a[0]}).output);
  CHECK(m0["Magic"] == "GEOM::MULTIPATH");
  CHECK(is_uuid(m0["UUID"]));
  CHECK(m0["Name"] == "lab0");
  CHECK(m0["Version"] == "1");
  CHECK(m0["Sectorsize"] == "512");
  CHECK(m0["Size"] == std::to_string(kSize));
  CHECK(m0["Mode"] == "Active/Active");
  CHECK(dump(a[1]) == m0);  // the other name shows the same sector

  RunResult j = cmd({"dump", "--json", a[0]});
  INFO(j.describe());
  REQUIRE(j.exit_code() == 0);
  json arr = json::parse(j.output);
  REQUIRE(arr.size() == 1);
  CHECK(arr[0].at("uuid") == m0["UUID"]);
  CHECK(arr[0].at("name") == "lab0");
  CHECK(arr[0].at("version") == 1);
  CHECK(arr[0].at("sectorsize") == 512);
  CHECK(arr[0].at("size") == kSize);
  CHECK(arr[0].at("mode") == "active-active");

  // On disk: the magic first, the mode byte at 88, the data before untouched.
  Bytes s = last_sector(a[0]);
  CHECK(std::string(s.begin(), s.begin() + 16) == std::string("GEOM::MULTIPATH\0", 16));
  CHECK(s[88] == 1);
  CHECK(read_range(a[0], 0, kSize - kSector) == pattern(3, 0, kSize - kSector));

  SECTION("an already labeled disk is refused unless -f") {
    CHECK_FAILS(cmd({"label", "lab1", a[0]}), "already labeled");
    CHECK(dump(a[0])["UUID"] == m0["UUID"]);
    REQUIRE_OK(cmd({"label", "-f", "-R", "lab1", a[0]}));
    CHECK(dump(a[1])["Name"] == "lab1");
    CHECK(dump(a[1])["Mode"] == "Active/Read");
    CHECK(dump(a[1])["UUID"] != m0["UUID"]);
  }
  SECTION("a path to another disk: warned about, exit 1") {
    std::string other = make_pattern_file(tmp / "other.img", kSize, 4);
    CHECK_FAILS(cmd({"label", "-f", "lab2", a[0], other}), "No metadata found on " + other);
    CHECK(dump(a[0])["Name"] == "lab2");  // the first path is labeled all the same (gmultipath)
  }
  SECTION("bad requests: nothing written") {
    std::string fresh = make_pattern_file(tmp / "fresh.img", kSize, 5);
    std::string big = make_pattern_file(tmp / "big.img", kSize + 4096, 5);
    CHECK(cmd({"label", "a-name-too-long-16", fresh}).exit_code() == 1);
    CHECK(cmd({"label", "lab3", fresh, big}).exit_code() == 1);  // sizes differ
    CHECK(cmd({"label", "lab3"}).exit_code() == 1);
    CHECK_FAILS(cmd({"dump", fresh}), "no metadata found on " + fresh);
  }
}

TEST_CASE("label: create -l: a labeled volume is one sector shorter, its metadata sector is out of reach",
          "[label]") {
  TempDir tmp{"mpathfs-label"};
  Strings a = one_disk(tmp, "a", 7);
  Strings b = one_disk(tmp, "b", 8);
  Daemon d(tmp, "none");

  // Through the control file, gmultipath's order of words.
  REQUIRE(ctl_write(d.ctl("create"), "lv -l " + a[0] + " " + a[1] + "\n") == 0);
  json st = d.status("lv");
  INFO(st.dump());
  REQUIRE(st.at("uuid").is_string());
  auto md = dump(a[0]);
  CHECK(md["UUID"] == st.at("uuid").get<std::string>());
  CHECK(md["Name"] == "lv");
  CHECK(md["Mode"] == "Active/Passive");
  CHECK(md["Size"] == std::to_string(kSize));
  CHECK(st.at("size") == kVolSize);
  struct stat vs{};
  REQUIRE(::stat(d.vol("lv").c_str(), &vs) == 0);
  CHECK(static_cast<uint64_t>(vs.st_size) == kVolSize);

  // Through the command line; list says AUTOMATIC and shows the UUID.
  REQUIRE_OK(mp(d, {"create", "-l", "-R", "lv2", b[0], b[1]}));
  CHECK(dump(b[1])["Mode"] == "Active/Read");
  RunResult ls = mp(d, {"list", "lv2"});
  INFO(ls.describe());
  CHECK_THAT(ls.output, Contains("\nType: AUTOMATIC\n") && Contains("\nUUID: " + dump(b[0])["UUID"] + "\n") &&
                            Contains("\nMode: Active/Read\n") &&
                            Contains("   Mediasize: " + std::to_string(kVolSize) + " (") &&
                            Contains("   Mediasize: " + std::to_string(kSize) + " ("));

  const Bytes meta = last_sector(a[0]);
  REQUIRE(meta.size() == kSector);
  const uint64_t end = kVolSize;

  SECTION("buffered: EOF at the end, ENOSPC past it, a write spanning it refused whole") {
    Fd fd = open_fd(d.vol("lv"), O_RDWR);
    uint8_t buf[4096];
    CHECK(::pread(fd.get(), buf, kSector, static_cast<off_t>(end)) == 0);
    CHECK(pread_all(fd.get(), buf, 4096, end - kSector) == static_cast<ssize_t>(kSector));  // short: stops at the end
    CHECK(Bytes(buf, buf + kSector) == pattern(7, end - kSector, kSector));               // data, not metadata
    Bytes junk = pattern(99, 0, 4096);
    errno = 0;
    CHECK(::pwrite(fd.get(), junk.data(), kSector, static_cast<off_t>(end)) == -1);
    CHECK(errno_name(errno) == "ENOSPC");
    errno = 0;
    CHECK(::pwrite(fd.get(), junk.data(), 16, static_cast<off_t>(end + 100)) == -1);
    CHECK(errno_name(errno) == "ENOSPC");
    errno = 0;
    CHECK(::pwrite(fd.get(), junk.data(), kSector, static_cast<off_t>(end - 256)) == -1);
    CHECK(errno_name(errno) == "ENOSPC");
    fd.close();
    CHECK(read_range(d.vol("lv"), end - 256, 256) == pattern(7, end - 256, 256));  // refused whole
  }
  SECTION("O_DIRECT: a 4 KiB write over the last data sector and the metadata is refused whole") {
    Fd fd = open_fd(d.vol("lv"), O_RDWR | O_DIRECT);
    AlignedBuf buf(4096);
    fill_pattern(buf.data(), 99, 0, 4096);
    errno = 0;
    CHECK(::pwrite(fd.get(), buf.data(), 4096, static_cast<off_t>(kSize - 4096)) == -1);
    CHECK(errno_name(errno) == "ENOSPC");
    CHECK(::pread(fd.get(), buf.data(), 4096, static_cast<off_t>(kSize - 4096)) == static_cast<ssize_t>(4096 - kSector));
    CHECK(Bytes(buf.data(), buf.data() + 4096 - kSector) == pattern(7, kSize - 4096, 4096 - kSector));
  }
  // Whatever was tried, the metadata on the paths is byte for byte the same.
  CHECK(last_sector(a[0]) == meta);
  CHECK(last_sector(a[1]) == meta);
  CHECK(dump(a[0])["UUID"] == st.at("uuid").get<std::string>());
}

TEST_CASE("label: configure rewrites the mode byte, destroy erases the metadata, stop keeps it", "[label]") {
  TempDir tmp{"mpathfs-label"};
  Strings a = one_disk(tmp, "a", 9);
  Daemon d(tmp, "none");
  REQUIRE_OK(mp(d, {"create", "-l", "lv", a[0], a[1]}));
  const std::string uuid = dump(a[0])["UUID"];
  REQUIRE(is_uuid(uuid));

  REQUIRE_OK(mp(d, {"configure", "-A", "lv"}));
  CHECK(dump(a[0])["Mode"] == "Active/Active");
  CHECK(last_sector(a[1])[88] == 1);
  REQUIRE_OK(mp(d, {"configure", "-R", "lv"}));
  CHECK(dump(a[1])["Mode"] == "Active/Read");
  CHECK(last_sector(a[0])[88] == 2);
  REQUIRE_OK(mp(d, {"configure", "-P", "lv"}));
  auto md = dump(a[0]);
  CHECK(md["Mode"] == "Active/Passive");
  CHECK(last_sector(a[0])[88] == 0);
  CHECK(md["UUID"] == uuid);  // only the mode changed
  CHECK(md["Name"] == "lv");
  CHECK(md["Size"] == std::to_string(kSize));

  // stop: the metadata stays; the disk is a labeled volume again when created.
  REQUIRE_OK(mp(d, {"stop", "lv"}));
  CHECK_FALSE(exists(d.vol("lv")));
  CHECK(dump(a[0])["UUID"] == uuid);
  REQUIRE_OK(mp(d, {"create", "lv", a[0], a[1]}));
  json st = d.status("lv");
  CHECK(st.at("uuid") == uuid);
  CHECK(st.at("size") == kVolSize);

  // destroy: the whole last sector is zeroed, nothing else.
  REQUIRE_OK(mp(d, {"destroy", "lv"}));
  CHECK_FAILS(cmd({"dump", a[0]}), "no metadata found");
  CHECK(last_sector(a[1]) == Bytes(kSector, 0));
  CHECK(read_range(a[0], 0, kSize - kSector) == pattern(9, 0, kSize - kSector));
  // Created again: a plain (manual) volume of the full size.
  REQUIRE_OK(mp(d, {"create", "lv", a[0], a[1]}));
  CHECK(d.status("lv").at("uuid").is_null());
  CHECK(d.status("lv").at("size") == kSize);
}

TEST_CASE("label: add checks the label: a foreign UUID or no label is refused with EINVAL", "[label]") {
  TempDir tmp{"mpathfs-label"};
  Strings a = one_disk(tmp, "a", 10);
  std::string a2 = hard_link(a[0], tmp / "a2.img");
  std::string other = make_pattern_file(tmp / "other.img", kSize, 10);  // same size and data, another disk
  std::string plain = make_pattern_file(tmp / "plain.img", kSize, 10);
  REQUIRE_OK(cmd({"label", "other", other}));
  Daemon d(tmp, "none");
  REQUIRE_OK(mp(d, {"create", "-l", "lv", a[0]}));
  const json before = d.status("lv");

  CHECK_FAILS(mp(d, {"add", "lv", other}), "mpathfs: add lv " + other + ": Invalid argument");
  CHECK(errno_name(ctl_write(d.ctl("lv", "add"), other)) == "EINVAL");
  CHECK_FAILS(mp(d, {"add", "lv", plain}), "Invalid argument");
  CHECK(errno_name(ctl_write(d.ctl("lv", "add"), plain)) == "EINVAL");
  CHECK(path_names(d.status("lv")) == path_names(before));
  CHECK_THAT(d.log(), Contains("carries UUID " + dump(other)["UUID"]));
  CHECK(dump(other)["Name"] == "other");  // untouched

  // Another name of the same disk joins.
  REQUIRE_OK(mp(d, {"add", "lv", a[1]}));
  REQUIRE(ctl_write(d.ctl("lv", "add"), a2) == 0);
  CHECK(path_names(d.status("lv")) == Strings{a[0], a[1], a2});
  CHECK(d.status("lv").at("state") == "OPTIMAL");
}

TEST_CASE("label: -o scan=GLOB assembles two volumes from four paths, by UUID, with names and modes", "[label]") {
  TempDir tmp{"mpathfs-label"};
  std::string dir = tmp.mkdir("disks");
  std::string a0 = make_pattern_file(dir + "/a0.img", kSize, 11);
  std::string a1 = hard_link(a0, dir + "/a1.img");
  std::string b0 = make_pattern_file(dir + "/b0.img", kSize, 12);
  std::string b1 = hard_link(b0, dir + "/b1.img");
  REQUIRE_OK(cmd({"label", "-A", "alpha", a0, a1}));
  REQUIRE_OK(cmd({"label", "-R", "beta", b0, b1}));
  const std::string ua = dump(a0)["UUID"], ub = dump(b1)["UUID"];
  REQUIRE(ua != ub);

  Daemon d(tmp, "none", "scan=" + dir + "/*.img");
  json sa = d.status("alpha");
  INFO(sa.dump());
  CHECK(sa.at("uuid") == ua);
  CHECK(sa.at("mode") == "active-active");
  CHECK(sa.at("size") == kVolSize);
  CHECK(sa.at("state") == "OPTIMAL");
  CHECK(path_names(sa) == Strings{a0, a1});
  CHECK(path_states(sa) == Strings{"ACTIVE", "ACTIVE"});
  json sb = d.status("beta");
  INFO(sb.dump());
  CHECK(sb.at("uuid") == ub);
  CHECK(sb.at("mode") == "active-read");
  CHECK(sb.at("size") == kVolSize);
  CHECK(path_names(sb) == Strings{b0, b1});
  CHECK(path_states(sb) == Strings{"ACTIVE", "READ"});
  auto t = parse_status(d.status_text());
  CHECK(t.volumes.size() == 2);

  // Each volume shows its own disk's data, up to the sector before the label.
  CHECK(read_range(d.vol("alpha"), 0, 64 * KiB) == pattern(11, 0, 64 * KiB));
  CHECK(read_range(d.vol("beta"), 0, 64 * KiB) == pattern(12, 0, 64 * KiB));
  CHECK(read_range(d.vol("beta"), kVolSize - 4096, 8192) == pattern(12, kVolSize - 4096, 4096));

  RunResult ls = mp(d, {"list"});
  INFO(ls.describe());
  CHECK(ls.exit_code() == 0);
  CHECK_THAT(ls.output, Contains("Geom name: alpha\nType: AUTOMATIC\nMode: Active/Active\nUUID: " + ua + "\n") &&
                            Contains("Geom name: beta\nType: AUTOMATIC\nMode: Active/Read\nUUID: " + ub + "\n"));
}

TEST_CASE("label: scan, one name on two disks: both assembled, the second under another name, a warning", "[label]") {
  TempDir tmp{"mpathfs-label"};
  std::string dir = tmp.mkdir("disks");
  std::string d0 = make_pattern_file(dir + "/d0.img", kSize, 21);
  std::string d1 = make_pattern_file(dir + "/d1.img", kSize, 22);
  REQUIRE_OK(cmd({"label", "dup", d0}));
  REQUIRE_OK(cmd({"label", "-A", "dup", d1}));
  const std::string u0 = dump(d0)["UUID"], u1 = dump(d1)["UUID"];
  REQUIRE(u0 != u1);

  Daemon d(tmp, "none", "scan=" + dir + "/*.img");
  auto t = parse_status(d.status_text());
  REQUIRE(t.volumes.size() == 2);
  std::map<std::string, std::string> by_uuid;  // uuid -> volume name
  for (auto& v : t.volumes) by_uuid[d.status(v.name).at("uuid").get<std::string>()] = v.name;
  REQUIRE(by_uuid.count(u0) == 1);
  REQUIRE(by_uuid.count(u1) == 1);
  const std::string first = by_uuid[u0], second = by_uuid[u1];
  CHECK(first == "dup");  // the glob's order: d0 first
  CHECK(second != "dup");
  CHECK(second.rfind("dup", 0) == 0);
  CHECK(second.size() <= 15);
  CHECK(d.status(second).at("mode") == "active-active");
  CHECK_THAT(d.log(), Contains("taken") && Contains(second));
  // No data became unreachable.
  CHECK(read_range(d.vol(first), 0, 64 * KiB) == pattern(21, 0, 64 * KiB));
  CHECK(read_range(d.vol(second), 0, 64 * KiB) == pattern(22, 0, 64 * KiB));
}
