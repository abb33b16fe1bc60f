// Control and status files.  A control write is parsed and applied before
// write() returns; a refusal fails write() with the errno and logs one line.
#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "core/metrics_render.hpp"
#include "core/path_open.hpp"
#include "core/status_render.hpp"
#include "fuse/fs.hpp"
#include "fuse/worker_pool.hpp"

namespace mpathfs::fuse {
namespace {

// Printable, bounded rendering of what a user wrote, for log lines.  A
// path URI's secret (iscsi://user%secret@...) never reaches the log.
std::string printable(std::string_view raw) {
  if (!raw.empty() && raw.back() == '\n') raw.remove_suffix(1);
  std::string redacted;
  for (size_t i = 0; i < raw.size();) {
    const size_t end = std::min(raw.find_first_of(" \t\n", i), raw.size());
    redacted += redact_secrets(raw.substr(i, end - i));
    if (end < raw.size()) redacted.push_back(raw[end]);
    i = end + 1;
  }
  const std::string_view s = redacted;
  std::string out;
  for (unsigned char c : s.substr(0, 200)) {
    if (c >= 0x20 && c < 0x7f) out.push_back(static_cast<char>(c));
    else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    }
  }
  if (s.size() > 200) out += "...";
  return out;
}

void reply_open(fuse_req_t req, fuse_file_info* fi, std::unique_ptr<Handle> h) {
  fi->direct_io = 1;  // sizes are not known in advance; never cache
  fi->keep_cache = 0;
  fi->nonseekable = 0;
  fi->fh = reinterpret_cast<uint64_t>(h.release());
  if (fuse_reply_open(req, fi) != 0) delete reinterpret_cast<Handle*>(fi->fh);
}

}  // namespace

void ctl_open(Fs& fs, fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto h = std::make_unique<Handle>();
  const int acc = fi->flags & O_ACCMODE;
  InoInfo in = decode_ino(ino);
  if (ino == kStatusIno) {
    if (acc != O_RDONLY) return (void)fuse_reply_err(req, EACCES);
    h->kind = Handle::Kind::kText;
    h->text = fs.registry().status_table();
    return reply_open(req, fi, std::move(h));
  }
  if (ino == kMetricsIno) {
    if (acc != O_RDONLY) return (void)fuse_reply_err(req, EACCES);
    h->kind = Handle::Kind::kText;
    std::vector<VolumeStatus> all;
    for (auto& e : fs.registry().list()) all.push_back(e.volume->status());
    h->text = render_metrics(all);
    return reply_open(req, fi, std::move(h));
  }
  if (ino == kCtlCreateIno || ino == kCtlDestroyIno || ino == kCtlStopIno || ino == kCtlRescanIno) {
    h->kind = Handle::Kind::kCtl;
    h->ctl = ino == kCtlCreateIno    ? CtlFile::kCreate
             : ino == kCtlDestroyIno ? CtlFile::kDestroy
             : ino == kCtlStopIno    ? CtlFile::kStop
                                     : CtlFile::kRescan;
    h->ctl_path = "ctl/" + std::string(ctl_file_name(h->ctl));
    return reply_open(req, fi, std::move(h));
  }
  if (in.vol_id && in.entry >= kVolCtlFirst && in.entry - kVolCtlFirst < kVolCtlFileCount) {
    auto v = fs.registry().find_id(in.vol_id);
    if (!v) return (void)fuse_reply_err(req, ENOENT);
    const VolCtlFileDef& def = kVolCtlFiles[in.entry - kVolCtlFirst];
    if (!def.writable) {
      if (acc != O_RDONLY) return (void)fuse_reply_err(req, EACCES);
      h->kind = Handle::Kind::kText;
      std::string_view n = def.name;
      if (n == "status") h->text = render_volume_text(v->status());
      else if (n == "status.json") h->text = render_volume_json(v->status());
      else h->text = v->active_paths() + "\n";
      return reply_open(req, fi, std::move(h));
    }
    h->kind = Handle::Kind::kCtl;
    h->ctl = def.file;
    h->volume = v;
    h->volume_name = v->name();
    h->ctl_path = "ctl/" + v->name() + "/" + def.name;
    if (def.file == CtlFile::kNoPathRetry) h->text = std::to_string(v->no_path_retry()) + "\n";
    return reply_open(req, fi, std::move(h));
  }
  struct stat st;
  fuse_reply_err(req, fill_attr(fs, ino, &st) ? EISDIR : ENOENT);
}

void ctl_read(fuse_req_t req, Handle& h, size_t size, off_t off) {
  // Text files and no_path_retry read their content; other control files
  // read as empty.
  const std::string& t = h.text;
  if (off < 0 || static_cast<size_t>(off) >= t.size()) return (void)fuse_reply_buf(req, nullptr, 0);
  // Reply from the worker's own buffer, not from the handle: once the reply
  // is in, the reader may close and a RELEASE on another worker frees the
  // handle (AddressSanitizer's writev check runs after the syscall).
  IoContext& ctx = worker_context();
  size_t n = std::min({size, t.size() - static_cast<size_t>(off), ctx.scratch_size()});
  std::memcpy(ctx.scratch(), t.data() + off, n);
  fuse_reply_buf(req, reinterpret_cast<const char*>(ctx.scratch()), n);
}

void ctl_write(Fs& fs, fuse_req_t req, Handle& h, const char* buf, size_t size) {
  if (h.kind != Handle::Kind::kCtl) return (void)fuse_reply_err(req, EBADF);
  std::string_view text(buf, size);
  auto cmd = parse_control(h.ctl, text);
  if (!cmd) {
    spdlog::warn("{}: refused '{}': {}", h.ctl_path, printable(text), cmd.error().describe());
    return (void)fuse_reply_err(req, cmd.error().code);
  }
  auto s = fs.registry().apply(h.volume_name, *cmd);
  if (!s) {
    spdlog::warn("{}: refused '{}': {}", h.ctl_path, printable(text), s.error().describe());
    return (void)fuse_reply_err(req, s.error().code);
  }
  if (h.ctl == CtlFile::kNoPathRetry && h.volume) h.text = std::to_string(h.volume->no_path_retry()) + "\n";
  fuse_reply_write(req, size);
}

}  // namespace mpathfs::fuse
