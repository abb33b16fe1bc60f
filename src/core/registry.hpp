// Registry: the daemon's set of volumes — the one object the FUSE layer and
// the checker share.  It opens and checks paths, creates and destroys
// volumes, and applies control commands all-or-nothing.
//
// Locks: no lock that another volume's control operation needs is ever held
// across path I/O (opening a path, reading its label, a flush may hang on a
// frozen path):
//  - map_mu_ guards the volume map and the claims, held only briefly;
//  - a Claim marks the names and paths an operation in progress uses
//    (create, add, destroy, scan) while it does its I/O unlocked, so a second
//    operation on them is refused at once instead of racing or waiting;
//  - each volume's own ctl mutex serializes its configure and destroy (both
//    write its label);
//  - scan_mu_ serializes scans, and nothing else takes it.
// Order: volume ctl mutex -> map_mu_ -> Volume::mu_.  clang checks the second
// arrow (ACQUIRED_BEFORE on map_mu_, -Wthread-safety-beta) wherever one
// function takes both; the ctl mutex sits behind a shared_ptr, which the
// attribute cannot name, so the first arrow is this comment only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/control.hpp"
#include "core/mutex.hpp"
#include "core/path_io.hpp"
#include "core/result.hpp"
#include "core/volume.hpp"

namespace mpathfs {

// Settings every new volume starts from (daemon options, config "options").
struct VolumeDefaults {
  int no_path_retry = 0;
  double io_timeout = 5;
  uint32_t file_mode = 0600;
  uint32_t uid = 0, gid = 0;
  OpenOptions open;  // O_DIRECT / O_EXCL policy
};

// What it takes to create a volume (from a config entry or ctl/create).
struct VolumeSpec {
  std::string name;
  std::optional<Mode> mode;  // unset: the metadata's mode if labeled, else active-passive
  bool label = false;        // write new gmultipath metadata (create -l)
  bool label_only_if_unlabeled = false;  // config "label": keep an existing label
  std::vector<std::string> paths;
  std::optional<int> no_path_retry;
  std::optional<double> io_timeout;
  std::optional<uint32_t> file_mode;
  std::optional<uint32_t> uid, gid;
};

class Registry {
 public:
  // `clock`: the time of every volume it makes (and of the checker and
  // watchdog that serve them: one clock for all, so their times compare).
  explicit Registry(VolumeDefaults d, Clock& clock = Clock::real()) : clock_(clock), defaults_(std::move(d)) {}
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  struct Entry {
    uint64_t id;  // stable for the volume's life; the FUSE layer's inode key
    std::shared_ptr<Volume> volume;
  };

  // Creates a volume: every path must open, be outside mpathfs mounts and
  // have one size; a labeled first path makes a labeled volume.
  VoidResult create(const VolumeSpec& spec);
  // Refused with EBUSY while the volume file is open.  erase: zero a
  // labeled volume's metadata (destroy); stop keeps it.
  VoidResult destroy(const std::string& name, bool erase);
  // Applies a command written to ctl/ (volume empty) or ctl/VOL/.
  VoidResult apply(const std::string& volume, const Command& cmd);
  // Why a device could not be tasted yet: busy (EBUSY on the exclusive
  // open) or empty (size 0).
  enum class Readiness { kReady, kBusy, kEmpty };
  struct NotReady {
    std::string dev;
    Readiness why;
  };
  // What a scan did not take.  problems: one line per device skipped, with
  // why (not fatal: gmultipath logs and goes on).  not_ready: devices worth
  // tasting again soon.
  struct ScanReport {
    std::vector<std::string> problems;
    std::vector<NotReady> not_ready;
  };
  // Tastes devices for gmultipath metadata and assembles volumes by UUID.
  ScanReport assemble(const std::vector<std::string>& devices);
  // The `scan` globs (daemon options): rescan() tastes what they match now
  // (ctl/rescan, a uevent), logging each problem as a warning.
  void set_scan(std::vector<std::string> globs);
  std::vector<std::string> scan_globs() const;
  void rescan();

  std::shared_ptr<Volume> find(const std::string& name) const;
  std::shared_ptr<Volume> find_id(uint64_t id) const;
  std::optional<uint64_t> id_of(const std::string& name) const;
  // Volumes in creation order.
  std::vector<Entry> list() const;
  // Bumped on every create/destroy, so the tree can tell it changed.
  uint64_t generation() const;

  std::string status_table() const;

  // Destroys volumes whose every path is gone (gmultipath: destroyed on
  // last provider disconnection).  Returns the names destroyed.
  std::vector<std::string> reap_lost();
  // Flushes every volume at once (unmount, SIGTERM), each within its io_timeout.
  void flush_all();
  // Some path's fdatasync has not returned (a hung path): exit without
  // closing its file, which would hang too.
  bool any_flush_hung() const;
  // Fails every request from now on and releases queued ones.
  void shut_down_all();

  // Adds a volume made elsewhere (assembly; tests with fake paths).
  // EEXIST if a volume already has that name: never two under one name.
  VoidResult insert(std::shared_ptr<Volume> v);

  const VolumeDefaults& defaults() const { return defaults_; }
  Clock& clock() const { return clock_; }

 private:
  // A volume and the mutex that serializes its configure and destroy.
  struct Slot {
    std::shared_ptr<Volume> volume;
    std::shared_ptr<Mutex> ctl;
  };
  // Names and paths held by an operation in progress; released on
  // destruction (which takes map_mu_: never destroy a non-empty one under it).
  class Claim {
   public:
    Claim() = default;
    explicit Claim(Registry* r) : reg_(r) {}
    Claim(Claim&& o) noexcept;
    Claim& operator=(Claim&&) = delete;
    ~Claim();

   private:
    friend class Registry;
    Registry* reg_ = nullptr;
    std::vector<std::string> names_, paths_;
  };

  Result<std::shared_ptr<Path>> open_path(const std::string& word) const;
  // Claims `name` (unless empty) and `paths` (normalized names) for `what`:
  // EEXIST when the name is a volume's or claimed, EBUSY when a path is in
  // a volume other than `self` or claimed.  All or nothing.
  Result<Claim> claim(const std::string& name, const std::vector<std::string>& paths, const Volume* self,
                      const std::string& what);
  VoidResult claim_locked(Claim& c, const std::string& name, const std::vector<std::string>& paths, const Volume* self,
                      const std::string& what) REQUIRES(map_mu_);
  bool name_taken_locked(const std::string& name) const REQUIRES(map_mu_);
  std::optional<Slot> slot_of(const std::string& name) const;
  VoidResult add_to(Volume& v, const std::string& word);
  VoidResult configure(const std::string& name, Mode m);
  VoidResult rewrite_metadata(Volume& v, Mode m);
  // Scan: one device; a problem line, or nothing when it joined or is
  // silently skipped (*ready says when it may be ready later).
  std::optional<std::string> assemble_one(const std::string& dev, Readiness* ready);
  std::string distinct_name_locked(const std::string& wanted) const REQUIRES(map_mu_);
  // Whether a path of some volume holds block device `rdev` open.
  bool holds_block_device_locked(dev_t rdev) const REQUIRES(map_mu_);

  Clock& clock_;
  VolumeDefaults defaults_;
  Mutex scan_mu_ ACQUIRED_BEFORE(map_mu_);
  mutable Mutex globs_mu_;  // taken alone
  std::vector<std::string> scan_globs_ GUARDED_BY(globs_mu_);
  mutable Mutex map_mu_ ACQUIRED_BEFORE(Volume::mu_);
  std::map<uint64_t, Slot> by_id_ GUARDED_BY(map_mu_);
  std::map<std::string, std::string> claimed_names_ GUARDED_BY(map_mu_);  // name -> what holds it
  std::map<std::string, std::string> claimed_paths_ GUARDED_BY(map_mu_);  // path -> what holds it
  uint64_t next_id_ GUARDED_BY(map_mu_) = 1;
  uint64_t generation_ GUARDED_BY(map_mu_) = 0;
};

// Turns a user's path word into a file name: absolute as is; "sdb" ->
// "/dev/sdb" (gmultipath takes provider names without /dev/).
std::string path_word_to_name(const std::string& word);

}  // namespace mpathfs
