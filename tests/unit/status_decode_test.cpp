// status.json read back (src/core/status_decode.cpp) and the script-mode
// table (render_status_script): what the CLI shows is what the daemon wrote.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "core/status_decode.hpp"
#include "core/status_render.hpp"

using namespace mpathfs;

namespace {

VolumeStatus sample() {
  VolumeStatus v;
  v.name = "vol 0";  // a blank: shown escaped, read back raw
  v.mode = Mode::kActiveRead;
  v.state = VolumeState::kDegraded;
  v.size = 4194304;
  v.path_size = 4194816;
  v.sector_size = 512;
  v.uuid = "1b2c3d4e-0000-4000-8000-000000000001";
  v.no_path_retry = 3;
  v.io_timeout = 2.5;
  v.queued = 7;
  v.open_handles = 2;
  PathStatus a;
  a.path = "/srv/a\\b.img";
  a.state = PathState::kFail;
  a.checker = "down";
  a.lost = true;
  a.last_error = "EIO";
  a.reads = 1;
  a.writes = 2;
  a.read_bytes = 4096;
  a.write_bytes = 8192;
  a.errors = 5;
  a.inflight = 1;
  a.mean_latency_us = 12.5;
  PathStatus b;
  b.path = "/srv/b.img";
  b.state = PathState::kActive;
  b.checker = "up";
  b.direct = true;
  v.paths = {a, b};
  return v;
}

}  // namespace

TEST_CASE("status.json decodes back to the snapshot it was rendered from", "[status][decode]") {
  const VolumeStatus v = sample();
  auto back = volume_from_json(volume_to_json(v));
  REQUIRE(back.ok());
  // Every field shows in the per-volume text and the JSON: equal renderings, equal snapshots.
  CHECK(render_volume_json(*back) == render_volume_json(v));
  CHECK(render_volume_text(*back) == render_volume_text(v));
  CHECK(render_status_table({*back}) == render_status_table({v}));
  CHECK(back->name == "vol 0");
  CHECK(back->paths.at(0).path == "/srv/a\\b.img");
}

TEST_CASE("status.json decoding refuses what it cannot read", "[status][decode]") {
  nlohmann::json j = volume_to_json(sample());
  SECTION("not an object") { CHECK(volume_from_json(nlohmann::json::array()).error().code == EPROTO); }
  SECTION("an unknown state") {
    j["state"] = "SLEEPY";
    CHECK(volume_from_json(j).error().code == EPROTO);
  }
  SECTION("a bad escape in a path") {
    j["paths"][0]["path"] = "/a\\9";
    CHECK(volume_from_json(j).error().code == EPROTO);
  }
  SECTION("no name") {
    j.erase("name");
    CHECK(volume_from_json(j).error().code == EPROTO);
  }
}

TEST_CASE("state words read back", "[status][decode]") {
  for (auto s : {PathState::kActive, PathState::kPassive, PathState::kRead, PathState::kFail})
    CHECK(parse_path_state(path_state_name(s)) == s);
  for (auto s : {VolumeState::kOptimal, VolumeState::kDegraded, VolumeState::kBroken})
    CHECK(parse_volume_state(volume_state_name(s)) == s);
  CHECK_FALSE(parse_path_state("active"));
  CHECK_FALSE(parse_volume_state(""));
}

TEST_CASE("status -s: NAME and STATE on every line, no header, no padding", "[status][table]") {
  VolumeStatus v = sample();
  VolumeStatus empty;
  empty.name = "e";
  empty.state = VolumeState::kBroken;
  CHECK(render_status_script({v, empty}) ==
        "vol\\0400  DEGRADED  /srv/a\\134b.img (FAIL)\n"
        "vol\\0400  DEGRADED  /srv/b.img (ACTIVE)\n"
        "e  BROKEN\n");
  CHECK(render_status_script({}).empty());
}
