#include "core/device_monitor.hpp"

#include <linux/netlink.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "core/config.hpp"
#include "core/device_departure.hpp"

namespace mpathfs {
namespace {

// How often loop paths are looked at for the autoclear mark.
constexpr int kAutoclearPollMs = 500;

std::string canonical_or_empty(const std::string& name) {
  std::error_code ec;
  auto c = std::filesystem::canonical(name, ec);
  return ec ? std::string() : c.string();
}

}  // namespace

bool parse_uevent(const char* buf, size_t len, Uevent* out) {
  std::string_view all(buf, len);
  const size_t first = all.find('\0');
  if (first == std::string_view::npos || all.substr(0, first).find('@') == std::string_view::npos) return false;
  Uevent e;
  for (size_t i = first + 1; i < all.size();) {
    size_t end = all.find('\0', i);
    if (end == std::string_view::npos) end = all.size();
    std::string_view kv = all.substr(i, end - i);
    if (kv.substr(0, 7) == "ACTION=") e.action = kv.substr(7);
    else if (kv.substr(0, 10) == "SUBSYSTEM=") e.subsystem = kv.substr(10);
    else if (kv.substr(0, 8) == "DEVNAME=") e.devname = kv.substr(8);
    i = end + 1;
  }
  if (e.action.empty()) return false;
  *out = std::move(e);
  return true;
}

DeviceMonitor::DeviceMonitor(Registry& reg, std::function<void()> on_tree_change)
    : reg_(reg), on_tree_change_(std::move(on_tree_change)) {}

DeviceMonitor::~DeviceMonitor() { stop(); }

VoidResult DeviceMonitor::listen() {
  if (sock_ >= 0) return {};
  sock_ = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
  if (sock_ < 0) return Error{errno, std::string("uevent socket: ") + std::strerror(errno)};
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = 1;  // the kernel's own broadcast (udev's is group 2)
  if (::bind(sock_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    ::close(sock_);
    sock_ = -1;
    return Error{e, std::string("uevent socket: bind: ") + std::strerror(e)};
  }
  wake_ = ::eventfd(0, EFD_CLOEXEC);
  if (wake_ < 0) {
    const int e = errno;
    ::close(sock_);
    sock_ = -1;
    return Error{e, std::string("eventfd: ") + std::strerror(e)};
  }
  return {};
}

VoidResult DeviceMonitor::start() {
  if (auto l = listen(); !l) return l;
  if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
  return {};
}

void DeviceMonitor::stop() {
  if (wake_ >= 0) {
    const uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  if (sock_ >= 0) ::close(sock_);
  if (wake_ >= 0) ::close(wake_);
  sock_ = wake_ = -1;
}

void DeviceMonitor::loop() {
  char buf[8192];
  for (;;) {
    pollfd fds[2] = {{sock_, POLLIN, 0}, {wake_, POLLIN, 0}};
    const int n = ::poll(fds, 2, poll_timeout_ms());
    if (n < 0 && errno != EINTR) {
      spdlog::error("uevent monitor: poll: {}; devices that appear are tasted on ctl/rescan only",
                    std::strerror(errno));
      return;
    }
    if (fds[1].revents) return;
    if (n > 0 && (fds[0].revents & POLLIN)) {
      const ssize_t len = ::recv(sock_, buf, sizeof buf, MSG_DONTWAIT);
      if (len < 0 && errno == ENOBUFS) {
        // The socket's queue overflowed (a burst of events): some are lost,
        // so every glob is tasted again.
        spdlog::warn("uevent monitor: events lost (queue full); tasting the scan globs again");
        try {
          reg_.rescan();
        } catch (const std::exception& ex) {
          spdlog::error("uevent monitor: {}", ex.what());
        }
        if (on_tree_change_) on_tree_change_();
        continue;
      }
      Uevent e;
      if (len > 0 && parse_uevent(buf, static_cast<size_t>(len), &e)) {
        try {
          handle(e);
        } catch (const std::exception& ex) {
          spdlog::error("uevent monitor: {}", ex.what());
        }
      }
    } else {
      // Quiet: the autoclear mark sends no event.
      if (leave_detached_loops(reg_) && on_tree_change_) on_tree_change_();
    }
    try {
      if (retry_due() && on_tree_change_) on_tree_change_();
    } catch (const std::exception& ex) {
      spdlog::error("uevent monitor: {}", ex.what());
    }
  }
}

int DeviceMonitor::poll_timeout_ms() const {
  auto next = retries_.next_in(TasteRetries::Clock::now());
  if (!next) return kAutoclearPollMs;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(*next).count();
  return static_cast<int>(std::min<decltype(ms)>(ms, kAutoclearPollMs));
}

bool DeviceMonitor::retry_due() {
  if (retries_.size() == 0) return false;
  const auto now = TasteRetries::Clock::now();
  bool tree = false;
  for (auto& e : retries_.take_due(now)) {
    const uint64_t before = reg_.generation();
    auto r = reg_.assemble({e.dev});
    for (auto& problem : r.problems) spdlog::warn("scan: {}", problem);
    tree |= reg_.generation() != before;
    const bool ready = r.not_ready.empty();
    const bool busy = !ready && r.not_ready[0].why == Registry::Readiness::kBusy;
    spdlog::debug("scan: {} tasted again (retry {}): {}", e.dev, e.tries + 1,
                  ready ? "done" : busy ? "busy" : "empty");
    if (ready) continue;
    const std::string dev = e.dev;
    const int tries = e.tries + 1;
    if (retries_.again(std::move(e), now)) continue;
    // Busy to the end: someone else holds it (mounted, in use), worth a line.
    // Empty: a loop device detached, or not set up: nothing to say.
    if (busy)
      spdlog::info("scan: {} still in use by another program after {} tries; tasted again on its next uevent or "
                   "ctl/rescan",
                   dev, tries);
  }
  return tree;
}

void DeviceMonitor::handle(const Uevent& e) {
  if (e.subsystem != "block" || e.devname.empty()) return;
  const std::string devnode = "/dev/" + e.devname;
  bool tree = leave_detached_loops(reg_);
  if (e.action == "remove") {
    tree |= device_removed(reg_, devnode);
  } else if (e.action == "add" || e.action == "change") {
    // The globs' matches that are this device (by-id links included).
    std::vector<std::string> hits;
    for (auto& m : expand_globs(reg_.scan_globs()))
      if (m == devnode || canonical_or_empty(m) == devnode) hits.push_back(m);
    if (!hits.empty()) {
      const uint64_t before = reg_.generation();
      auto r = reg_.assemble(hits);
      for (auto& problem : r.problems) spdlog::warn("scan: {}", problem);
      for (auto& n : r.not_ready) {
        spdlog::debug("scan: {} {} at its uevent: tasted again shortly", n.dev,
                      n.why == Registry::Readiness::kBusy ? "busy" : "empty");
        retries_.add(n.dev, TasteRetries::Clock::now());
      }
      tree |= reg_.generation() != before;
    }
  }
  if (tree && on_tree_change_) on_tree_change_();
}

}  // namespace mpathfs
