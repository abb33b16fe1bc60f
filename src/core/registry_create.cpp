// Registry::create: a new volume from a config entry or ctl/create.  The
// name and paths are claimed first; the paths are opened and their labels
// read (or written, create -l) with no lock held, since either may hang on a
// frozen path; the volume enters the map last.
#include <spdlog/spdlog.h>

#include <set>

#include "core/label.hpp"
#include "core/metadata.hpp"
#include "core/registry.hpp"
#include "core/volume_name.hpp"

namespace mpathfs {
namespace {

using Paths = std::vector<std::shared_ptr<Path>>;

// create -l: writes a new label to the first path (label.cpp, as `mpathfs
// label` does, never over another label), then reads it back through the
// others.  Returns the UUID; marks paths whose read-back failed.
Result<std::string> write_label(const VolumeSpec& spec, const Paths& paths, Mode mode, std::vector<bool>& unreadable) {
  auto md = write_new_label(paths[0]->io(), paths[0]->name(), spec.name, mode, false);
  if (!md) return md.error();
  for (size_t i = 1; i < paths.size(); ++i) {
    auto shows = shows_label(paths[i]->io(), *md);
    if (!shows) {
      unreadable[i] = true;
    } else if (!*shows) {
      (void)erase_metadata(paths[0]->io());
      return err_inval("no metadata found on " + paths[i]->name() + " after labeling: it is not a path of " +
                       paths[0]->name());
    }
  }
  return md->uuid;
}

// Without -l: the first readable path decides whether the volume is labeled;
// every other readable path must then carry the same label.  A malformed
// label or an unknown version refuses the volume (it is some other disk's, or
// damaged); only a failed read lets a path join, as FAIL.
Result<std::optional<std::string>> taste_labels(const Paths& paths, std::optional<Mode>& label_mode,
                                                std::vector<bool>& unreadable) {
  const uint64_t size = paths[0]->io().size();
  const uint32_t sector = paths[0]->io().sector_size();
  std::optional<std::string> uuid;
  size_t i = 0;
  for (; i < paths.size(); ++i) {
    const LabelTaste t = taste_label(paths[i]->io());
    if (t.kind == LabelKind::kUnreadable) {
      unreadable[i] = true;
      continue;
    }
    if (t.kind == LabelKind::kMalformed) return err_inval("path " + paths[i]->name() + " carries " + t.error.msg);
    if (t.kind == LabelKind::kLabel) {
      const Metadata& md = t.md;
      if (md.version != kMetadataVersion)
        return err_inval("path " + paths[i]->name() + " carries metadata version " + std::to_string(md.version) +
                         ", supported " + std::to_string(kMetadataVersion));
      // Written for another sector size, it cannot sit in this sector.
      if (md.sector_size != 0 && md.sector_size != sector)
        return err_inval("path " + paths[i]->name() + " carries metadata sector size " +
                         std::to_string(md.sector_size) + ", the path has " + std::to_string(sector));
      // A label for another size belongs to a container around this path
      // (a disk's last partition ends where the disk does): gmultipath's
      // taste ignores it.
      if ((md.size == 0 || md.size == size) && !md.uuid.empty()) {
        uuid = md.uuid;
        label_mode = md.mode;
      }
    }
    break;
  }
  if (!uuid) return uuid;
  for (++i; i < paths.size(); ++i) {
    const LabelTaste t = taste_label(paths[i]->io());
    if (t.kind == LabelKind::kUnreadable) {
      unreadable[i] = true;
    } else if (auto s = check_label_identity(t, paths[i]->name(), *uuid, size, sector); !s) {
      return err_inval(s.error().msg + ": it is not a path to the disk of " + paths[0]->name());
    }
  }
  return uuid;
}

}  // namespace

VoidResult Registry::create(const VolumeSpec& spec) {
  if (!valid_volume_name(spec.name))
    return err_inval("bad volume name '" + spec.name + "' (1-15 characters of A-Za-z0-9._-)");
  if (reserved_volume_name(spec.name))
    return err_inval("volume name '" + spec.name + "' is reserved by the mounted tree");
  if (spec.paths.empty()) return err_inval("volume " + spec.name + " needs at least one path");
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (auto& w : spec.paths) {
    names.push_back(path_word_to_name(w));
    if (!seen.insert(names.back()).second) return err_exist("path " + names.back() + " is given twice");
  }
  // Held until the volume is in the map (or refused): another create of
  // this name or these paths is refused meanwhile.
  auto held = claim(spec.name, names, nullptr, "being created");
  if (!held) return held.error();

  Paths paths;
  for (auto& w : spec.paths) {
    auto p = open_path(w);
    if (!p) return p.error();
    paths.push_back(std::move(p).value());
  }
  const uint64_t path_size = paths[0]->io().size();
  const uint32_t sector = paths[0]->io().sector_size();
  for (auto& p : paths) {
    if (p->io().size() != path_size)
      return err_inval("paths " + paths[0]->name() + " and " + p->name() + " differ in size (" +
                       std::to_string(path_size) + " != " + std::to_string(p->io().size()) + ")");
    if (p->io().sector_size() != sector)
      return err_inval("paths " + paths[0]->name() + " and " + p->name() + " differ in sector size");
    // Two SCSI LUNs of one size are still two disks: their identifiers
    // (VPD 0x83) must agree wherever both paths have one.
    for (auto& q : paths) {
      const std::string a = p->io().device_id(), b = q->io().device_id();
      if (!a.empty() && !b.empty() && a != b)
        return err_inval("paths " + q->name() + " and " + p->name() + " lead to different devices (" + b +
                         " != " + a + ")");
    }
  }

  VolumeSettings s;
  s.name = spec.name;
  s.no_path_retry = spec.no_path_retry.value_or(defaults_.no_path_retry);
  s.io_timeout = spec.io_timeout.value_or(defaults_.io_timeout);
  s.file_mode = spec.file_mode.value_or(defaults_.file_mode);
  s.uid = spec.uid.value_or(defaults_.uid);
  s.gid = spec.gid.value_or(defaults_.gid);
  Mode mode = spec.mode.value_or(Mode::kActivePassive);

  // Metadata: write a new label (create -l), or taste the paths: a volume
  // over labeled disks never exposes the metadata sector.
  std::vector<bool> unreadable(paths.size(), false);
  bool label = spec.label;
  if (label && spec.label_only_if_unlabeled) {
    const LabelTaste t = taste_label(paths[0]->io());
    if (t.kind == LabelKind::kLabel && !t.md.uuid.empty()) label = false;  // already labeled: taste it
  }
  if (label) {
    auto uuid = write_label(spec, paths, mode, unreadable);
    if (!uuid) return uuid.error();
    s.uuid = *uuid;
  } else {
    std::optional<Mode> label_mode;
    auto uuid = taste_labels(paths, label_mode, unreadable);
    if (!uuid) return uuid.error();
    s.uuid = *uuid;
    if (!spec.mode && label_mode) mode = *label_mode;
  }
  s.mode = mode;
  const uint64_t size = s.uuid ? path_size - sector : path_size;
  auto vol = std::make_shared<Volume>(s, path_size, size, clock_);
  for (size_t i = 0; i < paths.size(); ++i) {
    if (unreadable[i]) {
      // Joins as FAIL; the checker verifies its identity before it restores it.
      paths[i]->set_failed(true);
      paths[i]->set_last_error(EIO);
      spdlog::warn("{}: path {} joins as FAIL: its metadata cannot be read", spec.name, paths[i]->name());
    }
    if (auto a = vol->add_path(paths[i]); !a) return a.error();
  }
  if (auto in = insert(vol); !in) return in.error();
  spdlog::info("{}: created ({}, {} paths, {} bytes{})", spec.name, mode_name(mode), paths.size(), size,
               s.uuid ? ", labeled " + *s.uuid : std::string());
  return {};
}

}  // namespace mpathfs
