// Helpers shared by the failover, queueing and io_timeout tests.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>

#include "unit/fake_path_io.hpp"

namespace mpathfs::test {

inline VolumeSettings with_npr(int npr, Mode m = Mode::kActivePassive) {
  auto s = FakeVolume::default_settings(m);
  s.no_path_retry = npr;
  return s;
}

// Makes every path of fv answer err, then runs one write so the volume
// ends BROKEN (all paths FAIL).  no_path_retry must be 0 at that time.
inline void break_volume(FakeVolume& fv, int err = EIO) {
  for (auto* io : fv.ios) {
    io->read_errno = err;
    io->write_errno = err;
  }
  REQUIRE(fv.vol->no_path_retry() == 0);
  REQUIRE(fv.write(0, 512, std::byte{1}) == -EIO);
  REQUIRE(fv.vol->state() == VolumeState::kBroken);
}

inline void heal(FakeVolume& fv) {
  for (auto* io : fv.ios) {
    io->read_errno = 0;
    io->write_errno = 0;
    io->fail_next = 0;
  }
}

// Counts what a worker tells its pool about long requests.
struct BusyCounter : BlockingObserver {
  std::atomic<int> begins{0}, ends{0};
  void blocking_begin() noexcept override {}
  void blocking_end() noexcept override {}
  void busy_begin() noexcept override { ++begins; }
  void busy_end() noexcept override { ++ends; }
};

}  // namespace mpathfs::test
