// Harness, control: one-write control lines (the core's control_io, as the
// CLI uses it), errno names, and parsers of MNT/status and status.json.
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "core/control_io.hpp"
#include "e2e/harness.hpp"

namespace mpathfs::e2e {

// The CLI's own writer: what the tests check is what the CLI does.
int ctl_write(const std::string& path, std::string_view text) { return control_write(path, text); }

std::string errno_name(int e) {
  if (e == 0) return "0";
  if (e == kShortWrite) return "-1 (short write)";
  if (const char* n = ::strerrorname_np(e)) return n;
  return "errno " + std::to_string(e);
}

const StatusVolume* StatusTable::find(std::string_view name) const {
  for (auto& v : volumes)
    if (v.name == name) return &v;
  return nullptr;
}

namespace {
std::pair<std::string, std::string> parse_component(const std::string& raw, const std::string& line) {
  std::string c = raw;
  while (!c.empty() && (c.back() == ' ' || c.back() == '\t')) c.pop_back();
  auto open = c.rfind(" (");
  if (open == std::string::npos || c.empty() || c.back() != ')')
    throw std::runtime_error("status: cannot parse component in line: '" + line + "'");
  std::string path = c.substr(0, open);
  while (!path.empty() && path.back() == ' ') path.pop_back();
  return {path, c.substr(open + 2, c.size() - open - 3)};
}
}  // namespace

StatusTable parse_status(const std::string& text) {
  StatusTable t;
  std::istringstream in(text);
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (header) {
      t.header = line;
      header = false;
      continue;
    }
    if (line[0] != ' ' && line[0] != '\t') {
      std::istringstream ls(line);
      StatusVolume v;
      ls >> v.name >> v.state;
      if (v.state.empty()) throw std::runtime_error("status: no state in line: '" + line + "'");
      std::string rest;
      std::getline(ls, rest);
      size_t s = rest.find_first_not_of(" \t");
      if (s != std::string::npos) v.paths.push_back(parse_component(rest.substr(s), line));
      t.volumes.push_back(std::move(v));
    } else {
      if (t.volumes.empty()) throw std::runtime_error("status: component before any volume: '" + line + "'");
      size_t s = line.find_first_not_of(" \t");
      t.volumes.back().paths.push_back(parse_component(line.substr(s), line));
    }
  }
  if (header) throw std::runtime_error("status: empty (no header line)");
  return t;
}

std::string steady_status(const std::string& file) {
  json j = json::parse(read_file(file));
  for (const char* k : {"interval_s", "interval_latency"}) j.erase(k);
  if (j.contains("paths"))
    for (auto& p : j["paths"])
      for (const char* k : {"checked_ago", "held_left", "interval_latency", "checker"}) p.erase(k);
  return j.dump();
}

json status_json(const std::string& mnt, const std::string& vol) {
  std::string text = read_file(mnt + "/ctl/" + vol + "/status.json");
  try {
    return json::parse(text);
  } catch (const std::exception& e) {
    throw std::runtime_error("status.json of " + vol + " does not parse (" + e.what() + "): " + text);
  }
}

const json& path_entry(const json& st, const std::string& path) {
  for (auto& p : st.at("paths"))
    if (p.at("path") == path) return p;
  throw std::runtime_error("path " + path + " not in status.json: " + st.dump());
}

std::string path_state(const json& st, const std::string& path) { return path_entry(st, path).at("state"); }

std::vector<std::string> path_names(const json& st) {
  std::vector<std::string> v;
  for (auto& p : st.at("paths")) v.push_back(p.at("path"));
  return v;
}

std::vector<std::string> path_states(const json& st) {
  std::vector<std::string> v;
  for (auto& p : st.at("paths")) v.push_back(p.at("state"));
  return v;
}

}  // namespace mpathfs::e2e
