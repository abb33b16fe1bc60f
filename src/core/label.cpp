#include "core/label.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <span>

#include "core/aligned_buffer.hpp"
#include "core/path_open.hpp"
#include "core/volume_name.hpp"

namespace mpathfs {
namespace {

// The I/O that covers the last sector: O_DIRECT moves whole align() units,
// so the span starts and ends on that alignment and the sector sits inside.
struct SectorWindow {
  uint64_t off = 0;       // where the I/O starts
  size_t len = 0;         // how much it moves
  size_t sector_at = 0;   // the sector's offset inside the window
  size_t sector_len = 0;  // the sector size
};

Result<SectorWindow> last_sector_window(const PathIo& io) {
  const uint64_t size = io.size();
  const uint32_t sector = io.sector_size();
  if (sector < kMetadataEncodedSize)
    return err_inval("sector size " + std::to_string(sector) + " cannot hold the metadata");
  if (size < sector) return err_inval("path of " + std::to_string(size) + " bytes holds no whole sector");
  const uint64_t align = std::max<uint32_t>(io.align(), 1);
  const uint64_t off = size - sector;
  const uint64_t start = off - off % align;
  const uint64_t end = (off + sector + align - 1) / align * align;
  // Past the end a write would grow a file; PosixPathIo already opens such
  // files buffered, so this only guards other PathIo implementations.
  if (end > size)
    return err_inval("path size " + std::to_string(size) + " is not a multiple of its I/O alignment " +
                     std::to_string(align));
  return SectorWindow{start, static_cast<size_t>(end - start), static_cast<size_t>(off - start), sector};
}

AlignedBuffer window_buffer(const PathIo& io, const SectorWindow& w) {
  return AlignedBuffer(w.len, std::max<size_t>(kMaxAlign, std::bit_ceil(std::max<uint32_t>(io.align(), 1))));
}

std::span<std::byte> sector_of(const AlignedBuffer& buf, const SectorWindow& w) {
  return {buf.data() + w.sector_at, w.sector_len};
}

VoidResult read_window(PathIo& io, const SectorWindow& w, const AlignedBuffer& buf) {
  const ssize_t n = io.pread(buf.data(), w.len, w.off);
  if (n < 0) return Error{static_cast<int>(-n), "cannot read the metadata sector at offset " + std::to_string(w.off)};
  if (static_cast<size_t>(n) < w.len)
    return err_io("short read of the metadata sector at offset " + std::to_string(w.off));
  return {};
}

// Raw bytes of the last sector (label's read-back compares all of them).
Result<std::vector<std::byte>> read_last_sector(PathIo& io) {
  auto w = last_sector_window(io);
  if (!w) return w.error();
  AlignedBuffer buf = window_buffer(io, *w);
  if (auto r = read_window(io, *w, buf); !r) return r.error();
  auto s = sector_of(buf, *w);
  return std::vector<std::byte>(s.begin(), s.end());
}

// Replaces the last sector with `bytes` and makes it durable.  When the
// window is wider than the sector, its other bytes are read first and
// written back unchanged (read-modify-write).
VoidResult store_last_sector(PathIo& io, std::span<const std::byte> bytes) {
  auto w = last_sector_window(io);
  if (!w) return w.error();
  AlignedBuffer buf = window_buffer(io, *w);
  if (w->len > w->sector_len) {
    if (auto r = read_window(io, *w, buf); !r) return r.error();
  }
  auto s = sector_of(buf, *w);
  std::copy(bytes.begin(), bytes.end(), s.begin());
  const ssize_t n = io.pwrite(buf.data(), w->len, w->off);
  if (n < 0) return Error{static_cast<int>(-n), "cannot write the metadata sector at offset " + std::to_string(w->off)};
  if (static_cast<size_t>(n) < w->len) return err_io("short write of the metadata sector");
  if (int e = io.fdatasync(); e < 0) return Error{-e, "cannot flush the metadata sector"};
  return {};
}

Result<std::vector<std::byte>> encode_sector(const Metadata& md, uint32_t sector_size) {
  std::vector<std::byte> sector(sector_size);
  if (auto e = encode_metadata(md, sector); !e) return e.error();
  return sector;
}

Error with_path(const std::string& path, const Error& e) { return Error{e.code, path + ": " + e.msg}; }

}  // namespace

uint64_t metadata_offset(const PathIo& io) { return io.size() - io.sector_size(); }

Result<std::optional<Metadata>> read_metadata(PathIo& io) {
  auto s = read_last_sector(io);
  if (!s) return s.error();
  return decode_metadata(*s);
}

LabelTaste taste_label(PathIo& io) {
  LabelTaste t;
  // A window error is a path too small (or of too small a sector) for any
  // label: it carries none.
  auto w = last_sector_window(io);
  if (!w) return t;
  AlignedBuffer buf = window_buffer(io, *w);
  if (auto r = read_window(io, *w, buf); !r) {
    t.kind = LabelKind::kUnreadable;
    t.error = r.error();
    return t;
  }
  auto d = decode_metadata(sector_of(buf, *w));
  if (!d) {
    t.kind = LabelKind::kMalformed;
    t.error = d.error();
  } else if (*d) {
    t.kind = LabelKind::kLabel;
    t.md = std::move(**d);
  }
  return t;
}

VoidResult check_label_identity(const LabelTaste& t, const std::string& path, const std::string& uuid,
                            uint64_t path_size, uint32_t sector) {
  switch (t.kind) {
    case LabelKind::kUnreadable: return Error{t.error.code, "path " + path + ": " + t.error.msg};
    case LabelKind::kNone: return err_inval("path " + path + " carries no metadata, the volume is labeled " + uuid);
    case LabelKind::kMalformed: return err_inval("path " + path + " carries " + t.error.msg);
    case LabelKind::kLabel: break;
  }
  const Metadata& m = t.md;
  if (m.uuid != uuid) return err_inval("path " + path + " carries UUID " + m.uuid + ", the volume has " + uuid);
  if (m.version != kMetadataVersion)
    return err_inval("path " + path + " carries metadata version " + std::to_string(m.version) + ", supported " +
                     std::to_string(kMetadataVersion));
  if (m.sector_size != 0 && m.sector_size != sector)
    return err_inval("path " + path + " carries metadata sector size " + std::to_string(m.sector_size) +
                     ", the path has " + std::to_string(sector));
  if (m.size != 0 && m.size != path_size)
    return err_inval("path " + path + " carries metadata size " + std::to_string(m.size) + ", the path has " +
                     std::to_string(path_size));
  return {};
}

VoidResult write_metadata(PathIo& io, const Metadata& md) {
  auto bytes = encode_sector(md, io.sector_size());
  if (!bytes) return bytes.error();
  return store_last_sector(io, *bytes);
}

VoidResult erase_metadata(PathIo& io) {
  const std::vector<std::byte> zero(io.sector_size());
  return store_last_sector(io, zero);
}

Result<Metadata> write_new_label(PathIo& io, const std::string& path, const std::string& name, Mode mode,
                                 bool force) {
  const uint64_t size = io.size();
  const uint32_t sector = io.sector_size();
  // One sector of data at least, or the volume would be empty.
  if (size < 2ull * sector)
    return err_inval("path " + path + " is too small to label (" + std::to_string(size) +
                     " bytes, at least 2 sectors needed)");
  // Stricter than FreeBSD, which overwrites silently: another volume's label
  // (or a damaged one) is only replaced on request.
  if (!force) {
    const LabelTaste old = taste_label(io);
    if (old.kind == LabelKind::kUnreadable)
      return Error{old.error.code, path + ": " + old.error.msg + " (use -f to overwrite)"};
    if (old.kind == LabelKind::kLabel)
      return err_exist("path " + path + " is already labeled '" + old.md.name + "' (UUID " + old.md.uuid +
                       "); use -f to overwrite, or `mpathfs clear` it");
    if (old.kind == LabelKind::kMalformed)
      return err_inval("path " + path + " carries " + old.error.msg + "; use -f to overwrite, or `mpathfs clear` it");
  }
  Metadata md;
  md.uuid = new_uuid();
  md.name = name;
  md.version = kMetadataVersion;
  md.sector_size = sector;
  md.size = size;  // the full size, metadata sector included
  md.mode = mode;
  auto bytes = encode_sector(md, sector);
  if (!bytes) return bytes.error();
  if (auto w = store_last_sector(io, *bytes); !w) return with_path(path, w.error());
  return md;
}

Result<bool> shows_label(PathIo& io, const Metadata& md) {
  auto expected = encode_sector(md, io.sector_size());
  if (!expected) return expected.error();
  auto got = read_last_sector(io);
  if (!got) return got.error();
  return *got == *expected;
}

Result<LabelReport> label_paths(const LabelRequest& req) {
  if (!valid_volume_name(req.name))
    return err_inval("bad volume name '" + req.name + "' (1-15 characters of A-Za-z0-9._-)");
  if (req.paths.empty()) return err_inval("label needs at least one path");
  const std::string& first_name = req.paths.front();

  // All paths must agree before anything is written (gmultipath mp_label).
  // Only the first stays open: the others are read back after the write
  // through fresh opens, as FreeBSD does, so no stale cache can answer.
  std::unique_ptr<PathIo> first;
  for (const auto& p : req.paths) {
    auto io = open_path(p, OpenOptions{});
    if (!io) return io.error();
    if (!first) {
      first = std::move(io).value();
      continue;
    }
    if ((*io)->size() != first->size())
      return err_inval("paths " + first_name + " and " + p + " differ in size (" + std::to_string(first->size()) +
                       " != " + std::to_string((*io)->size()) + ")");
    if ((*io)->sector_size() != first->sector_size())
      return err_inval("paths " + first_name + " and " + p + " differ in sector size (" +
                       std::to_string(first->sector_size()) + " != " + std::to_string((*io)->sector_size()) + ")");
  }
  LabelReport report;
  auto md = write_new_label(*first, first_name, req.name, req.mode, req.force);
  if (!md) return md.error();
  report.written = *md;
  first.reset();

  OpenOptions read_back;
  read_back.read_only = true;
  read_back.exclusive = false;
  for (size_t i = 1; i < req.paths.size(); ++i) {
    const std::string& p = req.paths[i];
    auto io = open_path(p, read_back);
    if (!io) {
      report.warnings.push_back("Unable to open " + p + ": " + io.error().code_text() + ".");
      continue;
    }
    auto shows = shows_label(**io, report.written);
    if (!shows) {
      report.warnings.push_back("Unable to read metadata from " + p + ": " + shows.error().code_text() + ".");
    } else if (!*shows) {
      report.warnings.push_back("No metadata found on " + p + ". It is not a path of " + first_name + ".");
    }
  }
  return report;
}

VoidResult clear_path(const std::string& path) {
  auto io = open_path(path, OpenOptions{});
  if (!io) return io.error();
  auto sector = read_last_sector(**io);
  if (!sector) return with_path(path, sector.error());
  // gmultipath clear looks at the magic only, so a malformed label of ours
  // can still be removed.
  if (!has_metadata_magic(*sector)) return err_inval("Can't clear metadata on " + path);
  if (auto e = erase_metadata(**io); !e) return with_path(path, e.error());
  return {};
}

}  // namespace mpathfs
