#include "e2e/partitioned_loop.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "e2e/harness.hpp"
#include "e2e/tools.hpp"

namespace mpathfs::e2e {

void write_one_partition_table(const std::string& file) {
  require_tool("sfdisk");
  // sfdisk reads its script from stdin; run() gives /dev/null, so a shell pipes it.
  RunResult r = run({"sh", "-c", "printf 'label: dos\\nstart=2048, type=83\\n' | sfdisk --no-reread -q \"$1\"",
                     "sh", file},
                    30);
  if (r.exit_code() != 0) throw std::runtime_error("sfdisk " + file + " failed: " + r.describe());
}

PartitionedLoop::PartitionedLoop(const std::string& file) {
  require_tool("losetup");
  RunResult r = run({"losetup", "-P", "-f", "--show", file}, 20);
  if (r.exit_code() != 0) throw std::runtime_error("losetup -P " + file + " failed: " + r.describe());
  dev_ = r.output;
  while (!dev_.empty() && (dev_.back() == '\n' || dev_.back() == ' ')) dev_.pop_back();
  if (dev_.rfind("/dev/loop", 0) != 0) {
    std::string out = r.output;
    dev_.clear();
    throw std::runtime_error("losetup printed: " + out);
  }
}

PartitionedLoop::~PartitionedLoop() { detach(); }

void PartitionedLoop::detach() {
  if (dev_.empty()) return;
  for (int i = 0; i < 50; ++i) {
    if (run({"losetup", "-d", dev_}, 10).exit_code() == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  dev_.clear();
}

std::string PartitionedLoop::partition(int k) const {
  std::string node = dev_ + "p" + std::to_string(k);
  struct stat st{};
  // A kernel built without partition table parsers (no MSDOS_PARTITION)
  // scans nothing: partx reads the table itself and adds the partitions
  // through BLKPG, which any kernel takes.
  const std::string sys = "/sys/class/block/" + dev_.substr(dev_.rfind('/') + 1) + "p" + std::to_string(k);
  if (::stat(sys.c_str(), &st) != 0) {
    require_tool("partx");
    RunResult r = run({"partx", "-a", dev_}, 20);
    if (r.exit_code() != 0) throw std::runtime_error("partx -a " + dev_ + " failed: " + r.describe());
  }
  if (!wait_until([&] { return ::stat(node.c_str(), &st) == 0 && S_ISBLK(st.st_mode); }, 5))
    throw std::runtime_error(node + " did not appear after losetup -P");
  return node;
}

dev_t PartitionedLoop::partition_rdev(int k) const {
  std::string name = dev_.substr(dev_.rfind('/') + 1);
  std::ifstream in("/sys/class/block/" + name + "p" + std::to_string(k) + "/dev");
  unsigned maj = 0, min = 0;
  char colon = 0;
  if (!(in >> maj >> colon >> min) || colon != ':')
    throw std::runtime_error("no sysfs entry for " + name + "p" + std::to_string(k));
  return makedev(maj, min);
}

}  // namespace mpathfs::e2e
