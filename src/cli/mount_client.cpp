// Finding the mpathfs mount and talking to its control files (see
// mount_client.hpp).
#include "cli/mount_client.hpp"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/messages.hpp"
#include "core/control_io.hpp"
#include "core/path_guard.hpp"
#include "core/status_decode.hpp"

namespace mpathfs::cli {
namespace {

namespace fs = std::filesystem;

// Mount points of every mpathfs mount this process can see, in mount order.
std::vector<std::string> mpathfs_mounts() {
  std::vector<std::string> out;
  for (auto& m : read_mountinfo())
    if (m.fstype == kFsType) out.push_back(m.mount_point);
  return out;
}

// An absolute, normalised spelling of a mount point given by the user.  Only
// the parent is resolved (realpath): stat'ing the mount point itself could
// hang on a daemon that stopped answering.
std::string absolute_mount_path(const std::string& given) {
  fs::path p = fs::absolute(given).lexically_normal();
  if (p.has_parent_path() && p.filename().empty()) p = p.parent_path();  // "/mnt/x/" -> "/mnt/x"
  if (p == p.root_path()) return p.string();
  char buf[PATH_MAX];
  if (::realpath(p.parent_path().c_str(), buf)) return (fs::path(buf) / p.filename()).string();
  return p.string();
}

bool is_regular(const std::string& p) {
  struct stat st{};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_dir(const std::string& p) {
  struct stat st{};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

std::optional<std::string> find_mount(const std::string& given) {
  auto mounts = mpathfs_mounts();
  if (!given.empty()) {
    std::string abs = absolute_mount_path(given);
    if (std::find(mounts.begin(), mounts.end(), abs) != mounts.end()) return abs;
    // Not listed under that spelling (a symlink to the mount point, another
    // mount namespace): good enough if it has the tree's control files.
    if (is_regular(abs + "/ctl/create")) return abs;
    std::cerr << "mpathfs: " << given << " is not an mpathfs mount";
    if (!mounts.empty()) std::cerr << " (mpathfs mounts: " << join(mounts, ", ") << ")";
    std::cerr << "\n";
    return std::nullopt;
  }
  if (mounts.size() == 1) return mounts.front();
  if (mounts.empty())
    std::cerr << "mpathfs: no mpathfs mount found in /proc/self/mountinfo (is the daemon running?); "
                 "give the mount point with -m MNT\n";
  else
    std::cerr << "mpathfs: several mpathfs mounts (" << join(mounts, ", ") << "): choose one with -m MNT\n";
  return std::nullopt;
}

bool MountClient::volume_exists(const std::string& name) const { return is_dir(ctl(name)); }

int MountClient::write_line(const std::string& file, const std::string& line) const {
  // A short write is reported like the daemon's I/O errors: the command
  // was not applied whole.
  int e = control_write(file, line);
  return e == kShortWrite ? EIO : e;
}

int MountClient::read_text(const std::string& file, std::string& out) const { return read_whole_file(file, out); }

Result<VolumeStatus> MountClient::status(const std::string& name) const {
  std::string text;
  if (int e = read_text(ctl(name, "status.json"), text)) return Error{e, ""};
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception&) {
    return Error{EPROTO, ""};
  }
  return volume_from_json(j);
}

std::vector<std::string> MountClient::volume_names(int* err) const {
  std::vector<std::string> out;
  DIR* d = ::opendir((mnt_ + "/ctl").c_str());
  if (!d) {
    *err = errno;
    return out;
  }
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == ".." || n == "create" || n == "destroy" || n == "stop") continue;
    if (e->d_type == DT_DIR || (e->d_type == DT_UNKNOWN && volume_exists(n))) out.push_back(n);
  }
  ::closedir(d);
  *err = 0;
  return out;
}

}  // namespace mpathfs::cli
