// The CLI's side of a running mount: which mpathfs mount to talk to, and
// the control and status files under MNT/ctl/ it writes and reads (through
// the core's control_io, the same code the end-to-end tests use).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/status.hpp"

namespace mpathfs::cli {

// The mount to talk to: -m MNT (`given`), or the only mpathfs mount in
// /proc/self/mountinfo.  nullopt after printing why not (none, several, or
// `given` is not one).
std::optional<std::string> find_mount(const std::string& given);

class MountClient {
 public:
  MountClient() = default;
  explicit MountClient(std::string mnt) : mnt_(std::move(mnt)) {}

  const std::string& mnt() const { return mnt_; }
  std::string ctl(const std::string& file) const { return mnt_ + "/ctl/" + file; }
  std::string ctl(const std::string& vol, const std::string& file) const {
    return mnt_ + "/ctl/" + vol + "/" + file;
  }
  bool volume_exists(const std::string& name) const;

  // ONE write() of the whole line: 0 or the errno (EIO for a short write).
  int write_line(const std::string& file, const std::string& line) const;
  // The whole file: 0 or the errno.
  int read_text(const std::string& file, std::string& out) const;
  // ctl/NAME/status.json decoded; the error's code is the read's errno, or
  // EPROTO when the text does not parse as a volume's status.
  Result<VolumeStatus> status(const std::string& name) const;
  // Volume names in the tree's order (creation order): the directories of
  // ctl/.  *err is 0 or the errno of opening ctl/.
  std::vector<std::string> volume_names(int* err) const;

 private:
  std::string mnt_;
};

}  // namespace mpathfs::cli
