#include "core/iscsi/vpd_id.hpp"

namespace mpathfs::iscsi {
namespace {

enum : uint8_t { kTypeT10 = 1, kTypeEui64 = 2, kTypeNaa = 3, kTypeName = 8 };
enum : uint8_t { kCodeBinary = 1, kCodeAscii = 2, kCodeUtf8 = 3 };

// Higher is better; 0 = not used.
int rank(uint8_t type, uint8_t code_set, const uint8_t* d, size_t n) {
  switch (type) {
    case kTypeNaa:
      if (code_set != kCodeBinary || n == 0) return 0;
      switch (d[0] >> 4) {
        case 6: return 90;
        case 5: return 80;
        case 2: return 70;  // IEEE Extended
        case 3: return 60;  // Locally Assigned
        default: return 55;
      }
    case kTypeEui64: return code_set == kCodeBinary && n > 0 ? 50 : 0;
    case kTypeT10: return n > 0 ? 40 : 0;
    case kTypeName: return (code_set == kCodeUtf8 || code_set == kCodeAscii) && n > 0 ? 30 : 0;
    default: return 0;
  }
}

std::string hex(const uint8_t* d, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    s.push_back(kHex[d[i] >> 4]);
    s.push_back(kHex[d[i] & 0xf]);
  }
  return s;
}

// Printable text with runs of spaces folded to one '_' (scsi_id's
// --replace-whitespace), NULs and trailing spaces dropped.
std::string text(const uint8_t* d, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    const char c = static_cast<char>(d[i]);
    if (c == '\0') break;
    if (c == ' ') {
      if (!s.empty() && s.back() != '_') s.push_back('_');
    } else if (c > ' ' && c < 0x7f) {
      s.push_back(c);
    }
  }
  while (!s.empty() && s.back() == '_') s.pop_back();
  return s;
}

}  // namespace

std::string choose_device_id(const uint8_t* p, size_t len) {
  if (!p || len < 4 || p[1] != 0x83) return {};
  size_t end = 4 + ((size_t{p[2]} << 8) | p[3]);
  if (end > len) end = len;
  int best = 0;
  std::string out;
  for (size_t i = 4; i + 4 <= end;) {
    const uint8_t code_set = p[i] & 0x0f;
    const uint8_t assoc = (p[i + 1] >> 4) & 0x3;
    const uint8_t type = p[i + 1] & 0x0f;
    const size_t n = p[i + 3];
    if (i + 4 + n > end) break;  // a truncated descriptor ends the list
    const uint8_t* d = p + i + 4;
    const int r = assoc == 0 ? rank(type, code_set, d, n) : 0;
    if (r > best) {
      std::string v = code_set == kCodeBinary ? hex(d, n) : text(d, n);
      if (!v.empty()) {
        best = r;
        out = std::to_string(type) + v;
      }
    }
    i += 4 + n;
  }
  return out;
}

std::string unit_serial(const uint8_t* p, size_t len) {
  if (!p || len < 4 || p[1] != 0x80) return {};
  size_t n = (size_t{p[2]} << 8) | p[3];
  if (4 + n > len) n = len - 4;
  std::string s = text(p + 4, n);
  // Leading padding became a '_' in text(); a serial does not start with one.
  while (!s.empty() && s.front() == '_') s.erase(s.begin());
  return s;
}

std::string device_id_from_vpd(const uint8_t* p83, size_t len83, const uint8_t* p80, size_t len80) {
  std::string id = choose_device_id(p83, len83);
  if (!id.empty()) return id;
  std::string sn = unit_serial(p80, len80);
  return sn.empty() ? std::string() : "S" + sn;
}

}  // namespace mpathfs::iscsi
