// A user-space iSCSI target of the test's own: tgtd (Debian `tgt`) inside a
// TestHost, one portal per link, a private control port (-C) so no system
// target is touched, LUNs over files with identities of their own
// (scsi_id/scsi_sn: tgt's default identifiers come from target and LUN
// numbers only, the same for every tgt).
//
// tgtd ignores SIGTERM while targets exist: it is stopped by SIGKILL of its
// PID, by the destructor too (a failing REQUIRE unwinds through it).  kill()
// and start() let a test restart it: start() replays every target, LUN,
// account and binding made so far.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "e2e/harness.hpp"
#include "e2e/test_net.hpp"
#include "e2e/tools.hpp"

namespace mpathfs::e2e {

class TgtTarget {
 public:
  TgtTarget(const TempDir& tmp, TestHost& host)
      : host_(host), log_(tmp / "tgtd.log"), port_(std::to_string(20000 + getpid() % 12000)) {  // tgtd takes -C up to 32767
    require_tool("tgtd");
    start();
  }
  ~TgtTarget() { kill(); }
  TgtTarget(const TgtTarget&) = delete;
  TgtTarget& operator=(const TgtTarget&) = delete;

  static std::string iqn(int tid) { return "iqn.2026-12.org.mpathfs.test:t" + std::to_string(tid); }

  void add_target(int tid) {
    record({"--lld", "iscsi", "--mode", "target", "--op", "new", "--tid", std::to_string(tid), "-T", iqn(tid)});
  }
  void add_lun(int tid, int lun, const std::string& file, const std::string& id) {
    record({"--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", std::to_string(tid), "--lun",
            std::to_string(lun), "-b", file});
    record({"--lld", "iscsi", "--mode", "logicalunit", "--op", "update", "--tid", std::to_string(tid), "--lun",
            std::to_string(lun), "--params", "scsi_id=mpathfs-" + id + ",scsi_sn=SN" + id});
  }
  void add_account(int tid, const std::string& user, const std::string& secret) {
    record({"--lld", "iscsi", "--mode", "account", "--op", "new", "--user", user, "--password", secret});
    record({"--lld", "iscsi", "--mode", "account", "--op", "bind", "--tid", std::to_string(tid), "--user", user});
  }
  void bind_all(int tid) {
    record({"--lld", "iscsi", "--mode", "target", "--op", "bind", "--tid", std::to_string(tid), "-I", "ALL"});
  }

  // The path word of LUN `lun` of target `tid` through link `link`.
  std::string url(int link, int tid, int lun, const std::string& auth = "") const {
    return "iscsi://" + auth + host_.addr(link) + ":3260/" + iqn(tid) + "/" + std::to_string(lun);
  }

  pid_t pid() const { return pid_; }

  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    host_.stop(pid_, 1);
    pid_ = -1;
  }

  void start() {
    if (pid_ > 0) return;
    pid_ = host_.spawn({"tgtd", "-f", "-C", port_, "--iscsi", "portal=" + host_.addr(0) + ":3260"}, log_);
    if (!wait_tcp_port(host_.addr(0), 3260, 15)) throw std::runtime_error("tgtd did not listen: " + read_file(log_));
    for (int i = 1; i < host_.links(); ++i)
      tgtadm({"--lld", "iscsi", "--mode", "portal", "--op", "new", "--param", "portal=" + host_.addr(i) + ":3260"});
    for (auto& c : replay_) tgtadm(c);
  }

 private:
  void record(const std::vector<std::string>& args) {
    tgtadm(args);
    replay_.push_back(args);
  }
  void tgtadm(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"tgtadm", "-C", port_};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = host_.run_in(argv, 20);
    if (!r.exited() || r.exit_code() != 0) throw std::runtime_error("tgtadm failed: " + r.describe());
  }

  TestHost& host_;
  std::string log_, port_;
  pid_t pid_ = -1;
  std::vector<std::vector<std::string>> replay_;
};

}  // namespace mpathfs::e2e
