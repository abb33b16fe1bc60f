// Harness, loop devices: losetup a file for a test, detach it afterwards
// (retried: a device still held by a closing fd refuses at first).
#include <chrono>
#include <stdexcept>
#include <thread>

#include "e2e/harness.hpp"

namespace mpathfs::e2e {

LoopDevice::LoopDevice(const std::string& file, bool direct_io) {
  std::vector<std::string> argv = {"losetup"};
  if (direct_io) argv.push_back("--direct-io=on");
  argv.insert(argv.end(), {"-f", "--show", file});
  auto r = run(argv, 20);
  if (r.exit_code() != 0) throw std::runtime_error("losetup " + file + " failed: " + r.describe());
  dev_ = r.output;
  while (!dev_.empty() && (dev_.back() == '\n' || dev_.back() == ' ')) dev_.pop_back();
  if (dev_.rfind("/dev/loop", 0) != 0) throw std::runtime_error("losetup printed: " + r.output);
}

LoopDevice::~LoopDevice() { detach(); }

void LoopDevice::detach() {
  if (dev_.empty()) return;
  for (int i = 0; i < 50; ++i) {
    if (run({"losetup", "-d", dev_}, 10).exit_code() == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  dev_.clear();
}

}  // namespace mpathfs::e2e
