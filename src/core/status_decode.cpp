// Decoding status.json (see status_decode.hpp).  Kept apart from the
// renderers: the daemon only writes status, clients only read it back.
#include "core/status_decode.hpp"

#include <cerrno>

#include "core/latency_json.hpp"
#include "core/status_render.hpp"
#include "core/word_escape.hpp"

namespace mpathfs {
namespace {

using json = nlohmann::json;

Error malformed(const std::string& what) { return Error{EPROTO, "status.json: " + what}; }

// A member that must be a string; nullopt when it is not.
std::optional<std::string> string_member(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// An escaped word (name, path, uuid, checker, errno name) back to its bytes.
Result<std::string> word_member(const json& j, const char* key) {
  auto s = string_member(j, key);
  if (!s) return malformed(std::string("no string \"") + key + "\"");
  auto raw = unescape_word(*s);
  if (!raw) return malformed(std::string("\"") + key + "\" is not an escaped word");
  return std::move(raw.value());
}

// A number of any JSON kind as T, or dflt when absent or not a number.
template <typename T>
T number_member(const json& j, const char* key, T dflt = T{}) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<T>() : dflt;
}

bool bool_member(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

// "latency": {"read": {...}, "write": {...}} (latency_json.hpp).
void latencies_from_json(const json& j, HistogramSnapshot& r, HistogramSnapshot& w) {
  auto it = j.find("latency");
  if (it == j.end() || !it->is_object()) return;
  if (auto rt = it->find("read"); rt != it->end()) r = latency_from_json(*rt);
  if (auto wt = it->find("write"); wt != it->end()) w = latency_from_json(*wt);
}

Result<PathStatus> path_from_json(const json& j) {
  if (!j.is_object()) return malformed("a path entry is not an object");
  PathStatus p;
  auto path = word_member(j, "path");
  if (!path) return path.error();
  p.path = std::move(path.value());
  auto state = parse_path_state(string_member(j, "state").value_or(""));
  if (!state) return malformed("path " + p.path + " has no known state");
  p.state = *state;
  if (j.contains("checker")) {
    auto checker = word_member(j, "checker");
    if (!checker) return checker.error();
    p.checker = std::move(checker.value());
  }
  if (string_member(j, "last_error")) {
    auto last = word_member(j, "last_error");
    if (!last) return last.error();
    p.last_error = std::move(last.value());
  }
  if (string_member(j, "wwid")) {
    auto wwid = word_member(j, "wwid");
    if (!wwid) return wwid.error();
    p.wwid = std::move(wwid.value());
  }
  p.lost = bool_member(j, "lost");
  p.direct = bool_member(j, "direct");
  p.reads = number_member<uint64_t>(j, "reads");
  p.writes = number_member<uint64_t>(j, "writes");
  p.read_bytes = number_member<uint64_t>(j, "read_bytes");
  p.write_bytes = number_member<uint64_t>(j, "write_bytes");
  p.errors = number_member<uint64_t>(j, "errors");
  p.inflight = number_member<int>(j, "inflight");
  p.mean_latency_us = number_member<double>(j, "mean_latency_us");
  p.failures = number_member<uint64_t>(j, "failures");
  p.io_timeouts = number_member<uint64_t>(j, "io_timeouts");
  p.rescued = number_member<uint64_t>(j, "rescued");
  latencies_from_json(j, p.read_latency, p.write_latency);
  return p;
}

}  // namespace

std::optional<PathState> parse_path_state(std::string_view word) {
  for (auto s : {PathState::kActive, PathState::kPassive, PathState::kRead, PathState::kFail})
    if (word == path_state_name(s)) return s;
  return std::nullopt;
}

std::optional<VolumeState> parse_volume_state(std::string_view word) {
  for (auto s : {VolumeState::kOptimal, VolumeState::kDegraded, VolumeState::kBroken})
    if (word == volume_state_name(s)) return s;
  return std::nullopt;
}

Result<VolumeStatus> volume_from_json(const json& j) {
  if (!j.is_object()) return malformed("not an object");
  VolumeStatus v;
  auto name = word_member(j, "name");
  if (!name) return name.error();
  v.name = std::move(name.value());
  auto mode = parse_mode(string_member(j, "mode").value_or(""));
  if (!mode) return malformed("volume " + v.name + " has no known mode");
  v.mode = *mode;
  auto state = parse_volume_state(string_member(j, "state").value_or(""));
  if (!state) return malformed("volume " + v.name + " has no known state");
  v.state = *state;
  if (string_member(j, "uuid")) {
    auto uuid = word_member(j, "uuid");
    if (!uuid) return uuid.error();
    v.uuid = std::move(uuid.value());
  }
  v.size = number_member<uint64_t>(j, "size");
  v.path_size = number_member<uint64_t>(j, "path_size");
  v.sector_size = number_member<uint32_t>(j, "sector_size");
  v.no_path_retry = number_member<int>(j, "no_path_retry");
  v.io_timeout = number_member<double>(j, "io_timeout");
  v.queued = number_member<uint64_t>(j, "queued");
  v.open_handles = number_member<int>(j, "open");
  v.path_failures = number_member<uint64_t>(j, "path_failures");
  v.failovers = number_member<uint64_t>(j, "failovers");
  v.queued_seconds = number_member<double>(j, "queued_seconds");
  v.no_path_failures = number_member<uint64_t>(j, "no_path_failures");
  v.io_timeouts = number_member<uint64_t>(j, "io_timeouts");
  v.rescued = number_member<uint64_t>(j, "rescued");
  v.interval_s = number_member<double>(j, "interval_s");
  latencies_from_json(j, v.read_latency, v.write_latency);
  if (auto it = j.find("paths"); it != j.end()) {
    if (!it->is_array()) return malformed("\"paths\" is not an array");
    for (auto& pj : *it) {
      auto p = path_from_json(pj);
      if (!p) return p.error();
      v.paths.push_back(std::move(p.value()));
    }
  }
  return v;
}

}  // namespace mpathfs
