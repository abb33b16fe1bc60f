// Harness, nbd paths: a path that really fails underneath, nbdkit (file
// plugin behind the error and delay filters) exposed as a regular file by
// nbdfuse; failed, frozen, thawed or killed on a test's command.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "e2e/harness.hpp"
#include "e2e/harness_internal.hpp"

namespace mpathfs::e2e {

using detail::dump_log;
using detail::join_argv;
using detail::should_dump_logs;
using detail::slurp;
using detail::throw_errno;

namespace fs = std::filesystem;

namespace {
// Every live NbdPath, so Daemon::shutdown can thaw them (thaw_all).
std::mutex g_nbd_mu;
std::vector<NbdPath*> g_nbd_live;
}  // namespace

NbdPath::NbdPath(const TempDir& tmp, const std::string& image, const std::string& name, Options o) {
  dir_ = tmp.mkdir("nbd-" + name);
  sock_ = dir_ + "/sock";
  mntdir_ = dir_ + "/m";
  file_ = mntdir_ + "/disk";
  trigger_ = dir_ + "/fail-trigger";
  log_ = dir_ + "/nbdkit.log";
  if (::mkdir(mntdir_.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("mkdir " + mntdir_);

  // nbdkit writes its pid file only once it accepts connections (a socket
  // that merely exists may still refuse them: seen under load).
  const std::string pidfile = dir_ + "/nbdkit.pid";
  std::vector<std::string> argv = {"nbdkit", "--foreground", "-U", sock_, "-P", pidfile, "--filter=error"};
  bool delay = !o.delay_read.empty() || !o.delay_write.empty();
  if (delay) argv.push_back("--filter=delay");
  argv.insert(argv.end(), {"file", image, "error=EIO", "error-rate=100%", "error-file=" + trigger_});
  if (!o.delay_read.empty()) argv.push_back("delay-read=" + o.delay_read);
  if (!o.delay_write.empty()) argv.push_back("delay-write=" + o.delay_write);

  {
    std::lock_guard lk(g_nbd_mu);
    g_nbd_live.push_back(this);
  }
  try {
    nbdkit_ = spawn(argv, log_, SIGKILL);
    bool up = wait_until(
        [&] {
          struct stat st{};
          return ::stat(pidfile.c_str(), &st) == 0 && st.st_size > 0 && ::stat(sock_.c_str(), &st) == 0 &&
                 S_ISSOCK(st.st_mode);
        },
        10, 0.002);
    if (!up || wait_child(nbdkit_, 0)) {
      if (wait_child(nbdkit_, 0)) nbdkit_ = -1;
      throw std::runtime_error("nbdkit did not come up: " + join_argv(argv) + "\n" + log());
    }
    std::vector<std::string> fargv = {"nbdfuse"};
    if (o.connections > 0) {
      fargv.push_back("-C");
      fargv.push_back(std::to_string(o.connections));
    }
    fargv.insert(fargv.end(), {file_, "--unix", sock_});
    // Retried: nbdfuse gives up at once when its first connect fails.
    for (int attempt = 0; attempt < 3; ++attempt) {
      nbdfuse_ = spawn(fargv, log_ + ".nbdfuse", SIGTERM);
      up = wait_until(
          [&] {
            struct stat sm{}, sd{}, sf{};
            return wait_child(nbdfuse_, 0) ||
                   (::stat(mntdir_.c_str(), &sm) == 0 && ::stat(dir_.c_str(), &sd) == 0 && sm.st_dev != sd.st_dev &&
                    ::stat(file_.c_str(), &sf) == 0);
          },
          10, 0.002);
      if (!wait_child(nbdfuse_, 0)) break;
      nbdfuse_ = -1;  // exited (and reaped): try again
      up = false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!up) {
      if (wait_child(nbdfuse_, 0)) nbdfuse_ = -1;
      throw std::runtime_error("nbdfuse did not come up: " + join_argv(fargv) + "\n" + log());
    }
  } catch (...) {
    cleanup();
    throw;
  }
}

NbdPath::~NbdPath() { cleanup(); }

void NbdPath::cleanup() {
  {
    std::lock_guard lk(g_nbd_mu);
    g_nbd_live.erase(std::remove(g_nbd_live.begin(), g_nbd_live.end(), this), g_nbd_live.end());
  }
  if (frozen_) thaw();
  loop_.reset();
  if (!mntdir_.empty()) unmount(mntdir_);
  stop_child(nbdfuse_, 3);
  nbdfuse_ = -1;
  stop_child(nbdkit_, 3);
  nbdkit_ = -1;
  if (should_dump_logs() && !log_.empty()) {
    dump_log("nbd path " + dir_ + " log", log());
    log_.clear();
  }
}

void NbdPath::fail() { write_text_file(trigger_, "fail\n"); }
void NbdPath::heal() { ::unlink(trigger_.c_str()); }

void NbdPath::freeze() {
  if (nbdkit_ <= 0 || ::kill(nbdkit_, SIGSTOP) != 0) return;
  frozen_ = true;
  // kill() returns before the group stop has reached every thread: on a
  // loaded machine a worker served a request after it.  Wait until every
  // thread shows 'T' (stopped).
  const std::string task_dir = "/proc/" + std::to_string(nbdkit_) + "/task";
  bool all = wait_until(
      [&] {
        std::error_code ec;
        int n = 0;
        for (auto& t : fs::directory_iterator(task_dir, ec)) {
          std::string stat = slurp((t.path() / "stat").string());
          auto rp = stat.rfind(')');
          if (rp == std::string::npos || rp + 2 >= stat.size()) continue;  // thread gone
          char st = stat[rp + 2];
          if (st != 'T' && st != 't') return false;
          ++n;
        }
        return !ec && n > 0;
      },
      5, 0.001);
  if (!all) std::cerr << "NbdPath::freeze: nbdkit " << nbdkit_ << " not stopped after 5 s\n";
}

void NbdPath::thaw() {
  if (nbdkit_ > 0) ::kill(nbdkit_, SIGCONT);
  frozen_ = false;
}

void NbdPath::kill_server() {
  if (nbdkit_ <= 0) return;
  ::kill(nbdkit_, SIGKILL);
  int st;
  ::waitpid(nbdkit_, &st, 0);
  nbdkit_ = -1;
  frozen_ = false;
}

const std::string& NbdPath::attach_loop() {
  if (!loop_) loop_ = std::make_unique<LoopDevice>(file_, true);
  return loop_->dev();
}

std::string NbdPath::log() const { return slurp(log_) + slurp(log_ + ".nbdfuse"); }

void NbdPath::thaw_all() {
  std::lock_guard lk(g_nbd_mu);
  for (auto* p : g_nbd_live)
    if (p->frozen_) p->thaw();
}

}  // namespace mpathfs::e2e
