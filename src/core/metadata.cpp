#include "core/metadata.hpp"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <random>
#include <string_view>

namespace mpathfs {
namespace {

// Field offsets and sizes of the encoded record (see the header).
constexpr size_t kMagicOff = 0;
constexpr size_t kUuidOff = 16;
constexpr size_t kUuidSize = 40;
constexpr size_t kNameOff = 56;
constexpr size_t kNameSize = 16;
constexpr size_t kVersionOff = 72;
constexpr size_t kSectorSizeOff = 76;
constexpr size_t kSizeOff = 80;
constexpr size_t kModeOff = 88;
static_assert(kModeOff + 1 == kMetadataEncodedSize);

constexpr std::string_view kMagic{"GEOM::MULTIPATH\0", kMetadataMagicSize};

// Explicit byte shifts: the encoding is little-endian on every host.
void put_le(std::span<std::byte> out, size_t off, uint64_t v, size_t width) {
  for (size_t i = 0; i < width; ++i) out[off + i] = static_cast<std::byte>(v >> (8 * i));
}

uint64_t get_le(std::span<const std::byte> in, size_t off, size_t width) {
  uint64_t v = 0;
  for (size_t i = 0; i < width; ++i) v |= static_cast<uint64_t>(in[off + i]) << (8 * i);
  return v;
}

void put_text(std::span<std::byte> out, size_t off, std::string_view s) {
  std::memcpy(out.data() + off, s.data(), s.size());  // the NUL and the rest are already zero
}

// Text up to the first NUL inside the field; FreeBSD's label command leaves
// garbage after the NUL, so the bytes past it are ignored.  nullopt: no NUL.
std::optional<std::string> get_text(std::span<const std::byte> in, size_t off, size_t size) {
  const char* p = reinterpret_cast<const char*>(in.data() + off);
  const char* nul = static_cast<const char*>(std::memchr(p, '\0', size));
  if (nul == nullptr) return std::nullopt;
  return std::string(p, nul);
}

bool holds_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

}  // namespace

VoidResult encode_metadata(const Metadata& md, std::span<std::byte> sector) {
  if (sector.size() < kMetadataEncodedSize)
    return err_inval("metadata needs " + std::to_string(kMetadataEncodedSize) + " bytes, the sector has " +
                     std::to_string(sector.size()));
  // One byte of each text field is the terminating NUL.
  if (md.name.size() > kNameSize - 1 || holds_nul(md.name))
    return err_inval("volume name '" + md.name + "' does not fit the metadata (at most 15 characters)");
  if (md.uuid.size() > kUuidSize - 1 || holds_nul(md.uuid))
    return err_inval("UUID '" + md.uuid + "' does not fit the metadata (at most 39 characters)");
  const auto mode = static_cast<uint8_t>(md.mode);
  if (mode > static_cast<uint8_t>(Mode::kActiveRead)) return err_inval("bad mode " + std::to_string(mode));

  std::fill(sector.begin(), sector.end(), std::byte{0});
  put_text(sector, kMagicOff, kMagic);
  put_text(sector, kUuidOff, md.uuid);
  put_text(sector, kNameOff, md.name);
  put_le(sector, kVersionOff, md.version, 4);
  put_le(sector, kSectorSizeOff, md.sector_size, 4);
  put_le(sector, kSizeOff, md.size, 8);
  sector[kModeOff] = static_cast<std::byte>(mode);
  return {};
}

bool has_metadata_magic(std::span<const std::byte> sector) {
  return sector.size() >= kMetadataMagicSize &&
         std::memcmp(sector.data() + kMagicOff, kMagic.data(), kMetadataMagicSize) == 0;
}

Result<std::optional<Metadata>> decode_metadata(std::span<const std::byte> sector) {
  if (sector.size() < kMetadataEncodedSize)
    return err_inval("a metadata sector has at least " + std::to_string(kMetadataEncodedSize) + " bytes, got " +
                     std::to_string(sector.size()));
  if (!has_metadata_magic(sector)) return std::optional<Metadata>{};

  Metadata md;
  auto uuid = get_text(sector, kUuidOff, kUuidSize);
  if (!uuid) return err_inval("malformed metadata: the UUID field has no terminating NUL");
  auto name = get_text(sector, kNameOff, kNameSize);
  if (!name) return err_inval("malformed metadata: the name field has no terminating NUL");
  const auto mode = static_cast<uint8_t>(sector[kModeOff]);
  if (mode > static_cast<uint8_t>(Mode::kActiveRead))
    return err_inval("malformed metadata: mode byte " + std::to_string(mode) + " is not 0, 1 or 2");

  md.uuid = std::move(*uuid);
  md.name = std::move(*name);
  md.version = static_cast<uint32_t>(get_le(sector, kVersionOff, 4));
  md.sector_size = static_cast<uint32_t>(get_le(sector, kSectorSizeOff, 4));
  md.size = get_le(sector, kSizeOff, 8);
  md.mode = static_cast<Mode>(mode);
  return std::optional<Metadata>{std::move(md)};
}

std::string new_uuid() {
  std::array<uint8_t, 16> b{};
  // getrandom(2) draws from the kernel's pool without a file descriptor and
  // cannot fail once the pool is initialised; std::random_device is the
  // fallback for a kernel without it.
  size_t got = 0;
  while (got < b.size()) {
    ssize_t n = ::getrandom(b.data() + got, b.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    got += static_cast<size_t>(n);
  }
  if (got < b.size()) {
    std::random_device rd;
    for (auto& x : b) x = static_cast<uint8_t>(rd());
  }
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // variant 10xx (RFC 4122)

  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += kHex[b[i] >> 4];
    s += kHex[b[i] & 0x0f];
  }
  return s;
}

}  // namespace mpathfs
