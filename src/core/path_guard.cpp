#include "core/path_guard.hpp"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/block_sysfs.hpp"

namespace mpathfs {
namespace {

// mountinfo escapes blanks and backslashes as \ooo.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (int k = 1; k <= 3; ++k) {
        char c = s[i + k];
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

bool under(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path.size() >= dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         (path.size() == dir.size() || path[dir.size()] == '/');
}

std::string resolve(const std::string& p) {
  char buf[PATH_MAX];
  if (::realpath(p.c_str(), buf)) return buf;
  return {};
}

// Stacks are shallow (dm on a partition on a loop device); the limit only
// guards against a sysfs cycle.
constexpr int kMaxDepth = 16;

// `sys_dev` is a block device's sysfs directory (any name that resolves to
// it).  Returns the first backing file found inside an mpathfs mount, looking
// at the device itself, the whole disk of a partition, and recursively the
// devices it is built on (slaves/); "" when there is none.
std::string backing_file_inside_mpathfs(const std::string& sys_dev, int depth) {
  if (depth > kMaxDepth) return {};
  std::string dev = resolve(sys_dev);
  if (dev.empty()) return {};
  // A partition's directory sits in its disk's and has a `partition` file.
  struct stat st{};
  if (::stat((dev + "/partition").c_str(), &st) == 0) dev = dev.substr(0, dev.rfind('/'));
  std::ifstream bf(dev + "/loop/backing_file");
  std::string backing;
  if (std::getline(bf, backing) && !backing.empty()) {
    // A file removed after losetup reads "NAME (deleted)": nothing to route to.
    std::string rb = resolve(backing);
    if (!rb.empty() && mount_of(rb).fstype == kFsType) return backing;
  }
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dev + "/slaves", ec), end; !ec && it != end; it.increment(ec)) {
    if (auto f = backing_file_inside_mpathfs(it->path().string(), depth + 1); !f.empty()) return f;
  }
  return {};
}

}  // namespace

std::vector<MountOf> read_mountinfo() {
  std::vector<MountOf> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // id parent maj:min root mountpoint opts [optional...] - fstype source superopts
    std::istringstream ls(line);
    std::string id, parent, dev, root, mnt;
    ls >> id >> parent >> dev >> root >> mnt;
    std::string w;
    while (ls >> w && w != "-") {
    }
    std::string fstype;
    ls >> fstype;
    out.push_back({unescape(mnt), fstype});
  }
  return out;
}

MountOf mount_of(const std::string& real_path) {
  MountOf best;
  for (auto& m : read_mountinfo()) {
    if (under(real_path, m.mount_point) && m.mount_point.size() >= best.mount_point.size()) best = m;
  }
  return best;
}

VoidResult check_not_inside_mpathfs(const std::string& path) {
  std::string real = resolve(path);
  if (real.empty()) return {};
  if (mount_of(real).fstype == kFsType)
    return err_inval("path " + path + " lies inside an mpathfs mount (it would route I/O back into mpathfs)");
  // A block device whose data comes from a volume file (a loop device on it,
  // a partition of one, a device stacked on those) is the same loop in
  // disguise, whatever its major number or wherever its node lives.
  if (auto blk = block_sysfs(real)) {
    if (auto file = backing_file_inside_mpathfs(blk->dir, 0); !file.empty())
      return err_inval("path " + path + " is a block device whose data comes from " + file +
                       ", inside an mpathfs mount (it would route I/O back into mpathfs)");
  }
  return {};
}

}  // namespace mpathfs
