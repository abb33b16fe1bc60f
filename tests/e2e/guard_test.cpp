// The guard against I/O looping back into the daemon: a partition of a loop
// device on a volume file is as much a way back in as the loop device itself,
// by its /dev node or by a mknod copy of it anywhere else.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "e2e/command_checks.hpp"
#include "e2e/harness.hpp"
#include "e2e/partitioned_loop.hpp"
#include "e2e/tools.hpp"

using namespace mpathfs::e2e;

TEST_CASE("guard: a partition of a loop device on a volume file is refused with EINVAL, by any node", "[guard]") {
  require_tool("sfdisk");
  require_tool("losetup");
  TempDir tmp;
  auto p = make_path_files(tmp, 1, 8 * MiB, 1, "a");
  auto q = make_path_files(tmp, 1, 8 * MiB, 2, "b");
  Daemon d(tmp, write_config(tmp, quiet_options(), json::array({volume_spec("vol0", p), volume_spec("vol1", q)})));

  write_one_partition_table(d.vol("vol0"));
  PartitionedLoop loop(d.vol("vol0"));
  const std::string part = loop.partition(1);
  // The same device under another name, where no /dev rule would see it.
  const std::string copy = tmp / "part-copy";
  REQUIRE(::mknod(copy.c_str(), S_IFBLK | 0600, loop.partition_rdev(1)) == 0);
  INFO("loop " << loop.dev() << ", partition " << part << ", copy " << copy);

  const std::string before = d.status_text();
  for (const auto& node : {part, copy}) {
    INFO("node " << node);
    CHECK(errno_name(ctl_write(d.ctl("create"), "vol2 " + node)) == "EINVAL");
    CHECK(errno_name(ctl_write(d.ctl("vol1", "add"), node)) == "EINVAL");
    // The command line says why.
    RunResult r = mp(d.mnt(), {"add", "vol1", node});
    INFO(r.describe());
    CHECK(r.exit_code() != 0);
    CHECK_THAT(r.output + d.log(), Catch::Contains("inside an mpathfs mount"));
  }
  CHECK(d.status_text() == before);
  CHECK_THAT(d.log(), Catch::Contains("whose data comes from " + d.vol("vol0")));

  // The whole disk is refused as before.
  CHECK(errno_name(ctl_write(d.ctl("vol1", "add"), loop.dev())) == "EINVAL");
  ::unlink(copy.c_str());
  loop.detach();
}
