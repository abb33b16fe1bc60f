// One fio write-then-verify pass (random 4k-1M writes at depth 16, then a
// crc32c verify of every block written), O_DIRECT: the data check of the
// torture, health and network tests.  fio's JSON says how it went.
#pragma once

#include <cstdint>
#include <string>

#include "e2e/harness.hpp"

namespace mpathfs::e2e {

struct FioRun {
  RunResult run;
  json out;             // parsed --output (null when it did not parse)
  int job_error = -1;   // jobs[0].error (errno; EILSEQ for a verify failure)
  uint64_t written = 0, verified = 0;  // bytes
  uint64_t write_clat_max_ns = 0, read_clat_max_ns = 0;
  double seconds = 0;
  // fio exited 0, with no job error, and verified what it wrote.
  bool clean() const { return run.exited() && run.exit_code() == 0 && job_error == 0 && verified >= written; }
  double worst_latency_s() const {
    return static_cast<double>(std::max(write_clat_max_ns, read_clat_max_ns)) / 1e9;
  }
};

// One pass over [0, size) of target; `loops` > 1 repeats the write+verify.
FioRun run_fio(const TempDir& tmp, const std::string& target, uint64_t size, uint32_t seed, double timeout_s,
               int loops = 1);

}  // namespace mpathfs::e2e
