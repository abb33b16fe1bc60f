// The shape of the mounted tree: lookup, getattr, setattr, readdir, statfs.
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "fuse/fs.hpp"

namespace mpathfs::fuse {

const VolCtlFileDef kVolCtlFiles[] = {
    {"add", 0200, true, CtlFile::kAdd},
    {"remove", 0200, true, CtlFile::kRemove},
    {"fail", 0200, true, CtlFile::kFail},
    {"restore", 0200, true, CtlFile::kRestore},
    {"prefer", 0200, true, CtlFile::kPrefer},
    {"rotate", 0200, true, CtlFile::kRotate},
    {"configure", 0200, true, CtlFile::kConfigure},
    {"no_path_retry", 0600, true, CtlFile::kNoPathRetry},
    {"status", 0444, false, CtlFile{}},
    {"status.json", 0444, false, CtlFile{}},
    {"active", 0444, false, CtlFile{}},
};
const size_t kVolCtlFileCount = sizeof(kVolCtlFiles) / sizeof(kVolCtlFiles[0]);

namespace {

// Entries of the root and of ctl/ change with create/destroy: the kernel
// must ask again each time.  Attributes may be cached briefly.
constexpr double kAttrTimeout = 1.0;
constexpr double kEntryTimeout = 0.0;

// Times: the daemon's start, so `ls -l` shows something true.
const time_t kStartTime = ::time(nullptr);

void fill_common(struct stat* st, fuse_ino_t ino, mode_t mode, off_t size, uid_t uid = 0, gid_t gid = 0) {
  std::memset(st, 0, sizeof *st);
  st->st_atime = st->st_mtime = st->st_ctime = kStartTime;
  st->st_ino = ino;
  st->st_mode = mode;
  st->st_nlink = S_ISDIR(mode) ? 2 : 1;
  st->st_size = size;
  st->st_uid = uid;
  st->st_gid = gid;
  st->st_blksize = 4096;
  st->st_blocks = (size + 511) / 512;
}

}  // namespace

bool fill_attr(Fs& fs, fuse_ino_t ino, struct stat* st) {
  InoInfo in = decode_ino(ino);
  if (in.vol_id == 0) {
    switch (ino) {
      case kRootIno: fill_common(st, ino, S_IFDIR | 0755, 0); return true;
      case kStatusIno:
      case kMetricsIno: fill_common(st, ino, S_IFREG | 0444, 0); return true;
      case kCtlDirIno: fill_common(st, ino, S_IFDIR | 0755, 0); return true;
      case kCtlCreateIno:
      case kCtlDestroyIno:
      case kCtlStopIno:
      case kCtlRescanIno: fill_common(st, ino, S_IFREG | 0200, 0); return true;
      default: return false;
    }
  }
  auto v = fs.registry().find_id(in.vol_id);
  if (!v) return false;
  if (in.entry == kVolFile) {
    const auto& s = v->settings();
    mode_t m = s.file_mode & 07777;
    if (fs.options().read_only) m &= ~0222u;
    fill_common(st, ino, S_IFREG | m, static_cast<off_t>(v->size()), s.uid, s.gid);
    return true;
  }
  if (in.entry == kVolCtlDir) {
    fill_common(st, ino, S_IFDIR | 0755, 0);
    return true;
  }
  if (in.entry >= kVolCtlFirst && in.entry - kVolCtlFirst < kVolCtlFileCount) {
    fill_common(st, ino, S_IFREG | kVolCtlFiles[in.entry - kVolCtlFirst].mode, 0);
    return true;
  }
  return false;
}

namespace {

void reply_entry(fuse_req_t req, Fs& fs, fuse_ino_t ino) {
  fuse_entry_param e{};
  if (!fill_attr(fs, ino, &e.attr)) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  e.ino = ino;
  e.attr_timeout = kAttrTimeout;
  e.entry_timeout = kEntryTimeout;
  fuse_reply_entry(req, &e);
}

}  // namespace

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) noexcept {
  guarded(req, "lookup", [&] {
    Fs& fs = Fs::of(req);
    std::string n(name);
    InoInfo pi = decode_ino(parent);
    if (parent == kRootIno) {
      if (n == "status") return reply_entry(req, fs, kStatusIno);
      if (n == "metrics") return reply_entry(req, fs, kMetricsIno);
      if (n == "ctl") return reply_entry(req, fs, kCtlDirIno);
      if (auto id = fs.registry().id_of(n)) return reply_entry(req, fs, vol_ino(*id, kVolFile));
      return (void)fuse_reply_err(req, ENOENT);
    }
    if (parent == kCtlDirIno) {
      if (n == "create") return reply_entry(req, fs, kCtlCreateIno);
      if (n == "destroy") return reply_entry(req, fs, kCtlDestroyIno);
      if (n == "stop") return reply_entry(req, fs, kCtlStopIno);
      if (n == "rescan") return reply_entry(req, fs, kCtlRescanIno);
      if (auto id = fs.registry().id_of(n)) return reply_entry(req, fs, vol_ino(*id, kVolCtlDir));
      return (void)fuse_reply_err(req, ENOENT);
    }
    if (pi.vol_id && pi.entry == kVolCtlDir) {
      for (size_t i = 0; i < kVolCtlFileCount; ++i)
        if (n == kVolCtlFiles[i].name)
          return reply_entry(req, fs, vol_ino(pi.vol_id, kVolCtlFirst + static_cast<uint32_t>(i)));
      return (void)fuse_reply_err(req, ENOENT);
    }
    fuse_reply_err(req, ENOTDIR);
  });
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept {
  guarded(req, "getattr", [&] {
    struct stat st;
    if (!fill_attr(Fs::of(req), ino, &st)) return (void)fuse_reply_err(req, ENOENT);
    fuse_reply_attr(req, &st, kAttrTimeout);
  });
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) noexcept {
  guarded(req, "setattr", [&] {
    Fs& fs = Fs::of(req);
    struct stat st;
    if (!fill_attr(fs, ino, &st)) return (void)fuse_reply_err(req, ENOENT);
    InoInfo in = decode_ino(ino);
    const bool is_volume = in.vol_id && in.entry == kVolFile;
    if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) return (void)fuse_reply_err(req, EPERM);
    if (to_set & FUSE_SET_ATTR_SIZE) {
      // A volume does not grow or shrink; truncating a control file is
      // what `echo x > ctl/...` does first, and means nothing.
      if (is_volume && attr->st_size != st.st_size) return (void)fuse_reply_err(req, EPERM);
      if (!is_volume && S_ISDIR(st.st_mode)) return (void)fuse_reply_err(req, EISDIR);
    }
    // Times are accepted and not kept (touch works).
    fuse_reply_attr(req, &st, kAttrTimeout);
  });
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) noexcept {
  guarded(req, "readdir", [&] {
    Fs& fs = Fs::of(req);
    struct Ent {
      std::string name;
      fuse_ino_t ino;
      mode_t mode;
    };
    std::vector<Ent> ents{{".", ino, S_IFDIR}, {"..", kRootIno, S_IFDIR}};
    InoInfo in = decode_ino(ino);
    if (ino == kRootIno) {
      ents.push_back({"status", kStatusIno, S_IFREG});
      ents.push_back({"metrics", kMetricsIno, S_IFREG});
      ents.push_back({"ctl", kCtlDirIno, S_IFDIR});
      for (auto& e : fs.registry().list()) ents.push_back({e.volume->name(), vol_ino(e.id, kVolFile), S_IFREG});
    } else if (ino == kCtlDirIno) {
      ents.push_back({"create", kCtlCreateIno, S_IFREG});
      ents.push_back({"destroy", kCtlDestroyIno, S_IFREG});
      ents.push_back({"stop", kCtlStopIno, S_IFREG});
      ents.push_back({"rescan", kCtlRescanIno, S_IFREG});
      for (auto& e : fs.registry().list()) ents.push_back({e.volume->name(), vol_ino(e.id, kVolCtlDir), S_IFDIR});
    } else if (in.vol_id && in.entry == kVolCtlDir && fs.registry().find_id(in.vol_id)) {
      ents[1].ino = kCtlDirIno;
      for (size_t i = 0; i < kVolCtlFileCount; ++i)
        ents.push_back({kVolCtlFiles[i].name, vol_ino(in.vol_id, kVolCtlFirst + static_cast<uint32_t>(i)), S_IFREG});
    } else {
      struct stat st;
      return (void)fuse_reply_err(req, fill_attr(fs, ino, &st) ? ENOTDIR : ENOENT);
    }
    std::string buf;
    buf.resize(size);
    size_t used = 0;
    for (size_t i = static_cast<size_t>(off); i < ents.size(); ++i) {
      struct stat st{};
      st.st_ino = ents[i].ino;
      st.st_mode = ents[i].mode;
      size_t need = fuse_add_direntry(req, buf.data() + used, size - used, ents[i].name.c_str(), &st,
                                      static_cast<off_t>(i + 1));
      if (need > size - used) break;
      used += need;
    }
    fuse_reply_buf(req, buf.data(), used);
  });
}

void op_statfs(fuse_req_t req, fuse_ino_t ino) noexcept {
  guarded(req, "statfs", [&] {
    struct statvfs s{};
    uint64_t total = 0;
    size_t n = 0;
    for (auto& e : Fs::of(req).registry().list()) {
      total += e.volume->size();
      ++n;
    }
    s.f_bsize = 4096;
    s.f_frsize = 4096;
    s.f_blocks = total / 4096;
    s.f_files = n + 4;
    s.f_namemax = 255;
    fuse_reply_statfs(req, &s);
  });
}

}  // namespace mpathfs::fuse
