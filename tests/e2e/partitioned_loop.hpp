// A loop device with partitions: `sfdisk` writes a table into a file, then
// `losetup -P` makes the kernel scan it, or `partx -a` adds them where the
// kernel has no table parser (devtmpfs creates DEVp1...).
// Detached in the destructor, which also removes the partitions and their
// nodes.
#pragma once

#include <sys/types.h>

#include <string>

namespace mpathfs::e2e {

// Writes a DOS table with one Linux partition from 1 MiB to the end of
// `file` (a regular file or a device).  Throws with sfdisk's output on failure.
void write_one_partition_table(const std::string& file);

class PartitionedLoop {
 public:
  explicit PartitionedLoop(const std::string& file);  // losetup -P -f --show FILE
  ~PartitionedLoop();
  PartitionedLoop(const PartitionedLoop&) = delete;
  PartitionedLoop& operator=(const PartitionedLoop&) = delete;

  const std::string& dev() const { return dev_; }
  // "/dev/loopNpK", once its node exists (waits up to 5 s; throws if not).
  std::string partition(int k) const;
  // Its device number, from sysfs (for a mknod copy elsewhere).
  dev_t partition_rdev(int k) const;
  void detach();  // idempotent

 private:
  std::string dev_;
};

}  // namespace mpathfs::e2e
