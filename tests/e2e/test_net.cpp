#include "e2e/test_net.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>

namespace mpathfs::e2e {

namespace {

void must(const std::vector<std::string>& argv) {
  RunResult r = run(argv, 20);
  if (!r.exited() || r.exit_code() != 0) {
    std::string cmd;
    for (auto& a : argv) cmd += a + " ";
    throw std::runtime_error("test network: " + cmd + "failed: " + r.describe());
  }
}

// Subnets 169.254.S.0/30: each process owns four third octets (from its
// PID), handed out in turn; links of one TestHost take consecutive ones.
int next_third_octet(int links) {
  static std::atomic<int> used{0};
  const int base = 16 + static_cast<int>(getpid() % 59) * 4;  // 16..251
  int n = used.fetch_add(links) % 4;
  if (n + links > 4) n = 0;
  return base + n;
}

}  // namespace

TestHost::TestHost(const TempDir& tmp, int links) {
  if (links < 1 || links > 4) throw std::invalid_argument("TestHost: 1..4 links");
  static std::atomic<int> serial{0};
  const int id = serial.fetch_add(1);
  ns_ = "mpfs-" + std::to_string(getpid()) + "-" + std::to_string(id);
  (void)tmp;
  run({"ip", "netns", "delete", ns_});  // left by a crashed run with our PID: gone
  must({"ip", "netns", "add", ns_});
  try {
    must({"ip", "-n", ns_, "link", "set", "lo", "up"});
    const int first = next_third_octet(links);
    for (int i = 0; i < links; ++i) {
      Link l;
      l.third = first + i;
      l.ours = "mpv" + std::to_string(getpid() % 100000) + "x" + std::to_string(id) + "_" + std::to_string(i);
      l.theirs = "eth" + std::to_string(i);
      l.subnet = "169.254." + std::to_string(l.third) + ".0/30";
      if (l.ours.size() > 15) l.ours = l.ours.substr(l.ours.size() - 15);
      run({"ip", "link", "delete", l.ours});
      run({"ip", "route", "delete", "unreachable", l.subnet});
      must({"ip", "link", "add", l.ours, "type", "veth", "peer", "name", l.theirs, "netns", ns_});
      links_.push_back(l);
      must({"ip", "addr", "add", local_addr(i) + "/30", "dev", l.ours});
      must({"ip", "link", "set", l.ours, "up"});
      must({"ip", "-n", ns_, "addr", "add", addr(i) + "/30", "dev", l.theirs});
      must({"ip", "-n", ns_, "link", "set", l.theirs, "up"});
      // The guard: with the link down its connected route is gone, and this
      // one (lower priority) keeps the subnet from the default route.
      must({"ip", "route", "add", "unreachable", l.subnet, "metric", "4000"});
    }
  } catch (...) {
    this->~TestHost();
    throw;
  }
}

TestHost::~TestHost() {
  for (pid_t p : servers_) stop_child(p, 2, SIGTERM);
  servers_.clear();
  for (auto& l : links_) {
    run({"ip", "link", "delete", l.ours});  // takes its peer along
    run({"ip", "route", "delete", "unreachable", l.subnet, "metric", "4000"});
  }
  links_.clear();
  if (!ns_.empty()) run({"ip", "netns", "delete", ns_});
  ns_.clear();
}

std::string TestHost::addr(int i) const { return "169.254." + std::to_string(links_.at(i).third) + ".2"; }
std::string TestHost::local_addr(int i) const { return "169.254." + std::to_string(links_.at(i).third) + ".1"; }

void TestHost::cut(int i) { must({"ip", "link", "set", links_.at(i).ours, "down"}); }

void TestHost::restore(int i) {
  must({"ip", "link", "set", links_.at(i).ours, "up"});
  // The connected route returns with the carrier.
  const std::string state = "/sys/class/net/" + links_.at(i).ours + "/operstate";
  wait_until([&] {
    std::string s;
    return try_read_file(state, s) == 0 && s.rfind("up", 0) == 0;
  }, 5, 0.02);
}

pid_t TestHost::spawn(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<std::string> full = {"ip", "netns", "exec", ns_};
  full.insert(full.end(), argv.begin(), argv.end());
  pid_t p = e2e::spawn(full, log, SIGKILL);
  servers_.push_back(p);
  return p;
}

void TestHost::stop(pid_t pid, double grace_s) {
  for (auto it = servers_.begin(); it != servers_.end(); ++it) {
    if (*it == pid) {
      servers_.erase(it);
      break;
    }
  }
  stop_child(pid, grace_s, SIGTERM);
}

RunResult TestHost::run_in(const std::vector<std::string>& argv, double timeout_s) {
  std::vector<std::string> full = {"ip", "netns", "exec", ns_};
  full.insert(full.end(), argv.begin(), argv.end());
  return run(full, timeout_s);
}

bool wait_tcp_port(const std::string& addr, int port, double timeout_s) {
  return wait_until(
      [&] {
        int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0) return false;
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(static_cast<uint16_t>(port));
        ::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
        const bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
        ::close(s);
        return ok;
      },
      timeout_s, 0.05);
}

}  // namespace mpathfs::e2e
