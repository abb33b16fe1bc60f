// Keeps the unit run's output readable: the core logs every state change
// (path FAIL, restore, ...), hundreds of lines per run.  Set
// MPATHFS_TEST_LOG=1 to see them.  Tests that look at log lines use
// LogCapture (fake_path_io.hpp), which installs its own logger.
#include <spdlog/spdlog.h>

#include <cstdlib>

namespace {

struct QuietLog {
  QuietLog() {
    if (!std::getenv("MPATHFS_TEST_LOG")) spdlog::set_level(spdlog::level::off);
  }
} const quiet_log;

}  // namespace
