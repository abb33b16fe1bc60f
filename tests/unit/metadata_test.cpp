// gmultipath metadata encoding: checked against a sector built by hand from
// the documented layout (reference/gmultipath-notes.md §1), not from the
// code under test.
#include <catch2/catch.hpp>

#include <array>
#include <cstring>
#include <regex>
#include <set>
#include <vector>

#include "core/metadata.hpp"

namespace mpathfs {
namespace {

using Bytes = std::vector<std::byte>;

void put_ascii(Bytes& s, size_t off, const char* text) {
  for (size_t i = 0; text[i] != '\0'; ++i) s[off + i] = static_cast<std::byte>(text[i]);
}

void put_bytes(Bytes& s, size_t off, std::initializer_list<uint8_t> bytes) {
  for (uint8_t b : bytes) s[off++] = static_cast<std::byte>(b);
}

constexpr const char* kUuid = "5f0b7a4e-2c1d-4e8f-9a6b-3d2c1b0a9f8e";

// The notes' example: a 64 MiB file, 512-byte sectors, here Active/Active.
Bytes golden_sector() {
  Bytes s(512, std::byte{0});
  put_bytes(s, 0, {0x47, 0x45, 0x4f, 0x4d, 0x3a, 0x3a, 0x4d, 0x55, 0x4c, 0x54, 0x49, 0x50, 0x41, 0x54, 0x48, 0x00});
  put_ascii(s, 16, kUuid);  // 36 characters: bytes 16..51, NUL at 52
  put_ascii(s, 56, "vm1");
  put_bytes(s, 72, {0x01, 0x00, 0x00, 0x00});                          // version 1
  put_bytes(s, 76, {0x00, 0x02, 0x00, 0x00});                          // sector size 512
  put_bytes(s, 80, {0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00});  // 64 MiB
  put_bytes(s, 88, {0x01});                                            // Active/Active
  return s;
}

Metadata golden_metadata() {
  Metadata md;
  md.uuid = kUuid;
  md.name = "vm1";
  md.version = 1;
  md.sector_size = 512;
  md.size = 64ull << 20;
  md.mode = Mode::kActiveActive;
  return md;
}

}  // namespace

TEST_CASE("encode_metadata writes the golden sector byte for byte", "[metadata]") {
  Bytes sector(512, std::byte{0xaa});  // garbage first: encode must zero-fill
  REQUIRE(encode_metadata(golden_metadata(), sector).ok());
  CHECK(sector == golden_sector());
}

TEST_CASE("encode_metadata: little-endian integers at their offsets", "[metadata]") {
  Metadata md = golden_metadata();
  md.version = 0x04030201;
  md.sector_size = 0x08070605;
  md.size = 0x100f0e0d0c0b0a09ull;
  md.mode = Mode::kActiveRead;
  Bytes sector(4096);
  REQUIRE(encode_metadata(md, sector).ok());
  for (size_t i = 0; i < 16; ++i) CHECK(static_cast<int>(sector[72 + i]) == static_cast<int>(i + 1));
  CHECK(sector[88] == std::byte{2});
  for (size_t i = 89; i < sector.size(); ++i) REQUIRE(sector[i] == std::byte{0});
}

TEST_CASE("decode_metadata reads the golden sector", "[metadata]") {
  auto r = decode_metadata(golden_sector());
  REQUIRE(r.ok());
  REQUIRE(r->has_value());
  CHECK(**r == golden_metadata());
}

TEST_CASE("decode_metadata ignores garbage after the NUL of uuid and name", "[metadata]") {
  // FreeBSD's label command does not zero the struct before strlcpy.
  Bytes s = golden_sector();
  for (size_t i = 53; i < 56; ++i) s[i] = std::byte{0xee};  // uuid field: NUL at 52, then garbage
  put_ascii(s, 60, "garbage!!!!");                        // name field: NUL at 59, garbage up to 71
  s[71] = std::byte{'X'};
  auto r = decode_metadata(s);
  REQUIRE(r.ok());
  REQUIRE(r->has_value());
  CHECK((*r)->uuid == kUuid);
  CHECK((*r)->name == "vm1");
}

TEST_CASE("decode_metadata: not ours is nullopt", "[metadata]") {
  SECTION("zeroed sector") { CHECK_FALSE(decode_metadata(Bytes(512)).value().has_value()); }
  SECTION("other magic") {
    Bytes s = golden_sector();
    put_ascii(s, 0, "GEOM::MIRROR");
    CHECK_FALSE(decode_metadata(s).value().has_value());
  }
  SECTION("magic without its NUL") {
    Bytes s = golden_sector();
    s[15] = std::byte{'X'};
    CHECK_FALSE(decode_metadata(s).value().has_value());
    CHECK_FALSE(has_metadata_magic(s));
  }
}

TEST_CASE("decode_metadata: ours but malformed is EINVAL", "[metadata]") {
  Bytes s = golden_sector();
  SECTION("uuid field without NUL") {
    for (size_t i = 16; i < 56; ++i) s[i] = std::byte{'a'};
  }
  SECTION("name field without NUL") {
    for (size_t i = 56; i < 72; ++i) s[i] = std::byte{'n'};
  }
  SECTION("mode byte 3") { s[88] = std::byte{3}; }
  CHECK(has_metadata_magic(s));
  auto r = decode_metadata(s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == EINVAL);
}

TEST_CASE("decode_metadata: a span shorter than the record is EINVAL", "[metadata]") {
  Bytes s = golden_sector();
  s.resize(kMetadataEncodedSize - 1);
  auto r = decode_metadata(s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == EINVAL);
}

TEST_CASE("decode_metadata returns any version as read", "[metadata]") {
  Bytes s = golden_sector();
  put_bytes(s, 72, {0x02, 0x00, 0x00, 0x00});
  auto r = decode_metadata(s);
  REQUIRE(r.ok());
  CHECK((*r)->version == 2);
}

TEST_CASE("metadata round trip", "[metadata]") {
  Metadata md;
  md.uuid = new_uuid();
  md.name = GENERATE(as<std::string>{}, "a", "vm1", "exactly15chars.");
  md.sector_size = GENERATE(512u, 4096u);
  md.size = GENERATE(1024ull, 64ull << 20, 0xfedcba9876543210ull);
  md.mode = GENERATE(Mode::kActivePassive, Mode::kActiveActive, Mode::kActiveRead);
  Bytes sector(md.sector_size);
  REQUIRE(encode_metadata(md, sector).ok());
  auto r = decode_metadata(sector);
  REQUIRE(r.ok());
  REQUIRE(r->has_value());
  CHECK(**r == md);
}

TEST_CASE("metadata round trip of a manual (empty) uuid and a 39-char uuid", "[metadata]") {
  Metadata md = golden_metadata();
  md.uuid = GENERATE(as<std::string>{}, "", std::string(39, 'u'));
  Bytes sector(512);
  REQUIRE(encode_metadata(md, sector).ok());
  CHECK(decode_metadata(sector).value().value() == md);
}

TEST_CASE("encode_metadata refuses what does not fit, leaving the sector alone", "[metadata]") {
  Metadata md = golden_metadata();
  Bytes sector(512, std::byte{0x11});
  SECTION("name of 16 characters") { md.name = "sixteen-chars-xx"; }
  SECTION("uuid of 40 characters") { md.uuid = std::string(40, 'u'); }
  SECTION("name with a NUL") { md.name = std::string("a\0b", 3); }
  SECTION("mode out of range") { md.mode = static_cast<Mode>(3); }
  SECTION("sector shorter than the record") { sector.resize(kMetadataEncodedSize - 1); }
  auto s = encode_metadata(md, sector);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == EINVAL);
  for (auto b : sector) REQUIRE(b == std::byte{0x11});
}

TEST_CASE("encode_metadata fits a sector of exactly 89 bytes", "[metadata]") {
  Bytes sector(kMetadataEncodedSize);
  REQUIRE(encode_metadata(golden_metadata(), sector).ok());
  Bytes golden = golden_sector();
  golden.resize(kMetadataEncodedSize);
  CHECK(sector == golden);
}

TEST_CASE("new_uuid: RFC 4122 version 4, lowercase, hyphenated, distinct", "[metadata]") {
  const std::regex form("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string u = new_uuid();
    REQUIRE(u.size() == 36);
    REQUIRE(std::regex_match(u, form));
    seen.insert(u);
  }
  CHECK(seen.size() == 100);
}

}  // namespace mpathfs
