#include "e2e/tools.hpp"

#include <unistd.h>

#include <cstdlib>
#include <map>
#include <stdexcept>

namespace mpathfs::e2e {
namespace {

// Kept in step with PKGS in scripts/setup.sh.
const std::map<std::string, std::string>& packages() {
  static const std::map<std::string, std::string> m = {
      {"strace", "strace"},        {"fio", "fio"},
      {"jq", "jq"},                {"qemu-img", "qemu-utils"},
      {"qemu-io", "qemu-utils"},   {"nbdkit", "nbdkit"},
      {"nbdfuse", "libnbd-bin"},   {"losetup", "mount"},
      {"mount", "mount"},          {"umount", "mount"},
      {"setpriv", "util-linux"},   {"unshare", "util-linux"},
      {"partx", "util-linux"},
      {"mkfs.ext4", "e2fsprogs"},  {"fsck.ext4", "e2fsprogs"},
      {"sfdisk", "fdisk"},         {"fusermount3", "fuse3"},
      {"dd", "coreutils"},         {"mknod", "coreutils"},
      {"timeout", "coreutils"},    {"sh", "dash"},
      {"promtool", "prometheus"},  {"tmux", "tmux"},
      {"cpack", "cmake"},          {"dpkg-deb", "dpkg"},
      {"dpkg-shlibdeps", "dpkg-dev"},
  };
  return m;
}

bool executable_in_path(const std::string& tool) {
  if (tool.find('/') != std::string::npos) return ::access(tool.c_str(), X_OK) == 0;
  const char* env = std::getenv("PATH");
  const std::string path = env ? env : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  for (;;) {
    const size_t end = path.find(':', start);
    const size_t len = (end == std::string::npos ? path.size() : end) - start;
    // An empty entry means the working directory.
    const std::string candidate = (len == 0 ? std::string(".") : path.substr(start, len)) + "/" + tool;
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    if (end == std::string::npos) return false;
    start = end + 1;
  }
}

}  // namespace

std::string package_of(const std::string& tool) {
  auto it = packages().find(tool);
  return it == packages().end() ? std::string() : it->second;
}

std::string missing_tool_message(const std::string& tool) {
  if (executable_in_path(tool)) return {};
  std::string pkg = package_of(tool);
  if (pkg.empty()) return "the test needs '" + tool + "', which is not in PATH";
  return "the test needs '" + tool + "', which is not installed: apt-get install " + pkg +
         " (scripts/setup.sh installs it)";
}

void require_tool(const std::string& tool) {
  if (std::string msg = missing_tool_message(tool); !msg.empty()) throw std::runtime_error(msg);
}

}  // namespace mpathfs::e2e
