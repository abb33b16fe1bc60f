// Failure messages and errno hints (see messages.hpp).
#include "cli/messages.hpp"

#include <cerrno>
#include <cstring>
#include <iostream>

namespace mpathfs::cli {

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (auto& a : v) {
    if (!s.empty()) s += sep;
    s += a;
  }
  return s;
}

int fail_msg(const std::string& msg) {
  std::cerr << "mpathfs: " << msg << "\n";
  return 1;
}

int fail_errno(const Invocation& c, int e, const std::string& hint) {
  std::cerr << "mpathfs: " << join(c.words, " ") << ": " << std::strerror(e);
  if (!hint.empty()) std::cerr << " (" << hint << ")";
  std::cerr << "\n";
  return 1;
}

std::string hint_for(const Invocation& c, int e, bool volume_existed) {
  const Verb v = c.verb();
  const std::string& name = c.name;
  const std::string& path = c.path;
  switch (e) {
    case ENOENT:
      if (v == Verb::kCreate) return "a path does not exist";
      if (!c.mount.volume_exists(name)) return "no such volume " + name;
      if (v == Verb::kAdd) return "cannot open " + path;
      if (takes_path(v)) return path + " is not a path of " + name;
      return "";
    case EEXIST:
      if (v == Verb::kCreate)
        return volume_existed ? "volume " + name + " already exists" : "a path is given twice";
      if (v == Verb::kAdd) return path + " is already a path of " + name;
      return "";
    case EBUSY:
      if (v == Verb::kDestroy || v == Verb::kStop)
        return "volume " + name + " is open, or has requests stuck on a hung path";
      if (v == Verb::kRemove) return path + " is the last path of " + name + ": use destroy";
      if (v == Verb::kCreate || v == Verb::kAdd) return "a path is already used by a volume or held by another program";
      return "";
    case EINVAL:
      if (v == Verb::kCreate)
        return "bad name, paths of different sizes or labels, or a path inside an mpathfs mount; "
               "the mpathfs log says which";
      if (v == Verb::kAdd)
        return path + " differs from " + name +
               " in size or metadata UUID, or lies inside an mpathfs mount; the mpathfs log says which";
      if (v == Verb::kPrefer) return "a FAIL path cannot be made active: restore it first";
      return "the mpathfs log says why";
    case EACCES:
    case EPERM:
      return "control files are writable by root only";
    case ENOTCONN:
      return "the mpathfs daemon serving " + c.mount.mnt() + " is gone";
    case EIO:
      if (v == Verb::kConfigure) return "the metadata could not be rewritten on any working path";
      return "";
    default:
      return "";
  }
}

}  // namespace mpathfs::cli
