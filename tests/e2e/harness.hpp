// End-to-end test harness: RAII pieces that always clean up, even when a
// REQUIRE throws half way through a test.
//
// Declare them in this order in a test, so they are torn down in reverse:
//
//   TempDir tmp;                         // removed last
//   NbdPath a(tmp, img, "a");            // or LoopDevice, or plain files
//   Daemon d(tmp, {.source = cfg});      // unmounted and reaped first
//   Fd f = open_fd(d.vol("vol0"), O_RDWR);
//
// Every child process (daemon, nbdkit, nbdfuse) gets PR_SET_PDEATHSIG, so a
// test binary killed by ctest's timeout does not leave servers behind; children
// are started from the test's main thread only (the death signal follows the
// forking *thread*).
//
// One header; each section below is implemented in its own file:
//   processes harness_process.cpp   files    harness_files.cpp
//   control   harness_control.cpp   config   harness_config.cpp
//   mounts    harness_mounts.cpp    daemon   harness_daemon.cpp
//   loop      harness_loop.cpp      nbd      harness_nbd.cpp
//   test glue harness_listener.cpp  (helpers shared by them: harness_internal.hpp)
#pragma once

#include <sys/types.h>

#include <csignal>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace mpathfs::e2e {

using json = nlohmann::json;
using Bytes = std::vector<uint8_t>;

inline constexpr uint64_t KiB = 1024;
inline constexpr uint64_t MiB = 1024 * 1024;

// ---------------------------------------------------------------- processes

struct RunResult {
  int status = -1;         // raw wait status
  bool timed_out = false;  // killed by us after the timeout
  std::string output;      // stdout and stderr, interleaved
  bool exited() const;
  int exit_code() const;   // -1 unless it exited
  std::string describe() const;  // "exit 1" / "signal 9" / "timed out", plus output
};

// Runs argv (argv[0] looked up in PATH), waits up to timeout_s, returns its
// status and output.  Never throws for a failing command.
RunResult run(const std::vector<std::string>& argv, double timeout_s = 30);

// Forks and execs argv with stdout+stderr appended to log_file and stdin from
// /dev/null; the child gets PR_SET_PDEATHSIG(death_sig).  Throws on fork failure.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log_file, int death_sig = SIGTERM);

// waitpid with a timeout; returns true and the status when the child was
// reaped, false when it is still running.
bool wait_child(pid_t pid, double timeout_s, int* status = nullptr);
// SIGTERM, wait grace_s, SIGKILL, reap.  A no-op for pid <= 0.
void stop_child(pid_t pid, double grace_s = 5, int first_sig = -1);
// For a process that is not our child: polls kill(pid, 0).
bool wait_gone(pid_t pid, double timeout_s);

// Polls pred every 10 ms until it is true or timeout_s passed.
bool wait_until(const std::function<bool()>& pred, double timeout_s, double step_s = 0.01);

double now_s();  // monotonic seconds

// ---------------------------------------------------------------- files

// Move-only file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void close();

 private:
  int fd_ = -1;
};

// open(); throws std::runtime_error naming path and errno on failure.
Fd open_fd(const std::string& path, int flags, mode_t mode = 0644);
// open(); returns 0 and sets out, or the errno.
int try_open(const std::string& path, int flags, Fd& out);

// A heap buffer aligned for O_DIRECT (4096).
class AlignedBuf {
 public:
  explicit AlignedBuf(size_t n, size_t align = 4096);
  ~AlignedBuf();
  AlignedBuf(const AlignedBuf&) = delete;
  AlignedBuf& operator=(const AlignedBuf&) = delete;
  uint8_t* data() { return p_; }
  size_t size() const { return n_; }

 private:
  uint8_t* p_ = nullptr;
  size_t n_ = 0;
};

// mkdtemp under /tmp.  The destructor lazily unmounts anything still mounted
// below it (a test that crashed half way), then removes it recursively.
class TempDir {
 public:
  explicit TempDir(std::string_view tag = "mpathfs-e2e");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(std::string_view name) const { return path_ + "/" + std::string(name); }
  // Creates a subdirectory and returns its path.
  std::string mkdir(std::string_view name) const;

 private:
  std::string path_;
};

// Deterministic content: byte i of stream `seed` is a function of (seed, i),
// so any range can be regenerated to compare against.
Bytes pattern(uint64_t seed, uint64_t off, size_t len);
void fill_pattern(uint8_t* dst, uint64_t seed, uint64_t off, size_t len);
// Creates (or replaces) a file of `size` bytes of pattern(seed, 0, size);
// returns its path.
std::string make_pattern_file(const std::string& path, uint64_t size, uint64_t seed);
std::string make_zero_file(const std::string& path, uint64_t size);

// Reads [off, off+len) of a file or device, with O_DIRECT when the file
// system allows it (two FUSE files or two loop devices over one image each
// have their own page cache: only a direct read sees the other's writes).
// A short read at the end is returned short.  Throws on error.
Bytes read_range(const std::string& path, uint64_t off, size_t len, bool direct = true);
// Writes through an fd with pwrite until done; returns 0 or errno.
int pwrite_all(int fd, const void* buf, size_t len, uint64_t off);
// Reads until len or EOF; returns bytes read or -errno.
ssize_t pread_all(int fd, void* buf, size_t len, uint64_t off);

uint64_t fnv1a(const uint8_t* p, size_t n, uint64_t h = 1469598103934665603ull);
// First differing offset of two buffers as text ("" when equal): for INFO.
std::string first_difference(const Bytes& got, const Bytes& want, uint64_t base_off = 0);

std::string read_file(const std::string& path);  // throws on error
int try_read_file(const std::string& path, std::string& out);  // 0 or errno
void write_text_file(const std::string& path, std::string_view text);
uint64_t file_size(const std::string& path);  // st_size, or blockdev size for devices

// ---------------------------------------------------------------- control

// One open(O_WRONLY) + ONE write() syscall (a control write must be one
// write).  Returns 0, the errno of the failing call, or -1 for a short write
// (core/control_io.hpp's control_write, which the CLI uses too).
int ctl_write(const std::string& path, std::string_view text);
std::string errno_name(int e);  // "ENOENT" ...; "0" for 0; "-1" for -1

// Parsed `cat MNT/status`.
struct StatusVolume {
  std::string name;
  std::string state;
  std::vector<std::pair<std::string, std::string>> paths;  // (path, state) in listed order
};
struct StatusTable {
  std::string header;
  std::vector<StatusVolume> volumes;
  const StatusVolume* find(std::string_view name) const;
};
// Throws std::runtime_error on a layout it cannot parse.
StatusTable parse_status(const std::string& text);

json status_json(const std::string& mnt, const std::string& vol);
// A status.json file's text without what moves by itself (the latency
// window, when the checker last looked): equal before and after a refused
// control write, which must change nothing.
std::string steady_status(const std::string& status_json_file);
// The entry of `path` in status.json's "paths"; throws when absent.
const json& path_entry(const json& st, const std::string& path);
std::string path_state(const json& st, const std::string& path);
std::vector<std::string> path_names(const json& st);
std::vector<std::string> path_states(const json& st);

// ---------------------------------------------------------------- config

// {"name":..., "mode":..., "paths":[...]} (mode omitted when empty).
json volume_spec(const std::string& name, const std::vector<std::string>& paths, const std::string& mode = "");
// Writes {"options": options, "volumes": volumes} to tmp/name; returns the path.
std::string write_config(const TempDir& tmp, const json& options, const json& volumes,
                         const std::string& name = "mpathfs.json");
// Options for fast tests: no checker surprises, fail at once.
json quiet_options();

// `n` distinct regular files tmp/pK.img of `size` bytes, pattern seed `seed`
// (same content in all, distinct inodes: acceptable as separate paths).
std::vector<std::string> make_path_files(const TempDir& tmp, int n, uint64_t size = 4 * MiB, uint64_t seed = 1,
                                         const std::string& prefix = "p");

// ---------------------------------------------------------------- mounts

bool is_mountpoint(const std::string& dir);  // listed in /proc/self/mountinfo
// "fusermount3 -u", then "-uz" if still mounted.  Quiet; never throws.
void unmount(const std::string& dir);

// ---------------------------------------------------------------- the daemon

// The mpathfs daemon under test.
class Daemon {
 public:
  struct Options {
    std::string source = "none";         // config file or "none"
    std::string opts;                    // -o value (empty: no -o)
    std::vector<std::string> extra_args; // e.g. {"-d"}
    std::string mnt;                     // default: tmp/mnt (created)
    double ready_timeout = 10;
  };

  // Starts `MPATHFS_BIN -f [-o opts] SOURCE MNT` and waits until the mount is
  // ready (st_dev of MNT differs from its parent's and MNT/status reads).
  // Throws std::runtime_error, with the daemon's log, when it is not ready in
  // time or exits first; nothing is left behind.
  Daemon(const TempDir& tmp, Options o);
  Daemon(const TempDir& tmp, const std::string& source, const std::string& opts = "")
      : Daemon(tmp, Options{source, opts, {}, "", 10}) {}
  // Adopts a daemon that daemonized itself (not our child).
  static std::unique_ptr<Daemon> adopt(const TempDir& tmp, const std::string& mnt, pid_t pid,
                                       const std::string& log_file);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  const std::string& mnt() const { return mnt_; }
  pid_t pid() const { return pid_; }
  std::string vol(const std::string& name) const { return mnt_ + "/" + name; }
  std::string ctl(const std::string& file) const { return mnt_ + "/ctl/" + file; }
  std::string ctl(const std::string& vol, const std::string& file) const {
    return mnt_ + "/ctl/" + vol + "/" + file;
  }
  json status(const std::string& vol) const { return status_json(mnt_, vol); }
  std::string status_text() const { return read_file(mnt_ + "/status"); }
  std::string log() const;       // what the daemon wrote so far
  bool alive() const;            // process still running

  // Sends sig and waits up to timeout_s for the process to end; returns its
  // wait status (our child) or 0 when it merely disappeared (adopted), -1 when
  // it did not end.  The destructor then only cleans up what is left.
  int signal_and_wait(int sig, double timeout_s = 5);
  // Unmounts, stops and reaps.  Idempotent; the destructor calls it.
  void shutdown();

 private:
  Daemon() = default;
  void wait_ready(double timeout_s);
  std::string mnt_;
  std::string log_file_;
  pid_t pid_ = -1;
  bool child_ = true;
  bool done_ = false;
};

struct StartResult {
  RunResult run;
  pid_t daemon_pid = -1;  // found through /proc when the start succeeded
};
// Runs the daemon WITHOUT -f (it daemonizes); returns when the command
// returns.
StartResult start_daemonizing(const std::string& source, const std::string& mnt, const std::string& opts = "",
                              double timeout_s = 15);
// A process whose argv[0] is an mpathfs binary and whose argv names mnt.
pid_t find_daemon_pid(const std::string& mnt);

// ---------------------------------------------------------------- loop devices

// losetup [--direct-io=on] -f --show FILE; detached in the destructor.
class LoopDevice {
 public:
  explicit LoopDevice(const std::string& file, bool direct_io = true);
  ~LoopDevice();
  LoopDevice(const LoopDevice&) = delete;
  LoopDevice& operator=(const LoopDevice&) = delete;
  const std::string& dev() const { return dev_; }
  void detach();

 private:
  std::string dev_;
};

// ---------------------------------------------------------------- nbd paths

// A path that can really fail underneath: nbdkit's file plugin over IMAGE
// behind the error (and delay) filters, served on a unix socket, exposed as a
// regular file by nbdfuse.  Two NbdPath over one image = a real two-path
// volume.
//
// Measured here (nbdkit 1.32.5, nbdfuse/libnbd 1.14.2, kernel 6.x):
//  - start-up: nbdkit binds its socket in ~3 ms, nbdfuse shows its file in
//    ~7-10 ms; one NbdPath (waiting for nbdkit's pid file, which is written
//    once it accepts connections) takes 15-35 ms, ~65 ms on a loaded machine.
//    Waiting for the socket alone is not enough: under load nbdfuse's first
//    connect was refused (bound, not yet listening) and nbdfuse exited.
//  - fail(): every read and write answers EIO (the filter's errno); flush
//    still succeeds (the error filter is set for pread/pwrite/... but the
//    flush of an idle connection did answer 0).
//  - freeze() (SIGSTOP of nbdkit): requests go unanswered (nbdfuse has no
//    timeout); a pread blocks until thaw() and then completes normally.
//  - kill_server() (SIGKILL of nbdkit): the request that finds the server
//    gone answers ECONNABORTED; then nbdfuse 1.14 itself dies (assertion
//    `completion->thread->in_flight >= 1' in completion_callback) and every
//    later request on an open fd, and every open(), answers ENOTCONN (a dead
//    FUSE server): the path is gone, not just failing.  A loop device on it
//    answers EIO.
//  - nbdkit started from a shell that then exited kept running but answered
//    ESHUTDOWN to every request; started by a parent that stays (as here) it
//    serves normally.  Keep the test process as its parent.
class NbdPath {
 public:
  struct Options {
    std::string delay_read;   // nbdkit delay filter: "SECS" or "NNms"
    std::string delay_write;
    int connections = 0;      // nbdfuse -C (0 = its default)
  };
  // `name` names the socket, mount dir and logs inside tmp.
  NbdPath(const TempDir& tmp, const std::string& image, const std::string& name, Options o);
  NbdPath(const TempDir& tmp, const std::string& image, const std::string& name)
      : NbdPath(tmp, image, name, Options{}) {}
  ~NbdPath();
  NbdPath(const NbdPath&) = delete;
  NbdPath& operator=(const NbdPath&) = delete;

  // The regular file to hand to mpathfs.
  const std::string& file() const { return file_; }
  pid_t server_pid() const { return nbdkit_; }

  void fail();    // create the trigger: real EIO from now on
  void heal();    // remove it
  void freeze();  // SIGSTOP nbdkit: requests go unanswered
  void thaw();    // SIGCONT
  void kill_server();  // SIGKILL nbdkit: the path vanishes (see above)
  // losetup --direct-io=on on file(): a real block device that fails with it.
  const std::string& attach_loop();
  std::string log() const;
  // Thaws every live NbdPath (Daemon::shutdown calls it first, so a daemon
  // stuck on a frozen path can finish its I/O and unmount).
  static void thaw_all();

 private:
  void cleanup();  // idempotent; the destructor and a failed constructor call it
  std::string dir_, sock_, mntdir_, file_, trigger_, log_;
  pid_t nbdkit_ = -1, nbdfuse_ = -1;
  bool frozen_ = false;
  std::unique_ptr<LoopDevice> loop_;
};

// ---------------------------------------------------------------- test glue

// True when an assertion of the running test case failed (set by a Catch
// listener in harness_listener.cpp); Daemon/NbdPath print their logs to
// stderr on tear-down then.
bool current_test_failed();
void set_current_test_failed(bool v);

}  // namespace mpathfs::e2e
