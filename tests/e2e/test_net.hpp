// Test hosts for network paths: a network namespace of the test's own,
// joined to ours by one veth pair per link, with addresses in 169.254.0.0/16
// only (link-local: never a private or public range) and an `unreachable`
// guard route per link subnet, so a cut link never sends traffic out by the
// default route.  Servers run inside the namespace (`ip netns exec`).
//
// Everything is removed by the destructor — servers (by PID), guard routes,
// links, the namespace — also when a test fails; a namespace left by a
// crashed run of the same name is removed before use.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "e2e/harness.hpp"

namespace mpathfs::e2e {

class TestHost {
 public:
  // `links` veth pairs (1..4).  Each link gets its own /30:
  // 169.254.<S+i>.1 (our side) and 169.254.<S+i>.2 (the host's side),
  // S chosen from our PID so concurrent test processes do not meet.
  TestHost(const TempDir& tmp, int links);
  ~TestHost();
  TestHost(const TestHost&) = delete;
  TestHost& operator=(const TestHost&) = delete;

  const std::string& ns() const { return ns_; }
  int links() const { return static_cast<int>(links_.size()); }
  // The host's address on link i (what a path URI names).
  std::string addr(int i) const;
  // Our side's address on link i.
  std::string local_addr(int i) const;

  // Cuts link i (our side's veth down: the connected route goes, the guard
  // route answers, established connections stall as on a pulled cable).
  void cut(int i);
  void restore(int i);

  // Runs argv inside the namespace with output appended to log; the server
  // is stopped by the destructor (or by stop()).
  pid_t spawn(const std::vector<std::string>& argv, const std::string& log);
  void stop(pid_t pid, double grace_s = 3);
  // Runs argv inside the namespace and waits (ip netns exec NS argv...).
  RunResult run_in(const std::vector<std::string>& argv, double timeout_s = 30);

 private:
  struct Link {
    std::string ours, theirs, subnet;
    int third;  // the third octet of the /30
  };
  std::string ns_;
  std::vector<Link> links_;
  std::vector<pid_t> servers_;
};

// Waits until a TCP port answers on addr (from our namespace); false after timeout_s.
bool wait_tcp_port(const std::string& addr, int port, double timeout_s);

}  // namespace mpathfs::e2e
