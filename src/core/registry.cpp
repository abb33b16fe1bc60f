#include "core/registry.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "core/label.hpp"
#include "core/metadata.hpp"
#include "core/path_guard.hpp"
#include "core/path_open.hpp"
#include "core/status_render.hpp"
#include "core/volume_name.hpp"

namespace mpathfs {

std::string path_word_to_name(const std::string& word) {
  if (word.empty()) return word;
  // A network path is named by its URI, minus any secret: status, logs and
  // control files all use that name (the backend alone keeps the secret).
  if (is_uri(word)) return redact_secrets(word);
  // "/d/./a" and "/d//a" are "/d/a": one name per path, so one file
  // cannot join two volumes under two spellings.
  if (word[0] == '/') return std::filesystem::path(word).lexically_normal().string();
  if (word.find('/') == std::string::npos) return "/dev/" + word;
  return word;  // relative with a directory: taken as given
}

Result<std::shared_ptr<Path>> Registry::open_path(const std::string& word) const {
  std::string name = path_word_to_name(word);
  if (name.empty()) return err_inval("empty path");
  const bool uri = is_uri(word);
  if (!uri && name[0] != '/') return err_inval("path " + word + " is not absolute");
  if (!uri) {
    if (auto s = check_not_inside_mpathfs(name); !s) return s.error();
  }
  auto io = mpathfs::open_path(uri ? word : name, defaults_.open);
  if (!io) return io.error();
  if ((*io)->size() == 0) return err_inval("path " + name + " is empty (size 0)");
  return std::make_shared<Path>(name, std::move(io).value());
}

Registry::Claim::Claim(Claim&& o) noexcept
    : reg_(std::exchange(o.reg_, nullptr)), names_(std::move(o.names_)), paths_(std::move(o.paths_)) {}

Registry::Claim::~Claim() {
  if (!reg_ || (names_.empty() && paths_.empty())) return;
  std::lock_guard lk(reg_->map_mu_);
  for (auto& n : names_) reg_->claimed_names_.erase(n);
  for (auto& p : paths_) reg_->claimed_paths_.erase(p);
}

bool Registry::name_taken_locked(const std::string& name) const {
  if (claimed_names_.count(name)) return true;
  for (auto& [id, slot] : by_id_)
    if (slot.volume->name() == name) return true;
  return false;
}

VoidResult Registry::claim_locked(Claim& c, const std::string& name, const std::vector<std::string>& paths,
                              const Volume* self, const std::string& what) {
  if (!name.empty()) {
    if (auto it = claimed_names_.find(name); it != claimed_names_.end())
      return err_exist("volume " + name + " is " + it->second);
    if (name_taken_locked(name)) return err_exist("volume " + name + " already exists");
  }
  for (auto& p : paths) {
    if (auto it = claimed_paths_.find(p); it != claimed_paths_.end())
      return err_busy("path " + p + " is " + it->second);
    for (auto& [id, slot] : by_id_) {
      if (slot.volume.get() == self) continue;
      // By name only: two names for one object are what multipath is made
      // of (two mounts of one image); block devices are opened O_EXCL, so a
      // disk taken twice is refused with EBUSY by the kernel.
      if (slot.volume->has_path(p))
        return err_busy("path " + p + " is already a path of volume " + slot.volume->name());
    }
  }
  if (!name.empty()) {
    claimed_names_[name] = what;
    c.names_.push_back(name);
  }
  for (auto& p : paths) {
    claimed_paths_[p] = what;
    c.paths_.push_back(p);
  }
  return {};
}

Result<Registry::Claim> Registry::claim(const std::string& name, const std::vector<std::string>& paths,
                                        const Volume* self, const std::string& what) {
  Claim c(this);
  std::lock_guard lk(map_mu_);
  if (auto s = claim_locked(c, name, paths, self, what); !s) return s.error();
  return c;
}

VoidResult Registry::insert(std::shared_ptr<Volume> v) {
  std::lock_guard lk(map_mu_);
  for (auto& [id, slot] : by_id_)
    if (slot.volume->name() == v->name()) return err_exist("volume " + v->name() + " already exists");
  by_id_[next_id_++] = Slot{std::move(v), std::make_shared<Mutex>()};
  ++generation_;
  return {};
}

std::optional<Registry::Slot> Registry::slot_of(const std::string& name) const {
  std::lock_guard lk(map_mu_);
  for (auto& [id, slot] : by_id_)
    if (slot.volume->name() == name) return slot;
  return std::nullopt;
}


VoidResult Registry::destroy(const std::string& name, bool erase) {
  Slot slot;
  Claim held(this);
  {
    std::lock_guard lk(map_mu_);
    auto it = std::find_if(by_id_.begin(), by_id_.end(), [&](auto& e) { return e.second.volume->name() == name; });
    if (it == by_id_.end()) return err_noent("volume " + name + " does not exist");
    slot = it->second;
    Volume& v = *slot.volume;
    if (v.open_count() > 0) return err_busy("volume " + name + " is open");
    if (v.abandoned() > 0)
      return err_busy("volume " + name + " has requests stuck on a hung path; retry when they return");
    by_id_.erase(it);
    ++generation_;
    // Out of the map now; its name and paths stay claimed until the label
    // is erased and the flush done, so no new volume takes them meanwhile.
    std::vector<std::string> paths;
    for (auto& p : v.paths()) paths.push_back(p->name());
    (void)claim_locked(held, name, paths, &v, erase ? "being destroyed" : "being stopped");
  }
  // What follows may wait on a hung path: no lock another volume needs is held.
  std::lock_guard ctl(*slot.ctl);  // a configure of this volume finishes first
  Volume& v = *slot.volume;
  if (erase && v.uuid()) {
    // gmultipath destroy: zero the metadata sector through a working path.
    bool done = false;
    for (auto& p : v.paths()) {
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
  v.flush();
  v.shut_down();
  spdlog::info("{}: {}", name, erase ? "destroyed" : "stopped");
  return {};
}

VoidResult Registry::add_to(Volume& v, const std::string& word) {
  std::string n = path_word_to_name(word);
  if (v.find_path(n)) return err_exist("path " + n + " is already in volume " + v.name());
  auto held = claim("", {n}, &v, "being added to volume " + v.name());
  if (!held) return held.error();
  // Opening and reading may hang (a frozen server): no lock is held.
  auto p = open_path(word);
  if (!p) return p.error();
  if (v.uuid() && (*p)->io().size() == v.path_size()) {
    const LabelTaste t = taste_label((*p)->io());
    if (t.kind == LabelKind::kUnreadable) {
      // Opens but cannot be read: joins as FAIL; the checker verifies its
      // identity before it restores it.
      (*p)->set_failed(true);
      (*p)->set_last_error(t.error.code);
      spdlog::warn("{}: path {} joins as FAIL: {}", v.name(), n, t.error.describe());
    } else if (auto s = check_label_identity(t, n, *v.uuid(), v.path_size(), (*p)->io().sector_size()); !s) {
      return s.error();
    }
  }
  if (v.is_shut_down()) return err_noent("volume " + v.name() + " was destroyed meanwhile");
  return v.add_path(std::move(p).value());
}

VoidResult Registry::configure(const std::string& name, Mode m) {
  auto slot = slot_of(name);
  if (!slot) return err_noent("volume " + name + " does not exist");
  // Label and mode change together; a destroy that won the race leaves a
  // shut-down volume whose label must not come back.
  std::lock_guard ctl(*slot->ctl);
  if (slot->volume->is_shut_down()) return err_noent("volume " + name + " does not exist");
  if (auto s = rewrite_metadata(*slot->volume, m); !s) return s;
  slot->volume->set_mode(m);
  return {};
}

VoidResult Registry::rewrite_metadata(Volume& v, Mode m) {
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

VoidResult Registry::apply(const std::string& volume, const Command& cmd) {
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
  if (std::holds_alternative<RescanCmd>(cmd)) {
    rescan();
    return {};
  }

  // Each of these is atomic under the volume's own mutex; none does I/O
  // but add, which holds no lock while it opens and reads the new path.
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
  if (auto* c = std::get_if<ConfigureCmd>(&cmd)) return configure(volume, c->mode);
  if (auto* c = std::get_if<NoPathRetryCmd>(&cmd)) {
    v->set_no_path_retry(c->seconds);
    return {};
  }
  return err_inval("unknown command");
}

std::shared_ptr<Volume> Registry::find(const std::string& name) const {
  std::lock_guard lk(map_mu_);
  for (auto& [id, slot] : by_id_)
    if (slot.volume->name() == name) return slot.volume;
  return nullptr;
}

std::shared_ptr<Volume> Registry::find_id(uint64_t id) const {
  std::lock_guard lk(map_mu_);
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second.volume;
}

std::optional<uint64_t> Registry::id_of(const std::string& name) const {
  std::lock_guard lk(map_mu_);
  for (auto& [id, slot] : by_id_)
    if (slot.volume->name() == name) return id;
  return std::nullopt;
}

std::vector<Registry::Entry> Registry::list() const {
  std::lock_guard lk(map_mu_);
  std::vector<Entry> out;
  for (auto& [id, slot] : by_id_) out.push_back({id, slot.volume});
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
  std::lock_guard lk(map_mu_);
  for (auto it = by_id_.begin(); it != by_id_.end();) {
    Volume& v = *it->second.volume;
    if (v.all_lost() && v.abandoned() == 0) {
      spdlog::error("{}: every path is gone, volume destroyed", v.name());
      v.shut_down();  // open handles now get EIO
      gone.push_back(v.name());
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
  std::vector<std::pair<Volume::FlushTickets, uint64_t>> started;
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
