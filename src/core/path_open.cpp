#include "core/path_open.hpp"

#include <array>
#include <cctype>

#include "core/nbd/nbd_path_io.hpp"
#include "core/iscsi/iscsi_path_io.hpp"

namespace mpathfs {

namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Query parameters whose value is itself a secret (not a file naming one).
constexpr std::array<std::string_view, 2> kSecretParams = {"password", "tls-psk"};

}  // namespace

bool is_uri(std::string_view word) noexcept {
  const size_t colon = word.find("://");
  if (colon == std::string_view::npos || colon == 0) return false;
  for (char c : word.substr(0, colon))
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.')) return false;
  return true;
}

PathForm path_form(std::string_view word) noexcept {
  if (!word.empty() && word[0] == '/') return PathForm::kPosix;
  for (std::string_view s : {"nbd://", "nbds://", "nbd+unix://", "nbds+unix://"})
    if (starts_with(word, s)) return PathForm::kNbd;
  if (starts_with(word, "iscsi://")) return PathForm::kIscsi;
  return PathForm::kUnknown;
}

std::string redact_secrets(std::string_view word) {
  if (!is_uri(word)) return std::string(word);
  std::string out(word);
  // scheme://user%password@host/...: keep the user, drop the password.
  const size_t auth = out.find("://") + 3;
  const size_t host_end = out.find_first_of("/?", auth);
  const size_t at = out.rfind('@', host_end == std::string::npos ? out.size() : host_end);
  if (at != std::string::npos && at >= auth) {
    const size_t sep = out.find_first_of("%:", auth);
    if (sep != std::string::npos && sep < at) out.erase(sep, at - sep);
  }
  // ...?password=x&tls-psk=y: the values go.
  if (size_t q = out.find('?'); q != std::string::npos) {
    size_t i = q + 1;
    while (i < out.size()) {
      size_t end = out.find('&', i);
      if (end == std::string::npos) end = out.size();
      const size_t eq = out.find('=', i);
      if (eq != std::string::npos && eq < end) {
        const std::string_view key(out.data() + i, eq - i);
        for (auto s : kSecretParams) {
          if (key == s) {
            out.replace(eq + 1, end - eq - 1, "***");
            end = eq + 4;
            break;
          }
        }
      }
      i = end + 1;
    }
  }
  return out;
}

Result<std::unique_ptr<PathIo>> open_path(const std::string& word, const OpenOptions& opt) {
  switch (path_form(word)) {
    case PathForm::kPosix: return open_posix_path(word, opt);
    case PathForm::kNbd: return open_nbd_path(word, opt);
    case PathForm::kIscsi: return open_iscsi_path(word, opt);
    case PathForm::kUnknown: break;
  }
  return err_inval("path " + redact_secrets(word) +
                   " is neither absolute nor a nbd://, nbds://, nbd+unix://, nbds+unix:// or iscsi:// URI");
}

}  // namespace mpathfs
