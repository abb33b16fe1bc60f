// The harness's test glue: a Catch listener tells the harness when an
// assertion of the running test case failed, so Daemon and NbdPath print
// their logs on tear-down (only then: a passing test stays quiet).
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include <atomic>
#include <exception>
#include <iostream>

#include "e2e/harness.hpp"
#include "e2e/harness_internal.hpp"

namespace mpathfs::e2e {
namespace {
std::atomic<bool> g_test_failed{false};
}  // namespace

bool current_test_failed() { return g_test_failed.load(); }
void set_current_test_failed(bool v) { g_test_failed.store(v); }

namespace detail {

bool should_dump_logs() { return g_test_failed.load() || std::uncaught_exceptions() > 0; }

void dump_log(const std::string& title, const std::string& text) {
  std::cerr << "----- " << title << " -----\n" << text;
  if (!text.empty() && text.back() != '\n') std::cerr << '\n';
  std::cerr << "----- end of " << title << " -----\n";
}

}  // namespace detail
}  // namespace mpathfs::e2e

namespace {

struct FailureListener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testCaseStarting(Catch::TestCaseInfo const& info) override {
    mpathfs::e2e::set_current_test_failed(false);
    TestEventListenerBase::testCaseStarting(info);
  }
  bool assertionEnded(Catch::AssertionStats const& stats) override {
    if (!stats.assertionResult.isOk()) mpathfs::e2e::set_current_test_failed(true);
    return true;
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(FailureListener)
