// A volume of real, breakable paths for end-to-end tests: NbdPaths
// (nbdkit+nbdfuse) over one pattern image and a daemon serving "vol0" on them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "e2e/harness.hpp"

namespace mpathfs::e2e {

inline constexpr uint64_t kSize = 16 * MiB;
inline constexpr uint64_t kBlock = 64 * KiB;

// Daemon options for these tests (io_timeout 10 s unless given).
inline json options(int no_path_retry = 0, double check_interval = 60, const std::string& failback = "manual",
             double io_timeout = 10) {
  return {{"workers", 4},
          {"check_interval", check_interval},
          {"no_path_retry", no_path_retry},
          {"failback", failback},
          {"io_timeout", io_timeout}};
}

// Two (or more) nbd paths over one image, and a daemon with one volume on them.
struct NbdVolume {
  TempDir tmp;
  std::string image;
  std::vector<std::unique_ptr<NbdPath>> nbd;
  std::unique_ptr<Daemon> d;
  std::vector<std::string> paths;

  NbdVolume(const std::string& mode, int n = 2, const json& opts = options(), uint64_t seed = 1) {
    image = make_pattern_file(tmp / "image", kSize, seed);
    for (int i = 0; i < n; ++i) {
      nbd.push_back(std::make_unique<NbdPath>(tmp, image, std::string(1, char('a' + i))));
      paths.push_back(nbd.back()->file());
    }
    d = std::make_unique<Daemon>(tmp, write_config(tmp, opts, json::array({volume_spec("vol0", paths, mode)})));
  }
  ~NbdVolume() { d.reset(); }  // the daemon goes before its paths
  NbdPath& path(int i) { return *nbd.at(i); }
  std::string vol() const { return d->vol("vol0"); }
  json st() const { return d->status("vol0"); }
};

}  // namespace mpathfs::e2e
