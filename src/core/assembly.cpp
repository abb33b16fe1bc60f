// Registry::assemble: tastes devices for gmultipath labels and assembles
// volumes by UUID, as gmultipath tastes new providers.  Devices are opened
// and read with no lock held (a hung device delays only the scan); each
// joins under a Claim, so a control operation can neither take its path nor
// its volume name meanwhile.
#include <spdlog/spdlog.h>

#include <fstream>
#include <random>

#include "core/block_sysfs.hpp"
#include "core/config.hpp"
#include "core/label.hpp"
#include "core/metadata.hpp"
#include "core/path_open.hpp"
#include "core/path_guard.hpp"
#include "core/registry.hpp"
#include "core/volume_name.hpp"

namespace mpathfs {
namespace {

constexpr size_t kMaxName = 15;     // what the label's name field holds
constexpr int kSuffixDigits = 5;    // "-NNNNN"

// `wanted` shortened so that "-NNNNN" fits: the suffix is what makes it distinct.
std::string with_suffix(const std::string& wanted, unsigned n) {
  std::string digits = std::to_string(n % 100000);
  digits.insert(0, kSuffixDigits - digits.size(), '0');
  return wanted.substr(0, kMaxName - kSuffixDigits - 1) + "-" + digits;
}

// A block device's size in bytes, read with no open; 0 if unreadable.
uint64_t sysfs_bytes(const BlockSysfs& blk) {
  std::ifstream in(blk.dir + "/size");
  uint64_t sectors = 0;
  return in >> sectors ? sectors * 512 : 0;  // sysfs counts 512-byte units
}

}  // namespace

bool Registry::holds_block_device_locked(dev_t rdev) const {
  for (auto& [id, slot] : by_id_)
    for (auto& p : slot.volume->paths())
      if (p->io().block_device() == rdev) return true;
  return false;
}

std::string Registry::distinct_name_locked(const std::string& wanted) const {
  auto free = [&](const std::string& n) REQUIRES(map_mu_) { return !reserved_volume_name(n) && !name_taken_locked(n); };
  if (free(wanted)) return wanted;
  // gmultipath: the name is another UUID's; the new volume gets a distinct
  // one.  Random first (names do not depend on scan order), then every
  // suffix in turn: there are more suffixes than volumes can exist.
  std::random_device rd;
  for (int i = 0; i < 64; ++i)
    if (auto n = with_suffix(wanted, rd()); free(n)) return n;
  for (unsigned i = 0;; ++i)
    if (auto n = with_suffix(wanted, i); free(n)) return n;
}

Registry::ScanReport Registry::assemble(const std::vector<std::string>& devices) {
  ScanReport r;
  std::lock_guard scan(scan_mu_);
  for (auto& dev : devices) {
    Readiness ready = Readiness::kReady;
    if (auto p = assemble_one(dev, &ready)) r.problems.push_back(dev + ": " + *p);
    if (ready != Readiness::kReady) r.not_ready.push_back({dev, ready});
  }
  return r;
}

void Registry::set_scan(std::vector<std::string> globs) {
  std::lock_guard lk(globs_mu_);
  scan_globs_ = std::move(globs);
}

std::vector<std::string> Registry::scan_globs() const {
  std::lock_guard lk(globs_mu_);
  return scan_globs_;
}

void Registry::rescan() {
  for (auto& problem : assemble(expand_globs(scan_globs())).problems) spdlog::warn("scan: {}", problem);
}

std::optional<std::string> Registry::assemble_one(const std::string& dev, Readiness* ready) {
  if (!check_not_inside_mpathfs(dev)) return std::nullopt;
  if (auto blk = block_sysfs(dev)) {
    // Looked at before any open: an exclusive open, even a brief one, makes
    // someone else's (mkfs, losetup) fail.  Empty: a loop device's uevent
    // comes before its size is set, or it was just detached: maybe later.
    if (sysfs_bytes(*blk) == 0) {
      *ready = Readiness::kEmpty;
      return std::nullopt;
    }
    std::lock_guard lk(map_mu_);
    if (holds_block_device_locked(blk->rdev)) return std::nullopt;  // ours already (by any name)
  }
  auto io = mpathfs::open_path(dev, defaults_.open);
  if (!io) {
    // Held by someone else, or not a disk: not ours to take.  A loop device
    // being configured holds itself: busy for a moment only.
    if (io.error().code == EBUSY) *ready = Readiness::kBusy;
    return std::nullopt;
  }
  const LabelTaste t = taste_label(**io);
  switch (t.kind) {
    case LabelKind::kNone: return std::nullopt;  // unlabeled: not ours (gmultipath taste)
    case LabelKind::kUnreadable: return "skipped: cannot read its metadata: " + t.error.describe();
    case LabelKind::kMalformed: return "skipped: " + t.error.msg;
    case LabelKind::kLabel: break;
  }
  const Metadata& m = t.md;
  const uint64_t psize = (*io)->size();
  const uint32_t sector = (*io)->sector_size();
  if (m.version != kMetadataVersion)
    return "metadata version " + std::to_string(m.version) + ", supported " + std::to_string(kMetadataVersion);
  if (m.uuid.empty()) return "skipped: its metadata has no UUID";
  // Another size: the label of a container around this device (a disk's
  // last partition ends where the disk does); gmultipath ignores it.
  if (m.size != 0 && m.size != psize)
    return "skipped: metadata size " + std::to_string(m.size) + ", the device has " + std::to_string(psize);
  if (m.sector_size != 0 && m.sector_size != sector)
    return "skipped: metadata sector size " + std::to_string(m.sector_size) + ", the device has " +
           std::to_string(sector);

  auto path = std::make_shared<Path>(dev, std::move(io).value());
  Claim held(this);
  std::shared_ptr<Volume> same;
  const std::string wanted = valid_volume_name(m.name) ? m.name : "mp";
  std::string name;
  {
    std::lock_guard lk(map_mu_);
    for (auto& [id, slot] : by_id_)
      if (slot.volume->uuid() && *slot.volume->uuid() == m.uuid) same = slot.volume;
    if (!same) name = distinct_name_locked(wanted);
    // Already a path of a volume (assembled before) or being used: skip.
    if (!claim_locked(held, name, {dev}, nullptr, "being assembled")) return std::nullopt;
  }
  if (same) {
    // Same UUID: another path of a known volume.
    if (auto s = same->add_path(path); !s) return s.error().describe();
    return std::nullopt;
  }
  VolumeSettings s;
  s.name = name;
  s.mode = m.mode;
  s.uuid = m.uuid;
  s.no_path_retry = defaults_.no_path_retry;
  s.io_timeout = defaults_.io_timeout;
  s.file_mode = defaults_.file_mode;
  s.uid = defaults_.uid;
  s.gid = defaults_.gid;
  auto vol = std::make_shared<Volume>(s, psize, psize - sector, clock_);
  if (auto a = vol->add_path(path); !a) return a.error().describe();
  if (auto in = insert(vol); !in) return in.error().describe();
  spdlog::info("{}: assembled from metadata on {} ({}, UUID {})", name, dev, mode_name(m.mode), m.uuid);
  if (name != wanted)
    return "volume name " + wanted + " is taken by another UUID; assembled " + m.uuid + " as " + name;
  return std::nullopt;
}

}  // namespace mpathfs
