#include "e2e/fio_run.hpp"

namespace mpathfs::e2e {

FioRun run_fio(const TempDir& tmp, const std::string& target, uint64_t size, uint32_t seed, double timeout_s,
               int loops) {
  std::string out = tmp / ("fio-" + std::to_string(seed) + ".json");
  std::vector<std::string> argv = {"fio",
                                   "--name=verify",
                                   "--filename=" + target,
                                   "--ioengine=libaio",
                                   "--direct=1",
                                   "--iodepth=16",
                                   "--rw=randwrite",
                                   "--bsrange=4k-1m",
                                   "--size=" + std::to_string(size),
                                   "--loops=" + std::to_string(loops),
                                   "--verify=crc32c",
                                   "--do_verify=1",
                                   "--verify_fatal=1",
                                   "--verify_state_save=0",
                                   "--fallocate=none",
                                   "--randseed=" + std::to_string(seed),
                                   "--output-format=json",
                                   "--output=" + out};
  FioRun r;
  double t0 = now_s();
  r.run = run(argv, timeout_s);
  r.seconds = now_s() - t0;
  std::string text;
  if (try_read_file(out, text) == 0) {
    // fio may print notes before the JSON object.
    size_t brace = text.find('{');
    if (brace != std::string::npos) r.out = json::parse(text.substr(brace), nullptr, false);
  }
  if (r.out.is_object() && r.out.contains("jobs") && !r.out["jobs"].empty()) {
    const json& j = r.out["jobs"][0];
    r.job_error = j.value("error", -1);
    r.written = j["write"].value("io_bytes", uint64_t(0));
    r.verified = j["read"].value("io_bytes", uint64_t(0));
    r.write_clat_max_ns = j["write"]["clat_ns"].value("max", uint64_t(0));
    r.read_clat_max_ns = j["read"]["clat_ns"].value("max", uint64_t(0));
  }
  return r;
}

}  // namespace mpathfs::e2e
