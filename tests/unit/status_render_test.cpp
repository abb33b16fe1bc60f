// Renderings of status snapshots (src/core/status_render.cpp): SPEC
// "cat MNT/status", "cat MNT/ctl/VOL/status", "status.json"; notes §8.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <sstream>

#include "core/status_render.hpp"
#include "unit/fake_path_io.hpp"

using namespace mpathfs;
using namespace mpathfs::test;

namespace {

PathStatus path(std::string name, PathState s) {
  PathStatus p;
  p.path = std::move(name);
  p.state = s;
  p.checker = "unknown";
  return p;
}

VolumeStatus volume(std::string name, VolumeState s, std::vector<PathStatus> paths) {
  VolumeStatus v;
  v.name = std::move(name);
  v.state = s;
  v.size = 1073741824;
  v.paths = std::move(paths);
  return v;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream is(text);
  for (std::string l; std::getline(is, l);) out.push_back(l);
  return out;
}

// SPEC's example.
std::vector<VolumeStatus> spec_example() {
  return {volume("vol0", VolumeState::kDegraded,
                 {path("/dev/sdb", PathState::kFail), path("/dev/sdc", PathState::kActive)}),
          volume("vm1", VolumeState::kOptimal,
                 {path("/srv/a/vm1.img", PathState::kActive), path("/srv/b/vm1.img", PathState::kPassive)})};
}

}  // namespace

TEST_CASE("state words", "[status]") {
  CHECK(std::string(path_state_name(PathState::kActive)) == "ACTIVE");
  CHECK(std::string(path_state_name(PathState::kPassive)) == "PASSIVE");
  CHECK(std::string(path_state_name(PathState::kRead)) == "READ");
  CHECK(std::string(path_state_name(PathState::kFail)) == "FAIL");
  CHECK(std::string(volume_state_name(VolumeState::kOptimal)) == "OPTIMAL");
  CHECK(std::string(volume_state_name(VolumeState::kDegraded)) == "DEGRADED");
  CHECK(std::string(volume_state_name(VolumeState::kBroken)) == "BROKEN");
}

TEST_CASE("status table: SPEC's example, byte for byte", "[status][table]") {
  const std::string expect =
      "Name    Status    Components\n"
      "vol0    DEGRADED  /dev/sdb (FAIL)\n"
      "                  /dev/sdc (ACTIVE)\n"
      "vm1     OPTIMAL   /srv/a/vm1.img (ACTIVE)\n"
      "                  /srv/b/vm1.img (PASSIVE)\n";
  CHECK(render_status_table(spec_example()) == expect);
}

TEST_CASE("status table: header first, one line per path, name and state on the first line only", "[status][table]") {
  auto vols = spec_example();
  vols.push_back(volume("three", VolumeState::kBroken,
                        {path("/a", PathState::kFail), path("/b", PathState::kFail), path("/c", PathState::kFail)}));
  auto ls = lines_of(render_status_table(vols));
  REQUIRE(ls.size() == 1 + 2 + 2 + 3);
  CHECK(ls[0].rfind("Name", 0) == 0);
  CHECK(ls[0].find("Status") != std::string::npos);
  CHECK(ls[0].find("Components") != std::string::npos);
  CHECK(ls[5].rfind("three", 0) == 0);
  CHECK(ls[5].find("BROKEN") != std::string::npos);
  CHECK(ls[5].find("/a (FAIL)") != std::string::npos);
  for (int i : {6, 7}) {
    CHECK(ls[i].find("three") == std::string::npos);
    CHECK(ls[i].find("BROKEN") == std::string::npos);
    CHECK(ls[i].find_first_not_of(' ') == ls[0].find("Components"));
  }
  for (auto& l : ls) CHECK(l.back() != ' ');  // no trailing blanks
}

TEST_CASE("status table: columns adapt to a long name", "[status][table]") {
  auto vols = spec_example();
  vols.push_back(volume("longer-name.015", VolumeState::kOptimal,
                        {path("/x", PathState::kActive), path("/y", PathState::kPassive)}));
  auto ls = lines_of(render_status_table(vols));
  REQUIRE(ls.size() == 7);
  const size_t status_col = ls[0].find("Status");
  const size_t comp_col = ls[0].find("Components");
  CHECK(status_col >= std::string("longer-name.015").size() + 2);
  // Every line's state and components start under their headers.
  CHECK(ls[1].find("DEGRADED") == status_col);
  CHECK(ls[3].find("OPTIMAL") == status_col);
  CHECK(ls[5].find("OPTIMAL") == status_col);
  CHECK(ls[5].rfind("longer-name.015", 0) == 0);
  for (size_t i = 1; i < ls.size(); ++i) {
    INFO(ls[i]);
    CHECK(ls[i].find('/') == comp_col);
  }
}

TEST_CASE("status table: no volumes gives the header only", "[status][table]") {
  auto ls = lines_of(render_status_table({}));
  REQUIRE(ls.size() == 1);
  CHECK(ls[0].find("Components") != std::string::npos);
}

TEST_CASE("status table from a live volume", "[status][table]") {
  FakeVolume fv(2);
  REQUIRE(fv.vol->fail_path("p0"));
  auto t = render_status_table({fv.vol->status()});
  CHECK(t ==
        "Name    Status    Components\n"
        "vol0    DEGRADED  p0 (FAIL)\n"
        "                  p1 (ACTIVE)\n");
}

TEST_CASE("per-volume text: mode, state, size and one line per path", "[status][text]") {
  FakeVolume fv(2, {}, FakeVolume::default_settings(Mode::kActiveRead));
  REQUIRE(fv.write(0, 4096, std::byte{1}) == 4096);
  fv.io(1).read_errno = EIO;
  REQUIRE(fv.vol->fail_path("p1"));
  auto t = render_volume_text(fv.vol->status());
  INFO(t);
  CHECK(t.find("vol0") != std::string::npos);
  CHECK(t.find("active-read") != std::string::npos);
  CHECK(t.find("DEGRADED") != std::string::npos);
  CHECK(t.find(std::to_string(fv.vol->size())) != std::string::npos);
  auto ls = lines_of(t);
  int p0 = 0, p1 = 0;
  for (auto& l : ls) {
    if (l.rfind("p0 ", 0) == 0) {
      ++p0;
      CHECK(l.find("ACTIVE") != std::string::npos);
      CHECK(l.find("4096") != std::string::npos);  // write bytes
    }
    if (l.rfind("p1 ", 0) == 0) {
      ++p1;
      CHECK(l.find("FAIL") != std::string::npos);
    }
  }
  CHECK(p0 == 1);
  CHECK(p1 == 1);
}

TEST_CASE("per-volume text shows the UUID of a labeled volume", "[status][text]") {
  auto v = volume("lab", VolumeState::kOptimal, {path("/a", PathState::kActive)});
  v.uuid = "0b5e6a1e-7d0c-4c39-9b6a-2f7a0c1d2e3f";
  auto t = render_volume_text(v);
  CHECK(t.find("0b5e6a1e-7d0c-4c39-9b6a-2f7a0c1d2e3f") != std::string::npos);
}

TEST_CASE("status.json: SPEC keys and types", "[status][json]") {
  auto v = volume("vol0", VolumeState::kDegraded,
                  {path("/dev/sdb", PathState::kFail), path("/dev/sdc", PathState::kActive)});
  v.paths[0].reads = 10;
  v.paths[0].writes = 4;
  v.paths[0].read_bytes = 40960;
  v.paths[0].write_bytes = 16384;
  v.paths[0].errors = 1;
  v.paths[0].last_error = "EIO";
  auto text = render_volume_json(v);
  CHECK(text.back() == '\n');
  auto j = nlohmann::json::parse(text);
  CHECK(j["name"] == "vol0");
  CHECK(j["mode"] == "active-passive");
  CHECK(j["state"] == "DEGRADED");
  CHECK(j["size"] == 1073741824);
  CHECK(j["size"].is_number_unsigned());
  REQUIRE(j.contains("uuid"));
  CHECK(j["uuid"].is_null());
  REQUIRE(j["paths"].is_array());
  REQUIRE(j["paths"].size() == 2);
  auto& p = j["paths"][0];
  for (const char* k : {"path", "state", "reads", "writes", "read_bytes", "write_bytes", "errors", "inflight",
                        "last_error"}) {
    INFO(k);
    CHECK(p.contains(k));
  }
  CHECK(p["path"] == "/dev/sdb");
  CHECK(p["state"] == "FAIL");
  CHECK(p["reads"] == 10);
  CHECK(p["writes"] == 4);
  CHECK(p["read_bytes"] == 40960);
  CHECK(p["write_bytes"] == 16384);
  CHECK(p["errors"] == 1);
  CHECK(p["inflight"] == 0);
  CHECK(p["last_error"] == "EIO");
  CHECK(j["paths"][1]["state"] == "ACTIVE");
  CHECK(j["paths"][1]["last_error"].is_null());
}

TEST_CASE("status.json: uuid, modes and path order from a live volume", "[status][json]") {
  auto s = FakeVolume::default_settings(Mode::kActiveActive);
  s.uuid = "0b5e6a1e-7d0c-4c39-9b6a-2f7a0c1d2e3f";
  FakeVolume fv(3, {}, s);
  REQUIRE(fv.vol->fail_path("p1"));
  auto j = nlohmann::json::parse(render_volume_json(fv.vol->status()));
  CHECK(j["uuid"] == "0b5e6a1e-7d0c-4c39-9b6a-2f7a0c1d2e3f");
  CHECK(j["mode"] == "active-active");
  CHECK(j["state"] == "DEGRADED");
  REQUIRE(j["paths"].size() == 3);
  CHECK(j["paths"][0]["path"] == "p0");
  CHECK(j["paths"][1]["path"] == "p1");
  CHECK(j["paths"][2]["path"] == "p2");
  CHECK(j["paths"][0]["state"] == "ACTIVE");
  CHECK(j["paths"][1]["state"] == "FAIL");
  CHECK(j["paths"][2]["state"] == "ACTIVE");
  fv.vol->set_mode(Mode::kActiveRead);
  j = volume_to_json(fv.vol->status());
  CHECK(j["mode"] == "active-read");
  CHECK(j["paths"][2]["state"] == "READ");
}

TEST_CASE("status.json escapes odd path names", "[status][json]") {
  // A blank and a backslash travel as the control grammar's \ooo, quotes
  // as JSON's own escapes.
  auto v = volume("v", VolumeState::kOptimal, {path("/srv/a \"b\"\\c", PathState::kActive)});
  auto j = nlohmann::json::parse(render_volume_json(v));
  CHECK(j["paths"][0]["path"] == "/srv/a\\040\"b\"\\134c");
}

TEST_CASE("status.json stays valid JSON with names that are not UTF-8", "[status][json][escape]") {
  // A path from ctl/create, a UUID from a label: any bytes.  dump() threw
  // (type_error 316) and status.json failed with EIO for the whole volume.
  auto v = volume("v", VolumeState::kOptimal, {path("/srv/\xff\xfe.img", PathState::kActive),
                                               path("/srv/ok.img", PathState::kPassive)});
  v.uuid = std::string("\xc3\x28-uuid");
  std::string text;
  REQUIRE_NOTHROW(text = render_volume_json(v));
  auto j = nlohmann::json::parse(text);
  CHECK(j["paths"][0]["path"] == "/srv/\\377\\376.img");
  CHECK(j["paths"][1]["path"] == "/srv/ok.img");
  CHECK(j["uuid"] == "\\303(-uuid");
}

TEST_CASE("status text shows no raw control characters or terminal escapes", "[status][table][text][escape]") {
  auto v = volume("v", VolumeState::kOptimal, {path("/srv/\x1b]0;pwned\x07\x1b[2J", PathState::kActive),
                                               path("/srv/my disk", PathState::kPassive)});
  v.uuid = std::string("\x1b[31m");
  for (const std::string& t : {render_status_table({v}), render_volume_text(v)}) {
    INFO(t);
    for (unsigned char c : t) CHECK(((c >= 0x20 || c == '\n') && c != 0x7f));
    CHECK(t.find("/srv/\\033]0;pwned\\007\\033[2J") != std::string::npos);
    CHECK(t.find("/srv/my\\040disk") != std::string::npos);
  }
  // A path longer than any fixed line buffer is shown whole.
  const std::string longp = "/" + std::string(3000, 'p');
  auto t = render_volume_text(volume("v", VolumeState::kOptimal, {path(longp, PathState::kActive)}));
  CHECK(t.find(longp + "  ACTIVE") != std::string::npos);
}
