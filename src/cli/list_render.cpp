// gmultipath list's layout from a volume's status (see list_render.hpp).
#include "cli/list_render.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>

#include "core/word_escape.hpp"

namespace mpathfs::cli {
namespace {

// The sector size of a path when status.json does not carry it: a block
// device's logical block size, else 512 (what the daemon uses for files).
// Opened without O_EXCL, so a device the daemon holds still answers.
uint32_t guess_sector_size(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0 || !S_ISBLK(st.st_mode)) return 512;
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return 512;
  int ss = 0;
  if (::ioctl(fd, BLKSSZGET, &ss) != 0 || ss <= 0) ss = 512;
  ::close(fd);
  return static_cast<uint32_t>(ss);
}

}  // namespace

std::string humanize(uint64_t n) {
  static const char kUnits[] = "BKMGTPE";
  if (n < 1000) return std::to_string(n) + "B";
  double v = static_cast<double>(n);
  int i = 0;
  while (v >= 999.5 && i < 6) {
    v /= 1024;
    ++i;
  }
  char buf[32];
  if (v < 9.95) std::snprintf(buf, sizeof buf, "%.1f%c", v, kUnits[i]);
  else std::snprintf(buf, sizeof buf, "%.0f%c", v, kUnits[i]);
  return buf;
}

// Names, paths and words are shown escaped, as status.json shows them.
std::string render_list(const std::string& mnt, const VolumeStatus& v) {
  std::ostringstream out;
  const std::string name = escape_word(v.name);
  const bool labeled = v.uuid.has_value();
  const char* state = volume_state_name(v.state);
  out << "Geom name: " << name << "\n"
      << "Type: " << (labeled ? "AUTOMATIC" : "MANUAL") << "\n"
      << "Mode: " << mode_gmultipath_name(v.mode) << "\n"
      << "UUID: " << (labeled ? escape_word(*v.uuid) : std::string()) << "\n"
      << "State: " << state << "\n"
      << "File: " << mnt << "/" << name << "\n"
      << "NoPathRetry: " << v.no_path_retry << "\n"
      << "IOTimeout: " << v.io_timeout << "\n"
      << "Queued: " << v.queued << "\n"
      << "Open: " << v.open_handles << "\n";

  // Sector and path sizes: from the status when it carries them, else
  // worked out (a labeled path is one sector longer than the volume).
  uint32_t sector = v.sector_size;
  if (sector == 0 && !v.paths.empty()) sector = guess_sector_size(v.paths.front().path);
  if (sector == 0) sector = 512;
  const uint64_t path_size = v.path_size != 0 ? v.path_size : v.size + (labeled ? sector : 0);

  out << "Providers:\n"
      << "1. Name: multipath/" << name << "\n"
      << "   Mediasize: " << v.size << " (" << humanize(v.size) << ")\n"
      << "   Sectorsize: " << sector << "\n"
      << "   State: " << state << "\n"
      << "Consumers:\n";
  int i = 0;
  for (auto& p : v.paths) {
    char lat[32];
    std::snprintf(lat, sizeof lat, "%.1f", p.mean_latency_us);
    out << ++i << ". Name: " << escape_word(p.path) << "\n"
        << "   Mediasize: " << path_size << " (" << humanize(path_size) << ")\n"
        << "   Sectorsize: " << sector << "\n"
        << "   State: " << path_state_name(p.state) << "\n";
    if (p.lost) out << "   Gone: yes\n";
    out << "   Checker: " << (p.checker.empty() ? std::string("-") : escape_word(p.checker)) << "\n"
        << "   Direct: " << (p.direct ? "yes" : "no") << "\n"
        << "   Reads: " << p.reads << "\n"
        << "   Writes: " << p.writes << "\n"
        << "   ReadBytes: " << p.read_bytes << "\n"
        << "   WriteBytes: " << p.write_bytes << "\n"
        << "   Errors: " << p.errors << "\n"
        << "   Inflight: " << p.inflight << "\n"
        << "   Latency: " << lat << " us\n"
        << "   LastError: " << (p.last_error ? escape_word(*p.last_error) : std::string("-")) << "\n";
  }
  out << "\n";
  return out.str();
}

}  // namespace mpathfs::cli
