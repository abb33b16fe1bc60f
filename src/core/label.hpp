// gmultipath metadata on paths: read, write and erase the last sector
// through PathIo, and the `label` / `clear` operations of the CLI.
//
// All I/O goes through PathIo, so it works on O_DIRECT paths whose
// alignment (up to 4096) is larger than the sector (512): the aligned span
// around the last sector is read, patched and written back whole.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/metadata.hpp"
#include "core/mode.hpp"
#include "core/path_io.hpp"
#include "core/result.hpp"

namespace mpathfs {

// Where the metadata lives: the last sector, size - sector_size.  The path
// must hold at least one sector.
uint64_t metadata_offset(const PathIo& io);

// Reads and decodes the last sector: nullopt when it is not ours; EINVAL when
// it is ours but malformed or the path is smaller than a sector; the read's
// errno when the I/O fails.
Result<std::optional<Metadata>> read_metadata(PathIo& io);

// What a path's last sector says about its identity.  Only kUnreadable is
// an I/O failure (the path may join as FAIL and be checked again later);
// kMalformed is a sector with the magic that does not decode: a foreign or
// damaged label, never a path of a labeled volume.
enum class LabelKind {
  kNone,        // no magic, or the path cannot hold a label (smaller than a sector)
  kLabel,       // decoded: `md`
  kMalformed,   // the magic, then an undecodable field: `error` names it
  kUnreadable,  // the read failed or came back short: `error` has its errno
};
struct LabelTaste {
  LabelKind kind = LabelKind::kNone;
  Metadata md;  // kLabel only
  Error error;  // kMalformed / kUnreadable: why
};
LabelTaste taste_label(PathIo& io);

// Whether a path whose last sector reads as `t` is a path of the labeled
// volume `uuid` whose paths have `path_size` bytes and sectors of `sector`
// bytes.  EINVAL naming the field that differs (or what is malformed);
// kUnreadable gives back the read's error.
VoidResult check_label_identity(const LabelTaste& t, const std::string& path, const std::string& uuid,
                            uint64_t path_size, uint32_t sector);

// Writes `md` as the whole last sector (zero after the record), then
// fdatasync, so the label is on stable storage when this returns.
VoidResult write_metadata(PathIo& io, const Metadata& md);

// Zeroes the whole last sector, then fdatasync (destroy of a labeled volume).
VoidResult erase_metadata(PathIo& io);

// Writes a new label (fresh UUID, size = the full path size) to `io`, named
// `path` in messages.  Refused when the path is smaller than two sectors
// (EINVAL) or, unless `force`, already carries a label (EEXIST) or a
// malformed one (EINVAL).  The metadata written.
Result<Metadata> write_new_label(PathIo& io, const std::string& path, const std::string& name, Mode mode,
                                 bool force);

// Whether the last sector read through `io` holds exactly `md` as written
// (all of its bytes): another path to the same disk shows it.  The read's
// error when it fails.
Result<bool> shows_label(PathIo& io, const Metadata& md);

// `mpathfs label [-A|-R] [-f] NAME PATH...`
struct LabelRequest {
  std::string name;
  Mode mode = Mode::kActivePassive;
  std::vector<std::string> paths;  // the first one is written
  bool force = false;              // overwrite a first path that is already labeled
};

struct LabelReport {
  Metadata written;
  // One line per further path that does not show the written sector (or
  // cannot be opened or read): it does not lead to the same disk.
  std::vector<std::string> warnings;
};

// gmultipath label: every path must have the same size and sector size
// (else EINVAL and nothing is written) and at least two sectors; a first path
// that already carries metadata is refused (EEXIST) unless `force`.  Writes
// a new label (fresh UUID, size = full path size) to the first path only,
// then reads the last sector back through every other path, freshly opened,
// and compares all of its bytes.
Result<LabelReport> label_paths(const LabelRequest& req);

// gmultipath clear: EINVAL "Can't clear metadata on PATH" when the last
// sector does not start with the magic (the path is left alone); otherwise
// the whole sector is zeroed.
VoidResult clear_path(const std::string& path);

}  // namespace mpathfs
