// Harness, config: mpathfs.json files for a test's daemon, and the
// regular files that serve as its paths.
#include "e2e/harness.hpp"

namespace mpathfs::e2e {

json volume_spec(const std::string& name, const std::vector<std::string>& paths, const std::string& mode) {
  json v = {{"name", name}, {"paths", paths}};
  if (!mode.empty()) v["mode"] = mode;
  return v;
}

std::string write_config(const TempDir& tmp, const json& options, const json& volumes, const std::string& name) {
  json cfg = {{"options", options}, {"volumes", volumes}};
  std::string p = tmp / name;
  write_text_file(p, cfg.dump(2));
  return p;
}

json quiet_options() {
  return {{"workers", 4}, {"check_interval", 60}, {"no_path_retry", 0}, {"failback", "manual"}, {"io_timeout", 10}};
}

std::vector<std::string> make_path_files(const TempDir& tmp, int n, uint64_t size, uint64_t seed,
                                         const std::string& prefix) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(make_pattern_file(tmp / (prefix + std::to_string(i) + ".img"), size, seed));
  return out;
}

}  // namespace mpathfs::e2e
