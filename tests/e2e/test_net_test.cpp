// The test network itself: links, the guard route, clean-up.
#include <catch2/catch.hpp>

#include "e2e/test_net.hpp"

using namespace mpathfs::e2e;

namespace {

bool netns_exists(const std::string& ns) { return run({"ip", "netns", "list"}).output.find(ns) != std::string::npos; }

}  // namespace

TEST_CASE("test network: a cut link is unreachable, never routed out, everything is removed after") {
  TempDir tmp;
  std::string ns, link_route;
  {
    TestHost host(tmp, 2);
    ns = host.ns();
    REQUIRE(netns_exists(ns));
    pid_t srv = host.spawn({"nbdkit", "-f", "--exit-with-parent", "-i", host.addr(1), "-p", "10809", "memory",
                            "1M"},
                           tmp / "nbdkit.log");
    REQUIRE(wait_tcp_port(host.addr(1), 10809, 10));
    host.cut(1);
    // The guard route answers: no packet leaves by the default route.
    RunResult r = run({"ip", "route", "get", host.addr(1)});
    CHECK((r.output.find("unreachable") != std::string::npos || r.output.find("No route to host") != std::string::npos));
    CHECK(r.output.find(" via ") == std::string::npos);
    CHECK_FALSE(wait_tcp_port(host.addr(1), 10809, 0.3));
    host.restore(1);
    CHECK(wait_tcp_port(host.addr(1), 10809, 5));
    host.stop(srv);
  }
  CHECK_FALSE(netns_exists(ns));
  RunResult routes = run({"ip", "route", "show"});
  CHECK(routes.output.find("unreachable 169.254.") == std::string::npos);
}
