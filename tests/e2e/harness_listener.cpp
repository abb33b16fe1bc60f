// Tells the harness when an assertion of the running test case failed, so
// Daemon and NbdPath print their logs on tear-down (only then: a passing
// test stays quiet).
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include "e2e/harness.hpp"

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
