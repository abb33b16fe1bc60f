#include "cli/watch_command.hpp"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include "cli/mount_client.hpp"
#include "cli/watch_render.hpp"

namespace mpathfs::cli {
namespace {

constexpr const char* kUsage = "watch [-m MNT] [-i SECONDS] [-n COUNT] [VOL...]";

// Every volume asked for (all when none), read now.
std::vector<VolumeStatus> read_all(const MountClient& m, const std::vector<std::string>& asked,
                                   std::vector<std::string>& missing) {
  missing.clear();
  int err = 0;
  const std::vector<std::string> names = asked.empty() ? m.volume_names(&err) : asked;
  std::vector<VolumeStatus> out;
  for (auto& n : names) {
    auto s = m.status(n);
    if (s) out.push_back(std::move(s.value()));
    else if (!asked.empty()) missing.push_back(n);  // destroyed meanwhile: say so, keep watching
  }
  return out;
}

std::string local_time() {
  const time_t t = ::time(nullptr);
  struct tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

double mono_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// Set by the handler of a SIGINT/SIGTERM that reached another thread than
// ours (a sanitizer's runtime starts threads before main, with the signals
// not blocked): a handler can reach nothing but a global.
std::atomic<bool> g_stop_signal{false};
void note_stop_signal(int) { g_stop_signal.store(true); }

// Waits up to `seconds`; true when SIGINT/SIGTERM came (blocked in our
// thread, where sigtimedwait collects them; elsewhere the handler notes them).
bool wait_for_signal(const sigset_t& set, double seconds) {
  const double end = mono_seconds() + seconds;
  for (;;) {
    if (g_stop_signal.load()) return true;
    const double left = std::min(end - mono_seconds(), 0.1);
    if (end - mono_seconds() <= 0) return false;
    timespec ts{static_cast<time_t>(left), static_cast<long>((left - std::floor(left)) * 1e9)};
    const int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig > 0) return true;
    if (sig < 0 && errno == EAGAIN) continue;  // a slice is over: look at the flag
    if (sig < 0 && errno != EINTR) return false;
  }
}

}  // namespace

int run_watch(int argc, char** argv) {
  CLI::App app{"Show every path of every volume (or of the VOLs) live: state, IOPS, MB/s, in-flight, p99 "
               "latency, errors, refreshed every interval.",
               "mpathfs watch"};
  app.footer(std::string("usage: mpathfs ") + kUsage);
  std::string mnt_arg;
  double interval = 1;
  int count = 0;
  std::vector<std::string> vols;
  app.add_option("-m,--mount", mnt_arg, "mount point of the mpathfs daemon (default: the only one mounted)");
  app.add_option("-i,--interval", interval, "seconds between refreshes (default 1)")->check(CLI::Range(0.1, 3600.0));
  app.add_option("-n,--count", count, "stop after COUNT intervals (default: until Ctrl-C)")->check(CLI::NonNegativeNumber);
  app.add_option("VOL", vols, "volume names (default: all)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e) == 0 ? 0 : 1;
  } catch (const CLI::ParseError& e) {
    std::cerr << "mpathfs watch: " << e.what() << "\nusage: mpathfs " << kUsage << "\n";
    return 1;
  }
  auto mnt = find_mount(mnt_arg);
  if (!mnt) return 1;
  const MountClient m(*mnt);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  struct sigaction sa {};
  sa.sa_handler = note_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigprocmask(SIG_BLOCK, &set, nullptr);

  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  WatchFrame f;
  f.before = read_all(m, vols, f.missing);
  double t0 = mono_seconds();
  for (int n = 0; count == 0 || n < count; ++n) {
    if (wait_for_signal(set, interval)) break;
    f.after = read_all(m, vols, f.missing);
    const double t1 = mono_seconds();
    f.seconds = t1 - t0;
    f.time = local_time();
    const std::string text = render_watch(f, tty);
    // A terminal: home, clear, draw (no scrolling history); a pipe: blocks.
    if (tty) std::cout << "\x1b[H\x1b[2J" << text << std::flush;
    else std::cout << text << "\n" << std::flush;
    if (!std::cout) return 1;  // the reader went away
    f.before = std::move(f.after);
    t0 = t1;
  }
  return 0;
}

}  // namespace mpathfs::cli
