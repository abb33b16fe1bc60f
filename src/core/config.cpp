#include "core/config.hpp"

#include <glob.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/limits.hpp"
#include "core/volume_name.hpp"
#include "core/word_escape.hpp"

namespace mpathfs {
namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string range_text(double lo, double hi) {
  std::ostringstream os;
  os << lo << ".." << hi;
  return os.str();
}

// NaN and infinities fail the comparisons, so they are refused too.
VoidResult check_seconds(std::string_view key, double d, double lo, double hi, std::string_view got) {
  if (d >= lo && d <= hi) return {};
  return err_inval(std::string(key) + ": expected seconds " + range_text(lo, hi) + ", got " + std::string(got));
}

Result<double> parse_seconds(std::string_view key, std::string_view v, double lo, double hi) {
  double d = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc() || p != v.data() + v.size())
    return err_inval("option " + std::string(key) + ": expected a number of seconds " + range_text(lo, hi) +
                     ", got '" + std::string(v) + "'");
  if (auto s = check_seconds(key, d, lo, hi, "'" + std::string(v) + "'"); !s) return Error{EINVAL, "option " + s.error().msg};
  return d;
}

Result<int> parse_int(std::string_view key, std::string_view v, int lo, int hi) {
  int i = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), i);
  if (ec != std::errc() || p != v.data() + v.size() || i < lo || i > hi)
    return err_inval("option " + std::string(key) + ": expected an integer " + std::to_string(lo) + ".." +
                     std::to_string(hi) + ", got '" + std::string(v) + "'");
  return i;
}

Result<uint32_t> parse_octal_mode(std::string_view key, std::string_view v) {
  unsigned m = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), m, 8);
  if (ec != std::errc() || p != v.data() + v.size() || m > kMaxFileMode)
    return err_inval("option " + std::string(key) + ": expected an octal mode like 0600, got '" + std::string(v) + "'");
  return m;
}

// Mount options the kernel understands for a FUSE mount: passed through.
bool is_kernel_mount_option(std::string_view o) {
  static const std::set<std::string_view> kKnown = {
      // What libfuse 3.14's fuse_session_new accepts (it rejects relatime,
      // lazytime and friends) and a non-fuseblk mount can use.
      "dev", "nodev", "suid", "nosuid", "exec", "noexec", "atime", "noatime",
      "sync", "async", "dirsync", "allow_root",
  };
  return kKnown.count(o) || starts_with(o, "max_read=");
}

// Options mount(8), fstab and systemd add that mean nothing to mpathfs.
bool is_mount_helper_option(std::string_view o) {
  static const std::set<std::string_view> kDropped = {
      "_netdev", "nofail", "noauto", "auto", "user", "users", "nouser", "nousers", "defaults", "rw",
      "owner", "noowner", "group", "nogroup", "relatime",  // relatime: the kernel's default anyway
      "default_permissions",                               // always on
  };
  return kDropped.count(o) || starts_with(o, "x-") || starts_with(o, "X-") || starts_with(o, "comment=") ||
         starts_with(o, "user=") || starts_with(o, "fsname=") || starts_with(o, "subtype=");
}

}  // namespace

VoidResult apply_option(DaemonOptions& o, std::string_view opt) {
  if (opt.empty() || is_mount_helper_option(opt)) return {};
  auto eq = opt.find('=');
  std::string_view key = opt.substr(0, eq);
  std::string_view val = eq == std::string_view::npos ? std::string_view() : opt.substr(eq + 1);
  if (key == "workers") {
    auto v = parse_int(key, val, kMinWorkers, kMaxWorkers);
    if (!v) return v.error();
    o.workers = *v;
  } else if (key == "check_interval") {
    auto v = parse_seconds(key, val, kMinCheckInterval, kMaxCheckInterval);
    if (!v) return v.error();
    o.check_interval = *v;
  } else if (key == "io_timeout") {
    auto v = parse_seconds(key, val, kMinIoTimeout, kMaxIoTimeout);
    if (!v) return v.error();
    o.io_timeout = *v;
  } else if (key == "no_path_retry") {
    auto v = parse_int(key, val, kMinNoPathRetry, kMaxNoPathRetry);
    if (!v) return v.error();
    o.no_path_retry = *v;
  } else if (key == "failback") {
    if (val == "manual") o.failback = Failback::kManual;
    else if (val == "immediate") o.failback = Failback::kImmediate;
    else if (auto n = parse_seconds(key, val, kMinFailbackDelay, kMaxFailbackDelay)) {
      o.failback = Failback::kAfter;
      o.failback_after = *n;
    } else
      return err_inval("option failback: expected manual, immediate or seconds " +
                       range_text(kMinFailbackDelay, kMaxFailbackDelay) + ", got '" + std::string(val) + "'");
  } else if (key == "flap_threshold") {
    auto v = parse_int(key, val, kMinFlapThreshold, kMaxFlapThreshold);
    if (!v) return v.error();
    o.flap_threshold = *v;
  } else if (key == "flap_window") {
    auto v = parse_seconds(key, val, kMinFlapWindow, kMaxFlapWindow);
    if (!v) return v.error();
    o.flap_window = *v;
  } else if (key == "hold_down") {
    auto v = parse_seconds(key, val, kMinHoldDown, kMaxHoldDown);
    if (!v) return v.error();
    o.hold_down = *v;
  } else if (key == "log") {
    if (val.empty()) return err_inval("option log: expected syslog, stderr or a file name");
    o.log = std::string(val);
  } else if (key == "scan") {
    if (val.empty()) return err_inval("option scan: expected a glob such as /dev/disk/by-id/*");
    o.scan.emplace_back(val);
  } else if (key == "file_mode" || key == "vol_mode") {
    auto v = parse_octal_mode(key, val);
    if (!v) return v.error();
    o.file_mode = *v;
  } else if (key == "direct") {
    if (val == "on" || val == "auto") o.direct = true;
    else if (val == "off") o.direct = false;
    else return err_inval("option direct: expected on or off");
  } else if (key == "exclusive") {
    if (val == "on") o.exclusive = true;
    else if (val == "off") o.exclusive = false;
    else return err_inval("option exclusive: expected on or off");
  } else if (opt == "ro") {
    o.read_only = true;
  } else if (opt == "allow_other") {
    o.allow_other = true;
  } else if (is_kernel_mount_option(opt)) {
    o.fuse_opts.emplace_back(opt);
  } else {
    return err_inval("unknown option '" + std::string(opt) + "'");
  }
  return {};
}

VoidResult apply_option_list(DaemonOptions& o, std::string_view list) {
  size_t i = 0;
  while (i <= list.size()) {
    size_t j = list.find(',', i);
    if (j == std::string_view::npos) j = list.size();
    if (auto s = apply_option(o, list.substr(i, j - i)); !s) return s;
    i = j + 1;
  }
  return {};
}

namespace {

using nlohmann::json;

// A JSON scalar as the text of a -o value.  Numbers keep every digit
// (dump() round-trips), so range checks see what the file says.
std::string scalar_to_option_value(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "on" : "off";
  return v.dump();
}

bool is_scalar(const json& v) { return v.is_string() || v.is_boolean() || v.is_number(); }

// "expected X, got null": every type fault names what was found.
Error type_fault(const std::string& at, std::string_view key, std::string_view expected, const json& got) {
  return err_inval(at + ": " + std::string(key) + ": expected " + std::string(expected) + ", got " +
                   std::string(got.type_name()));
}

// An integer within [lo, hi], whatever JSON number it was written as
// (a huge unsigned must not wrap into range).
bool integer_in(const json& v, long long lo, long long hi, long long* out) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<unsigned long long>();
    if (hi < 0 || u > static_cast<unsigned long long>(hi) || static_cast<long long>(u) < lo) return false;
    *out = static_cast<long long>(u);
    return true;
  }
  if (!v.is_number_integer()) return false;
  const auto i = v.get<long long>();
  if (i < lo || i > hi) return false;
  *out = i;
  return true;
}

Result<VolumeSpec> parse_volume(const json& j, size_t index, const std::string& where) {
  std::string at = where + ": volumes[" + std::to_string(index) + "]";
  if (!j.is_object()) return err_inval(at + ": expected an object");
  VolumeSpec v;
  if (!j.contains("name")) return err_inval(at + ": missing \"name\"");
  if (!j["name"].is_string()) return type_fault(at, "name", "a string", j["name"]);
  v.name = j["name"].get<std::string>();
  at = where + ": volume " + escape_word(v.name);
  if (!valid_volume_name(v.name)) return err_inval(at + ": bad name (1-15 characters of A-Za-z0-9._-)");
  if (reserved_volume_name(v.name)) return err_inval(at + ": the name is reserved by the mounted tree");
  for (auto& [k, val] : j.items()) {
    if (k == "name") continue;
    if (k == "mode") {
      if (!val.is_string()) return type_fault(at, "mode", "a string (active-passive, active-active or active-read)", val);
      if (!parse_mode(val.get<std::string>()))
        return err_inval(at + ": mode: expected active-passive, active-active or active-read");
      v.mode = parse_mode(val.get<std::string>());
    } else if (k == "paths") {
      if (!val.is_array()) return type_fault(at, "paths", "a list of paths", val);
      if (val.empty()) return err_inval(at + ": paths: expected a non-empty list of paths");
      for (auto& p : val) {
        if (!p.is_string()) return type_fault(at, "paths", "strings", p);
        const auto& name = p.get_ref<const std::string&>();
        if (name.empty()) return err_inval(at + ": paths: an empty path");
        if (has_control_character(name))
          return err_inval(at + ": paths: '" + escape_word(name) + "' holds control characters");
        v.paths.push_back(name);
      }
    } else if (k == "no_path_retry") {
      long long n = 0;
      if (!integer_in(val, kMinNoPathRetry, kMaxNoPathRetry, &n))
        return err_inval(at + ": no_path_retry: expected an integer " + std::to_string(kMinNoPathRetry) + ".." +
                         std::to_string(kMaxNoPathRetry) + " (-1 queue forever), got " + val.dump());
      v.no_path_retry = static_cast<int>(n);
    } else if (k == "io_timeout") {
      if (!val.is_number()) return type_fault(at, "io_timeout", "a number of seconds", val);
      if (auto s = check_seconds("io_timeout", val.get<double>(), kMinIoTimeout, kMaxIoTimeout, val.dump()); !s)
        return err_inval(at + ": " + s.error().msg);
      v.io_timeout = val.get<double>();
    } else if (k == "file_mode") {
      if (!val.is_string() && !val.is_number_unsigned())
        return type_fault(at, "file_mode", "an octal mode string like \"0640\"", val);
      auto m = parse_octal_mode("file_mode", scalar_to_option_value(val));
      if (!m) return err_inval(at + ": " + m.error().msg);
      v.file_mode = *m;
    } else if (k == "uid" || k == "gid") {
      long long id = 0;
      if (!integer_in(val, 0, static_cast<long long>(kMaxId), &id))
        return err_inval(at + ": " + k + ": expected a number 0.." + std::to_string(kMaxId) + ", got " + val.dump());
      (k == "uid" ? v.uid : v.gid) = static_cast<uint32_t>(id);
    } else if (k == "label") {
      // In a config, "label": true labels the disks the first time only:
      // a start must not give the volume a new UUID each time.
      if (!val.is_boolean()) return type_fault(at, "label", "true or false", val);
      v.label = val.get<bool>();
      v.label_only_if_unlabeled = true;
    } else {
      return err_inval(at + ": unknown key \"" + escape_word(k) + "\"");
    }
  }
  if (v.paths.empty()) return err_inval(at + ": missing \"paths\"");
  return v;
}

Result<Config> parse_config_object(const json& j, const std::string& file) {
  Config c;
  for (auto& [k, val] : j.items()) {
    if (k == "options") {
      if (!val.is_object()) return type_fault(file, "options", "an object", val);
      for (auto& [ok, ov] : val.items()) {
        if (!is_scalar(ov)) return type_fault(file + ": options", escape_word(ok), "a number, string or boolean", ov);
        std::string opt = ok;
        if (ov.is_boolean() && (ok == "allow_other" || ok == "ro" || ok == "default_permissions")) {
          if (!ov.get<bool>()) continue;  // a flag: present or absent
        } else {
          opt += "=" + scalar_to_option_value(ov);
        }
        if (auto s = apply_option(c.options, opt); !s) return err_inval(file + ": options: " + s.error().msg);
      }
    } else if (k == "volumes") {
      if (!val.is_array()) return type_fault(file, "volumes", "a list", val);
      std::set<std::string> names;
      for (size_t i = 0; i < val.size(); ++i) {
        auto v = parse_volume(val[i], i, file);
        if (!v) return v.error();
        if (!names.insert(v->name).second) return err_inval(file + ": volume " + v->name + ": defined twice");
        c.volumes.push_back(std::move(v).value());
      }
    } else if (k == "scan") {
      if (!val.is_array()) return type_fault(file, "scan", "a list of globs", val);
      for (auto& g : val) {
        if (!g.is_string()) return type_fault(file, "scan", "strings", g);
        c.options.scan.push_back(g.get<std::string>());
      }
    } else {
      return err_inval(file + ": unknown key \"" + escape_word(k) + "\"");
    }
  }
  return c;
}

}  // namespace

Result<Config> parse_config(std::string_view text, const std::string& file) {
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    return err_inval(file + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) return err_inval(file + ": expected a JSON object at the top");
  // Every type is checked before use; this only turns a missed check into
  // a message instead of an abort.
  try {
    return parse_config_object(j, file);
  } catch (const json::exception& e) {
    return err_inval(file + ": " + e.what());
  }
}

Result<Config> load_config(const std::string& file) {
  std::ifstream in(file);
  if (!in) return Error{errno ? errno : ENOENT, "cannot read config " + file};
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), file);
}

std::vector<std::string> expand_globs(const std::vector<std::string>& globs) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (auto& g : globs) {
    glob_t gl{};
    if (::glob(g.c_str(), 0, nullptr, &gl) == 0) {
      for (size_t i = 0; i < gl.gl_pathc; ++i)
        if (seen.insert(gl.gl_pathv[i]).second) out.emplace_back(gl.gl_pathv[i]);
    }
    ::globfree(&gl);
  }
  return out;
}

}  // namespace mpathfs
