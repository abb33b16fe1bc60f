// Harness, the daemon: the mpathfs daemon under test, started in the
// foreground and waited for, or daemonized and found again through /proc;
// always unmounted and reaped on tear-down.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <thread>

#include "e2e/harness.hpp"
#include "e2e/harness_internal.hpp"

#ifndef MPATHFS_BIN
#define MPATHFS_BIN "mpathfs"
#endif

namespace mpathfs::e2e {

using detail::dump_log;
using detail::join_argv;
using detail::should_dump_logs;
using detail::slurp;

namespace fs = std::filesystem;

Daemon::Daemon(const TempDir& tmp, Options o) {
  mnt_ = o.mnt.empty() ? tmp.mkdir("mnt") : o.mnt;
  if (!fs::exists(mnt_)) fs::create_directories(mnt_);
  log_file_ = tmp / ("daemon-" + fs::path(mnt_).filename().string() + ".log");
  std::vector<std::string> argv = {MPATHFS_BIN, "-f"};
  for (auto& a : o.extra_args) argv.push_back(a);
  if (!o.opts.empty()) {
    argv.push_back("-o");
    argv.push_back(o.opts);
  }
  if (getenv("MPATHFS_E2E_DEBUG")) argv.push_back("-d");
  argv.push_back(o.source);
  argv.push_back(mnt_);
  {
    std::ofstream lf(log_file_, std::ios::app);
    lf << "# " << join_argv(argv) << "\n";
  }
  pid_ = spawn(argv, log_file_, SIGTERM);
  try {
    wait_ready(o.ready_timeout);
  } catch (...) {
    shutdown();
    throw;
  }
}

std::unique_ptr<Daemon> Daemon::adopt(const TempDir&, const std::string& mnt, pid_t pid, const std::string& log_file) {
  std::unique_ptr<Daemon> d(new Daemon());
  d->mnt_ = mnt;
  d->pid_ = pid;
  d->child_ = false;
  d->log_file_ = log_file;
  return d;
}

void Daemon::wait_ready(double timeout_s) {
  double deadline = now_s() + timeout_s;
  std::string parent = fs::path(mnt_).parent_path();
  for (;;) {
    int st = 0;
    pid_t w = ::waitpid(pid_, &st, WNOHANG);
    if (w == pid_) {
      pid_ = -1;
      RunResult r;
      r.status = st;
      throw std::runtime_error("mpathfs exited before its mount was ready (" + r.describe() + log() + ")");
    }
    struct stat sm{}, sp{};
    if (::stat(mnt_.c_str(), &sm) == 0 && ::stat(parent.c_str(), &sp) == 0 && sm.st_dev != sp.st_dev) {
      std::string text;
      if (try_read_file(mnt_ + "/status", text) == 0) return;
    }
    if (now_s() >= deadline)
      throw std::runtime_error("mpathfs mount " + mnt_ + " not ready after " + std::to_string(timeout_s) +
                               " s; log:\n" + log());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Daemon::~Daemon() { shutdown(); }

std::string Daemon::log() const { return log_file_.empty() ? std::string() : slurp(log_file_); }

bool Daemon::alive() const {
  if (pid_ <= 0) return false;
  if (child_) {
    int st;
    return ::waitpid(pid_, &st, WNOHANG) == 0;
  }
  return ::kill(pid_, 0) == 0;
}

int Daemon::signal_and_wait(int sig, double timeout_s) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, sig);
  if (child_) {
    int st = 0;
    if (!wait_child(pid_, timeout_s, &st)) return -1;
    pid_ = -1;
    return st;
  }
  if (!wait_gone(pid_, timeout_s)) return -1;
  pid_ = -1;
  return 0;
}

void Daemon::shutdown() {
  if (done_) return;
  done_ = true;
  const bool trace = std::getenv("MPATHFS_E2E_TRACE") != nullptr;
  double t0 = now_s();
  NbdPath::thaw_all();
  unmount(mnt_);
  if (trace) std::cerr << "[e2e] " << mnt_ << ": unmounted after " << now_s() - t0 << " s\n";
  if (pid_ > 0) {
    if (child_) {
      if (!wait_child(pid_, 3)) {
        std::cerr << "[e2e] mpathfs (pid " << pid_ << ") still running 3 s after unmount: SIGTERM\n";
        stop_child(pid_, 5, SIGTERM);
      }
      if (trace) std::cerr << "[e2e] " << mnt_ << ": daemon reaped after " << now_s() - t0 << " s\n";
    } else {
      if (!wait_gone(pid_, 3)) {
        ::kill(pid_, SIGTERM);
        if (!wait_gone(pid_, 5)) {
          ::kill(pid_, SIGKILL);
          wait_gone(pid_, 5);
        }
      }
    }
    pid_ = -1;
  }
  if (should_dump_logs()) dump_log("mpathfs log (" + mnt_ + ")", log());
}

StartResult start_daemonizing(const std::string& source, const std::string& mnt, const std::string& opts,
                              double timeout_s) {
  std::vector<std::string> argv = {MPATHFS_BIN};
  if (!opts.empty()) {
    argv.push_back("-o");
    argv.push_back(opts);
  }
  argv.push_back(source);
  argv.push_back(mnt);
  StartResult r;
  r.run = run(argv, timeout_s);
  r.daemon_pid = find_daemon_pid(mnt);
  return r;
}

pid_t find_daemon_pid(const std::string& mnt) {
  std::error_code ec;
  pid_t self = ::getpid();
  for (auto& e : fs::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == self) continue;
    std::string cmd = slurp("/proc/" + name + "/cmdline");
    std::vector<std::string> args;
    size_t s = 0;
    for (size_t i = 0; i < cmd.size(); ++i)
      if (cmd[i] == '\0') {
        args.push_back(cmd.substr(s, i - s));
        s = i + 1;
      }
    if (args.empty() || fs::path(args[0]).filename() != "mpathfs") continue;
    if (std::find(args.begin(), args.end(), mnt) != args.end()) return pid;
  }
  return -1;
}

}  // namespace mpathfs::e2e
