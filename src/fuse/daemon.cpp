#include "fuse/daemon.hpp"

#include <signal.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "core/path_open.hpp"
#include "core/checker.hpp"
#include "core/config.hpp"
#include "core/device_monitor.hpp"
#include "core/path_open.hpp"
#include "core/registry.hpp"
#include "core/watchdog.hpp"
#include "fuse/fs.hpp"
#include "fuse/mount_point.hpp"
#include "fuse/worker_pool.hpp"

namespace mpathfs::fuse {
namespace {

// Start-up errors go to stderr (the user is watching `mount`) and the log.
int fail(int code, const std::string& msg) {
  std::fprintf(stderr, "mpathfs: %s\n", msg.c_str());
  if (spdlog::default_logger()->name() == "mpathfs") spdlog::error("{}", msg);
  return code;
}

void setup_logging(const DaemonOptions& o, bool foreground, bool debug) {
  std::string target = o.log.empty() ? (foreground ? "stderr" : "syslog") : o.log;
  std::shared_ptr<spdlog::logger> logger;
  try {
    if (target == "stderr") logger = spdlog::stderr_logger_mt("mpathfs");
    else if (target == "syslog") logger = spdlog::syslog_logger_mt("mpathfs", "mpathfs", LOG_PID, LOG_DAEMON);
    else logger = spdlog::basic_logger_mt("mpathfs", target);
  } catch (const spdlog::spdlog_ex& e) {
    std::fprintf(stderr, "mpathfs: cannot log to %s (%s); logging to stderr\n", target.c_str(), e.what());
    logger = spdlog::stderr_logger_mt("mpathfs-stderr");
  }
  logger->set_pattern(target == "syslog" ? "%v" : "%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  logger->set_level(debug ? spdlog::level::debug : spdlog::level::info);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

std::string escape_opt(const std::string& s) {
  // libfuse option values: ',' and '\' must be escaped.
  std::string out;
  for (char c : s) {
    if (c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

int run_daemon(const DaemonArgs& a) {
  // Options: the config's first, then -o (the command line wins).
  Config cfg;
  if (a.source != "none") {
    auto c = load_config(a.source);
    if (!c) return fail(1, c.error().describe());
    cfg = std::move(c).value();
  }
  DaemonOptions& opt = cfg.options;
  for (auto& l : a.option_lists)
    if (auto s = apply_option_list(opt, l); !s) return fail(1, s.error().msg);

  setup_logging(opt, a.foreground, a.debug);

  if (std::string why = mount_point_problem(a.mountpoint); !why.empty()) return fail(1, why);
  // Daemonizing moves to /: keep the mount point's absolute name.
  const std::string mountpoint_abs = std::filesystem::absolute(a.mountpoint).lexically_normal().string();

  VolumeDefaults defaults;
  defaults.no_path_retry = opt.no_path_retry;
  defaults.io_timeout = opt.io_timeout;
  defaults.file_mode = opt.file_mode;
  defaults.open.try_direct = opt.direct;
  defaults.open.exclusive = opt.exclusive;
  defaults.open.read_only = opt.read_only;
  Registry reg(defaults);

  const std::filesystem::path config_dir =
      a.source == "none" ? std::filesystem::path("/") : std::filesystem::absolute(a.source).parent_path();
  for (auto spec : cfg.volumes) {
    // Relative paths in a config are relative to the config file; a URI
    // (iscsi://, nbd://) is no file name and stays as written.
    for (auto& p : spec.paths)
      if (!p.empty() && p[0] != '/' && !is_uri(p)) p = (config_dir / p).lexically_normal().string();
    if (auto s = reg.create(spec); !s)
      return fail(1, a.source + ": volume " + spec.name + ": " + s.error().describe());
  }
  reg.set_scan(opt.scan);
  // The uevent socket listens before the first scan: a device that appears
  // between the scan and the monitor's thread (started after daemonizing)
  // waits in its queue instead of being missed.
  DeviceMonitor monitor(reg);
  bool uevents = false;
  if (!opt.scan.empty()) {
    if (auto m = monitor.listen(); !m)
      spdlog::warn("no uevents ({}): devices that appear are tasted on ctl/rescan only", m.error().msg);
    else
      uevents = true;
    reg.rescan();
  }

  // The FUSE session.
  Fs fs(reg, opt);
  std::vector<std::string> argv_store = {"mpathfs", "-o",
                                         "default_permissions,fsname=" + escape_opt(a.source) + ",subtype=mpathfs"};
  if (opt.allow_other) argv_store[2] += ",allow_other";
  if (opt.read_only) argv_store[2] += ",ro";
  for (auto& o : opt.fuse_opts) argv_store[2] += "," + o;
  std::vector<char*> argv;
  for (auto& s : argv_store) argv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  fuse_lowlevel_ops ops = make_ops();
  fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, &fs);
  if (!se) return fail(1, "cannot start a FUSE session (bad mount options?)");
  if (fuse_session_mount(se, a.mountpoint.c_str()) != 0) {
    fuse_session_destroy(se);
    return fail(2, "cannot mount on " + a.mountpoint + " (is /dev/fuse there, are you root?)");
  }

  // Signals are taken synchronously by the main thread; every thread
  // started from here inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  if (!a.foreground) {
    // After the mount and before any thread: the parent returns only now,
    // so `mount` returns when the tree is there.
    if (fuse_daemonize(0) != 0) {
      fuse_session_unmount(se);
      fuse_session_destroy(se);
      return fail(2, "cannot daemonize");
    }
  }

  int workers = opt.workers > 0 ? opt.workers : std::max(8u, 2 * std::thread::hardware_concurrency());
  Watchdog watchdog(1 << 20, 50, reg.clock());
  WorkerPool pool(se, workers, 1 << 20, &watchdog);
  // As many as the kernel sends at once (max_background, session.cpp), of
  // the sizes where a waiting worker costs more than the transfer.
  AsyncPool async(kMaxBackground, kAsyncMaxBytes, &watchdog);
  fs.set_async(&async);
  watchdog.after_scan([&async] { async.trim(); });
  // The watchdog's thread calls into `async`: stopped before `async` goes,
  // whichever way this function ends.
  struct StopFirst {
    Watchdog& w;
    ~StopFirst() { w.stop(); }
  } stop_watchdog_first{watchdog};
  Checker checker(reg, CheckerPolicy::from(opt));
  watchdog.start();
  pool.start();
  checker.start();
  if (uevents) (void)monitor.start();  // listening already: cannot fail
  spdlog::info("mpathfs {} serving {} on {} ({} workers, {} volumes)", MPATHFS_VERSION, a.source, a.mountpoint,
               workers, reg.list().size());

  // Serve until a signal, or until the kernel ends the session (umount).
  bool signalled = false;
  while (!pool.done()) {
    timespec tick{0, 50 * 1000 * 1000};  // how soon an external umount is noticed
    siginfo_t si;
    int s = sigtimedwait(&sigs, &si, &tick);
    if (s > 0) {
      spdlog::info("signal {}: flushing and unmounting", s);
      signalled = true;
      break;
    }
  }
  reg.flush_all();
  if (signalled) {
    // A lazy unmount: users that still hold the volume (an open file, a
    // loop device) keep being served until they let go; then the kernel
    // ends the session and the workers leave.  Not fuse_session_unmount():
    // it closes /dev/fuse under the workers' feet.
    if (::umount2(mountpoint_abs.c_str(), MNT_DETACH) != 0) {
      spdlog::warn("cannot detach {}: {}; unmounting through libfuse", mountpoint_abs, std::strerror(errno));
      fuse_session_exit(se);
      fuse_session_unmount(se);
    }
    pool.wait();
    reg.flush_all();
  }
  monitor.stop();
  checker.stop();
  reg.shut_down_all();
  // Requests in flight on network paths: answered by now, or soon (queued
  // ones were just released with EIO), or stuck with a hung path.
  const size_t async_stuck = async.wait_idle(kAsyncDrainSeconds);
  const int stuck = pool.blocked() + static_cast<int>(async_stuck);
  if (const bool flush_hung = reg.any_flush_hung(); stuck > 0 || flush_hung) {
    // Threads stuck in calls to hung paths can never be joined; their late
    // answers are dropped anyway.  Leave without tearing down under them
    // (closing a hung path's file would hang as well).  The kernel still
    // waits for a call it already sent to a FUSE server before the last
    // thread can go: the process is reaped once the path answers.
    spdlog::warn("mpathfs stopped; {} request(s){} stuck on hung paths abandoned", stuck,
                 flush_hung ? " and a flush" : "");
    spdlog::shutdown();
    std::_Exit(0);
  }
  watchdog.stop();
  fuse_session_unmount(se);
  fuse_session_destroy(se);
  spdlog::info("mpathfs stopped");
  spdlog::shutdown();
  return 0;
}

}  // namespace mpathfs::fuse
