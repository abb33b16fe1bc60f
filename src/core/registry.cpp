#include "core/registry.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <filesystem>
#include <random>
#include <set>

#include "core/label.hpp"
#include "core/metadata.hpp"
#include "core/path_guard.hpp"
#include "core/status_render.hpp"
#include "core/volume_name.hpp"

namespace mpathfs {

std::string path_word_to_name(const std::string& word) {
  if (word.empty()) return word;
  // "/d/./a" and "/d//a" are "/d/a": one name per path, so one file
  // cannot join two volumes under two spellings.
  if (word[0] == '/') return std::filesystem::path(word).lexically_normal().string();
  if (word.find('/') == std::string::npos) return "/dev/" + word;
  return word;  // relative with a directory: taken as given
}

Result<std::shared_ptr<Path>> Registry::open_path(const std::string& word) const {
  std::string name = path_word_to_name(word);
  if (name.empty()) return err_inval("empty path");
  if (name[0] != '/') return err_inval("path " + word + " is not absolute");
  if (auto s = check_not_inside_mpathfs(name); !s) return s.error();
  auto io = open_posix_path(name, defaults_.open);
  if (!io) return io.error();
  if ((*io)->size() == 0) return err_inval("path " + name + " is empty (size 0)");
  return std::make_shared<Path>(name, std::move(io).value());
}

Status Registry::check_not_used_elsewhere(const Path& p, const Volume* self) const {
  std::lock_guard lk(map_mu_);
  for (auto& [id, v] : by_id_) {
    if (v.get() == self) continue;
    for (auto& q : v->paths()) {
      // By name only: two names for one object are what multipath is made
      // of (two mounts of one image); block devices are opened O_EXCL, so a
      // disk taken twice is refused with EBUSY by the kernel.
      if (q->name() == p.name())
        return err_busy("path " + p.name() + " is already a path of volume " + v->name());
    }
  }
  return {};
}

void Registry::insert(std::shared_ptr<Volume> v) {
  std::lock_guard lk(map_mu_);
  by_id_[next_id_++] = std::move(v);
  ++generation_;
}

namespace {
// Names the mounted tree itself uses at its top.
bool reserved_name(const std::string& n) { return !usable_volume_name(n); }
}  // namespace

Status Registry::create(const VolumeSpec& spec) {
  std::lock_guard ctl(ctl_mu_);
  if (!valid_volume_name(spec.name))
    return err_inval("bad volume name '" + spec.name + "' (1-15 characters of A-Za-z0-9._-)");
  if (reserved_name(spec.name)) return err_inval("volume name '" + spec.name + "' is reserved by the mounted tree");
  if (find(spec.name)) return err_exist("volume " + spec.name + " already exists");
  if (spec.paths.empty()) return err_inval("volume " + spec.name + " needs at least one path");

  std::vector<std::shared_ptr<Path>> paths;
  std::set<std::string> seen;
  for (auto& w : spec.paths) {
    std::string n = path_word_to_name(w);
    if (!seen.insert(n).second) return err_exist("path " + n + " is given twice");
    auto p = open_path(w);
    if (!p) return p.error();
    if (auto s = check_not_used_elsewhere(**p, nullptr); !s) return s.error();
    paths.push_back(std::move(p).value());
  }
  const uint64_t path_size = paths[0]->io().size();
  for (auto& p : paths) {
    if (p->io().size() != path_size)
      return err_inval("paths " + paths[0]->name() + " and " + p->name() + " differ in size (" +
                       std::to_string(path_size) + " != " + std::to_string(p->io().size()) + ")");
    if (p->io().sector_size() != paths[0]->io().sector_size())
      return err_inval("paths " + paths[0]->name() + " and " + p->name() + " differ in sector size");
  }

  VolumeSettings s;
  s.name = spec.name;
  s.no_path_retry = spec.no_path_retry.value_or(defaults_.no_path_retry);
  s.io_timeout = spec.io_timeout.value_or(defaults_.io_timeout);
  s.file_mode = spec.file_mode.value_or(defaults_.file_mode);
  s.uid = spec.uid.value_or(defaults_.uid);
  s.gid = spec.gid.value_or(defaults_.gid);
  const uint32_t sector = paths[0]->io().sector_size();
  Mode mode = spec.mode.value_or(Mode::kActivePassive);

  // Metadata: write a new label (create -l), or taste the paths: a volume
  // over labeled disks never exposes the metadata sector.
  std::vector<bool> unreadable(paths.size(), false);
  bool write_label = spec.label;
  if (write_label && spec.label_only_if_unlabeled) {
    auto r = read_metadata(paths[0]->io());
    if (r && *r && !(*r)->uuid.empty()) write_label = false;  // already labeled: taste it
  }
  if (write_label) {
    if (path_size < 2ull * sector) return err_inval("path " + paths[0]->name() + " is too small to label");
    // As `mpathfs label` without -f: never relabel another volume's disk.
    if (auto r = read_metadata(paths[0]->io()); r && *r)
      return err_exist("path " + paths[0]->name() + " is already labeled (volume " + (*r)->name + ", UUID " +
                       (*r)->uuid + "); `mpathfs clear` it first");
    Metadata md;
    md.uuid = new_uuid();
    md.name = spec.name;
    md.sector_size = sector;
    md.size = path_size;
    md.mode = mode;
    if (auto w = write_metadata(paths[0]->io(), md); !w)
      return Error{w.error().code, "cannot write metadata to " + paths[0]->name() + ": " + w.error().msg};
    for (size_t i = 1; i < paths.size(); ++i) {
      auto r = read_metadata(paths[i]->io());
      if (r && (!*r || (*r)->uuid != md.uuid)) {
        (void)erase_metadata(paths[0]->io());
        return err_inval("no metadata found on " + paths[i]->name() + " after labeling: it is not a path of " +
                         paths[0]->name());
      }
      if (!r) unreadable[i] = true;
    }
    s.uuid = md.uuid;
  } else {
    for (size_t i = 0; i < paths.size(); ++i) {
      auto r = read_metadata(paths[i]->io());
      if (!r) {
        unreadable[i] = true;
        continue;
      }
      const auto& md = *r;
      if (md && md->version == 1 && (md->size == 0 || md->size == path_size) &&
          (md->sector_size == 0 || md->sector_size == sector) && !md->uuid.empty()) {
        s.uuid = md->uuid;
        if (!spec.mode) mode = md->mode;
      }
      break;  // the first readable path decides
    }
    if (s.uuid) {
      for (size_t i = 0; i < paths.size(); ++i) {
        if (unreadable[i]) continue;
        auto r = read_metadata(paths[i]->io());
        if (!r) {
          unreadable[i] = true;
        } else if (!*r || (*r)->uuid != *s.uuid) {
          return err_inval("path " + paths[i]->name() + " does not carry the metadata (UUID " + *s.uuid +
                           ") of the first path: it is not a path to the same disk");
        }
      }
    }
  }
  s.mode = mode;
  const uint64_t size = s.uuid ? path_size - sector : path_size;
  auto vol = std::make_shared<Volume>(s, path_size, size);
  for (size_t i = 0; i < paths.size(); ++i) {
    if (unreadable[i]) {
      paths[i]->set_failed(true);
      paths[i]->set_last_error(EIO);
    }
    if (auto a = vol->add_path(paths[i]); !a) return a.error();
  }
  insert(vol);
  spdlog::info("{}: created ({}, {} paths, {} bytes{})", spec.name, mode_name(mode), paths.size(), size,
               s.uuid ? ", labeled " + *s.uuid : std::string());
  return {};
}

Status Registry::destroy(const std::string& name, bool erase) {
  std::lock_guard ctl(ctl_mu_);
  std::shared_ptr<Volume> v;
  uint64_t id = 0;
  {
    std::lock_guard lk(map_mu_);
    for (auto& [i, vol] : by_id_) {
      if (vol->name() == name) {
        v = vol;
        id = i;
      }
    }
    if (!v) return err_noent("volume " + name + " does not exist");
    if (v->open_count() > 0) return err_busy("volume " + name + " is open");
    if (v->abandoned() > 0)
      return err_busy("volume " + name + " has requests stuck on a hung path; retry when they return");
    by_id_.erase(id);
    ++generation_;
  }
  if (erase && v->uuid()) {
    // gmultipath destroy: zero the metadata sector through a working path.
    bool done = false;
    for (auto& p : v->paths()) {
      if (p->failed()) continue;
      if (auto e = erase_metadata(p->io()); e) {
        done = true;
        break;
      } else {
        spdlog::warn("{}: cannot erase metadata on {}: {}", name, p->name(), e.error().describe());
      }
    }
    if (!done) spdlog::warn("{}: metadata not erased: no working path", name);
  }
  v->flush();
  v->shut_down();
  spdlog::info("{}: {}", name, erase ? "destroyed" : "stopped");
  return {};
}

Status Registry::add_to(Volume& v, const std::string& word) {
  std::string n = path_word_to_name(word);
  if (v.find_path(n)) return err_exist("path " + n + " is already in volume " + v.name());
  auto p = open_path(word);
  if (!p) return p.error();
  if (auto s = check_not_used_elsewhere(**p, &v); !s) return s.error();
  if (v.uuid() && (*p)->io().size() == v.path_size()) {
    auto r = read_metadata((*p)->io());
    if (!r) {
      // Opens but cannot be read: joins as FAIL, to come back by restore.
      (*p)->set_failed(true);
      (*p)->set_last_error(r.error().code);
    } else if (!*r) {
      return err_inval("path " + n + " carries no metadata, volume " + v.name() + " is labeled " + *v.uuid());
    } else if ((*r)->uuid != *v.uuid()) {
      return err_inval("path " + n + " carries UUID " + (*r)->uuid + ", volume " + v.name() + " has " + *v.uuid());
    }
  }
  return v.add_path(std::move(p).value());
}

Status Registry::rewrite_metadata(Volume& v, Mode m) {
  if (!v.uuid()) return {};
  // All paths lead to one disk: one working path suffices; write every
  // working path anyway so a path with its own cache agrees.
  bool done = false;
  Error last = err_io("no working path");
  for (auto& p : v.paths()) {
    if (p->failed()) continue;
    Metadata md;
    md.uuid = *v.uuid();
    md.name = v.name();
    md.sector_size = p->io().sector_size();
    md.size = p->io().size();
    md.mode = m;
    if (auto w = write_metadata(p->io(), md); w) done = true;
    else last = w.error();
  }
  if (!done) return Error{last.code, "cannot update metadata of " + v.name() + ": " + last.msg};
  return {};
}

Status Registry::apply(const std::string& volume, const Command& cmd) {
  if (auto* c = std::get_if<CreateCmd>(&cmd)) {
    VolumeSpec spec;
    spec.name = c->name;
    spec.mode = c->mode;
    spec.label = c->label;
    spec.paths = c->paths;
    return create(spec);
  }
  if (auto* c = std::get_if<DestroyCmd>(&cmd)) return destroy(c->name, true);
  if (auto* c = std::get_if<StopCmd>(&cmd)) return destroy(c->name, false);

  std::lock_guard ctl(ctl_mu_);
  auto v = find(volume);
  if (!v) return err_noent("volume " + volume + " does not exist");
  if (auto* c = std::get_if<PathCmd>(&cmd)) {
    const std::string name = path_word_to_name(c->path);
    switch (c->verb) {
      case CtlFile::kAdd: return add_to(*v, c->path);
      case CtlFile::kRemove: return v->remove_path(name);
      case CtlFile::kFail: return v->fail_path(name);
      case CtlFile::kRestore: return v->restore_path(name);
      case CtlFile::kPrefer: return v->prefer(name);
      default: return err_inval("not a path command");
    }
  }
  if (std::holds_alternative<RotateCmd>(cmd)) return v->rotate();
  if (auto* c = std::get_if<ConfigureCmd>(&cmd)) {
    if (auto s = rewrite_metadata(*v, c->mode); !s) return s;
    v->set_mode(c->mode);
    return {};
  }
  if (auto* c = std::get_if<NoPathRetryCmd>(&cmd)) {
    v->set_no_path_retry(c->seconds);
    return {};
  }
  return err_inval("unknown command");
}

std::vector<std::string> Registry::assemble(const std::vector<std::string>& devices) {
  std::vector<std::string> problems;
  std::lock_guard ctl(ctl_mu_);
  for (auto& dev : devices) {
    if (!check_not_inside_mpathfs(dev)) continue;
    auto io = open_posix_path(dev, defaults_.open);
    if (!io) continue;  // held by someone else, or not a disk: not ours to take
    auto md = read_metadata(**io);
    if (!md || !*md) continue;  // unreadable or unlabeled: silently ignored (gmultipath taste)
    const Metadata& m = **md;
    const uint64_t psize = (*io)->size();
    const uint32_t sector = (*io)->sector_size();
    if (m.version != 1) {
      problems.push_back(dev + ": metadata version " + std::to_string(m.version) + ", supported 1");
      continue;
    }
    if ((m.size != 0 && m.size != psize) || (m.sector_size != 0 && m.sector_size != sector) || m.uuid.empty())
      continue;  // belongs to a larger/smaller container (gmultipath ignores it)
    auto path = std::make_shared<Path>(dev, std::move(io).value());
    if (!check_not_used_elsewhere(*path, nullptr)) continue;  // already assembled
    // Same UUID: another path of a known volume.
    std::shared_ptr<Volume> same;
    for (auto& e : list())
      if (e.volume->uuid() && *e.volume->uuid() == m.uuid) same = e.volume;
    if (same) {
      if (auto s = same->add_path(path); !s) problems.push_back(dev + ": " + s.error().describe());
      continue;
    }
    std::string name = m.name;
    if (!valid_volume_name(name)) name = "mp";
    if (find(name) || reserved_name(name)) {
      // gmultipath: the name is taken by another UUID; no data becomes
      // unreachable, the new volume gets a distinct name.
      std::random_device rd;
      std::string alt = (name + "-" + std::to_string(rd() % 100000)).substr(0, 15);
      spdlog::warn("{}: volume name {} is taken by another UUID; assembling {} as {}", dev, name, m.uuid, alt);
      problems.push_back(dev + ": name " + name + " taken, assembled as " + alt);
      name = alt;
    }
    VolumeSettings s;
    s.name = name;
    s.mode = m.mode;
    s.uuid = m.uuid;
    s.no_path_retry = defaults_.no_path_retry;
    s.io_timeout = defaults_.io_timeout;
    s.file_mode = defaults_.file_mode;
    s.uid = defaults_.uid;
    s.gid = defaults_.gid;
    const uint64_t size = m.size ? m.size - (m.sector_size ? m.sector_size : sector) : psize - sector;
    auto vol = std::make_shared<Volume>(s, psize, size);
    if (auto a = vol->add_path(path); !a) {
      problems.push_back(dev + ": " + a.error().describe());
      continue;
    }
    insert(vol);
    spdlog::info("{}: assembled from metadata on {} ({}, UUID {})", name, dev, mode_name(m.mode), m.uuid);
  }
  return problems;
}

std::shared_ptr<Volume> Registry::find(const std::string& name) const {
  std::lock_guard lk(map_mu_);
  for (auto& [id, v] : by_id_)
    if (v->name() == name) return v;
  return nullptr;
}

std::shared_ptr<Volume> Registry::find_id(uint64_t id) const {
  std::lock_guard lk(map_mu_);
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

std::optional<uint64_t> Registry::id_of(const std::string& name) const {
  std::lock_guard lk(map_mu_);
  for (auto& [id, v] : by_id_)
    if (v->name() == name) return id;
  return std::nullopt;
}

std::vector<Registry::Entry> Registry::list() const {
  std::lock_guard lk(map_mu_);
  std::vector<Entry> out;
  for (auto& [id, v] : by_id_) out.push_back({id, v});
  return out;
}

uint64_t Registry::generation() const {
  std::lock_guard lk(map_mu_);
  return generation_;
}

std::string Registry::status_table() const {
  std::vector<VolumeStatus> all;
  for (auto& e : list()) all.push_back(e.volume->status());
  return render_status_table(all);
}

std::vector<std::string> Registry::reap_lost() {
  std::vector<std::string> gone;
  std::lock_guard ctl(ctl_mu_);
  std::lock_guard lk(map_mu_);
  for (auto it = by_id_.begin(); it != by_id_.end();) {
    if (it->second->all_lost() && it->second->abandoned() == 0) {
      spdlog::error("{}: every path is gone, volume destroyed", it->second->name());
      it->second->shut_down();  // open handles now get EIO
      gone.push_back(it->second->name());
      it = by_id_.erase(it);
      ++generation_;
    } else {
      ++it;
    }
  }
  return gone;
}

void Registry::flush_all() {
  // Every volume at once, each bounded by its io_timeout: a hung path
  // delays an unmount by io_timeout, not by the length of its hang.
  auto all = list();
  std::vector<std::pair<Volume::FlushTickets, std::chrono::steady_clock::time_point>> started;
  started.reserve(all.size());
  for (auto& e : all) {
    auto deadline = e.volume->flush_deadline();
    started.emplace_back(e.volume->begin_flush(), deadline);
  }
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].volume->end_flush(started[i].first, started[i].second) < 0)
      spdlog::error("{}: flush failed: no path could flush", all[i].volume->name());
  }
}

bool Registry::any_flush_hung() const {
  for (auto& e : list())
    if (e.volume->flush_hung()) return true;
  return false;
}

void Registry::shut_down_all() {
  for (auto& e : list()) e.volume->shut_down();
}

}  // namespace mpathfs
