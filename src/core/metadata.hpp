// gmultipath's on-disk metadata (the "automatic" label), encoded and decoded
// as pure functions over one sector's bytes.  Layout (FreeBSD g_multipath.h,
// restated in reference/gmultipath-notes.md §1), little-endian on every host:
//
//   off  len  field
//     0   16  magic "GEOM::MULTIPATH\0"
//    16   40  uuid, text + NUL (36-char lowercase hyphenated when labeled)
//    56   16  name, text + NUL (at most 15 characters)
//    72    4  version (u32, must be 1)
//    76    4  sector size of the path when labeled (u32, 0 = do not check)
//    80    8  full media size of the path, metadata sector included (u64)
//    88    1  mode: 0 Active/Passive, 1 Active/Active, 2 Active/Read
//    89  ...  zero up to the end of the sector
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "core/mode.hpp"
#include "core/result.hpp"

namespace mpathfs {

inline constexpr size_t kMetadataEncodedSize = 89;
inline constexpr size_t kMetadataMagicSize = 16;
inline constexpr uint32_t kMetadataVersion = 1;  // G_MULTIPATH_VERSION

struct Metadata {
  std::string uuid;  // empty: a "manual" volume
  std::string name;
  uint32_t version = kMetadataVersion;
  uint32_t sector_size = 0;
  uint64_t size = 0;
  Mode mode = Mode::kActivePassive;

  friend bool operator==(const Metadata&, const Metadata&) = default;
};

// Zero-fills `sector` (one whole sector) and writes the encoding at its
// start.  EINVAL, with `sector` untouched, when the name is longer than 15
// characters, the uuid longer than 39, either holds a NUL, the mode is not
// one of the three, or `sector` is shorter than kMetadataEncodedSize.
VoidResult encode_metadata(const Metadata& md, std::span<std::byte> sector);

// True when the sector starts with the 16 magic bytes: the sector is ours,
// whatever the rest holds (gmultipath clear tests only this).
bool has_metadata_magic(std::span<const std::byte> sector);

// nullopt when the magic differs (not ours).  EINVAL when it is ours but
// malformed: no NUL inside the uuid or name field, or a mode byte above 2,
// or a span shorter than kMetadataEncodedSize.  The version is returned as
// read; the caller decides (tasting rejects version != 1 with a message).
Result<std::optional<Metadata>> decode_metadata(std::span<const std::byte> sector);

// A random RFC 4122 version 4 UUID, 36 characters, lowercase, hyphenated
// (what FreeBSD's uuid_to_string prints).
std::string new_uuid();

}  // namespace mpathfs
