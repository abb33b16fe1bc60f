#include "core/device_departure.hpp"

#include <spdlog/spdlog.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "core/block_sysfs.hpp"

namespace mpathfs {
namespace {

constexpr unsigned kLoopMajor = 7;

// The path's device node name, links followed ("" when it cannot be resolved).
std::string resolved(const std::string& name) {
  std::error_code ec;
  auto c = std::filesystem::canonical(name, ec);
  return ec ? std::string() : c.string();
}

}  // namespace

bool loop_autoclear_set(const std::string& name) {
  auto blk = block_sysfs(name);
  if (!blk || major(blk->rdev) != kLoopMajor) return false;
  FILE* f = std::fopen((blk->dir + "/loop/autoclear").c_str(), "re");
  if (!f) return false;  // no backing file: not attached at all
  int c = std::fgetc(f);
  std::fclose(f);
  return c == '1';
}

bool leave_detached_loops(Registry& reg) {
  for (auto& e : reg.list()) {
    Volume& v = *e.volume;
    for (auto& p : v.paths()) {
      if (p->lost() || !loop_autoclear_set(p->name())) continue;
      // Removed, its file closes once no request holds it; the last path
      // cannot be removed: gone, it takes the volume with it.
      if (v.paths().size() > 1 && v.remove_path(p->name())) {
        spdlog::warn("{}: path {} left: its loop device was detached (losetup -d)", v.name(), p->name());
      } else {
        spdlog::warn("{}: path {} left: its loop device was detached (losetup -d), it was the last path", v.name(),
                     p->name());
        v.mark_lost(*p, ENXIO);
      }
    }
  }
  return !reg.reap_lost().empty();
}

bool device_removed(Registry& reg, const std::string& devnode) {
  for (auto& e : reg.list()) {
    for (auto& p : e.volume->paths()) {
      if (p->lost()) continue;
      // A link that no longer resolves was most likely to this device;
      // ENXIO on its next I/O or probe confirms it either way.
      const std::string r = resolved(p->name());
      if (p->name() != devnode && r != devnode) continue;
      spdlog::warn("{}: path {} left: the device was removed", e.volume->name(), p->name());
      e.volume->mark_lost(*p, ENODEV);
    }
  }
  return !reg.reap_lost().empty();
}

}  // namespace mpathfs
