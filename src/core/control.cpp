#include "core/control.hpp"

#include <charconv>

#include "core/limits.hpp"
#include "core/volume_name.hpp"
#include "core/word_escape.hpp"

namespace mpathfs {
namespace {

struct NameEntry {
  CtlFile file;
  std::string_view name;
  bool volume_level;
};
constexpr NameEntry kNames[] = {
    {CtlFile::kCreate, "create", false},     {CtlFile::kDestroy, "destroy", false},
    {CtlFile::kStop, "stop", false},         {CtlFile::kAdd, "add", true},
    {CtlFile::kRemove, "remove", true},      {CtlFile::kFail, "fail", true},
    {CtlFile::kRestore, "restore", true},    {CtlFile::kPrefer, "prefer", true},
    {CtlFile::kRotate, "rotate", true},      {CtlFile::kConfigure, "configure", true},
    {CtlFile::kNoPathRetry, "no_path_retry", true},
    {CtlFile::kRescan, "rescan", false},
};

// One line: printable text, at most one trailing newline (and an optional
// CR before it, for files edited elsewhere).
Result<std::string_view> one_line(std::string_view text) {
  if (text.size() > kMaxControlWrite) return err_inval("control write too long");
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  for (unsigned char c : text) {
    if (c == '\n') return err_inval("one command per write, got several lines");
    if (c < 0x20 && c != '\t') return err_inval("control characters in command");
    if (c == 0x7f) return err_inval("control characters in command");
  }
  return text;
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

Result<std::string> single_word(std::string_view line, const char* what) {
  auto words = split_words(line);
  if (words.empty()) return err_inval(std::string("expected ") + what + ", got an empty line");
  if (words.size() > 1) return err_inval(std::string("expected one ") + what + ", got " + std::to_string(words.size()) + " words");
  return words[0];
}

// A path word as written (\040 for a blank, ...) to the path's name.  A
// new path (create, add) must not hold control characters: no tool could
// show or type it safely.
Result<std::string> path_of(const std::string& word, bool new_path, std::string_view verb) {
  auto p = unescape_word(word);
  if (!p) return err_inval(std::string(verb) + ": " + p.error().msg);
  if (new_path && has_control_character(*p))
    return err_inval(std::string(verb) + ": path '" + escape_word(*p) + "' holds control characters");
  return p;
}

}  // namespace

std::vector<std::string> split_words(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_blank(line[i])) ++i;
    size_t j = i;
    while (j < line.size() && !is_blank(line[j])) ++j;
    if (j > i) out.emplace_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string_view ctl_file_name(CtlFile f) {
  for (auto& e : kNames)
    if (e.file == f) return e.name;
  return "?";
}

bool parse_ctl_file_name(std::string_view name, bool volume_level, CtlFile* out) {
  for (auto& e : kNames) {
    if (e.name == name && e.volume_level == volume_level) {
      *out = e.file;
      return true;
    }
  }
  return false;
}

Result<Command> parse_control(CtlFile file, std::string_view text) {
  auto line = one_line(text);
  if (!line) return line.error();
  switch (file) {
    case CtlFile::kCreate: {
      // "NAME [-A|-R] [-l] PATH [PATH...]"; flags may also precede NAME
      // (gmultipath's order: create [-A|-R] name prov ...).
      CreateCmd c;
      bool have_a = false, have_r = false, have_p = false;
      for (auto& w : split_words(*line)) {
        if (w.size() > 1 && w[0] == '-') {
          for (size_t k = 1; k < w.size(); ++k) {
            switch (w[k]) {
              case 'A': have_a = true; break;
              case 'R': have_r = true; break;
              case 'P': have_p = true; break;
              case 'l': c.label = true; break;
              default: return err_inval("create: unknown flag -" + std::string(1, w[k]));
            }
          }
        } else if (c.name.empty()) {
          c.name = w;  // a valid name has no backslash: nothing to unescape
        } else {
          auto p = path_of(w, true, "create");
          if (!p) return p.error();
          c.paths.push_back(std::move(*p));
        }
      }
      if (have_a + have_r + have_p > 1) return err_inval("create: -A, -R and -P exclude each other");
      if (have_a) c.mode = Mode::kActiveActive;
      if (have_r) c.mode = Mode::kActiveRead;
      if (have_p) c.mode = Mode::kActivePassive;
      if (c.name.empty()) return err_inval("create: expected NAME [-A|-R] [-l] PATH [PATH...]");
      if (!valid_volume_name(c.name))
        return err_inval("create: bad volume name '" + escape_word(c.name) + "' (1-15 characters of A-Za-z0-9._-)");
      if (reserved_volume_name(c.name))
        return err_inval("create: volume name '" + c.name + "' is reserved by the mounted tree");
      if (c.paths.empty()) return err_inval("create: volume " + c.name + " needs at least one path");
      return Command{std::move(c)};
    }
    case CtlFile::kDestroy:
    case CtlFile::kStop: {
      auto w = single_word(*line, "volume name");
      if (!w) return w.error();
      if (!valid_volume_name(*w)) return err_inval("bad volume name '" + escape_word(*w) + "'");
      if (file == CtlFile::kDestroy) return Command{DestroyCmd{std::move(*w)}};
      return Command{StopCmd{std::move(*w)}};
    }
    case CtlFile::kAdd:
    case CtlFile::kRemove:
    case CtlFile::kFail:
    case CtlFile::kRestore:
    case CtlFile::kPrefer: {
      auto w = single_word(*line, "path");
      if (!w) return w.error();
      auto p = path_of(*w, file == CtlFile::kAdd, ctl_file_name(file));
      if (!p) return p.error();
      return Command{PathCmd{file, std::move(*p)}};
    }
    case CtlFile::kRotate:
      return Command{RotateCmd{}};  // anything rotates (SPEC)
    case CtlFile::kRescan:
      return Command{RescanCmd{}};  // anything tastes
    case CtlFile::kConfigure: {
      auto w = single_word(*line, "-A, -R or -P");
      if (!w) return w.error();
      auto m = parse_mode(*w);
      if (!m) return err_inval("configure: expected -A, -R or -P, got '" + *w + "'");
      return Command{ConfigureCmd{*m}};
    }
    case CtlFile::kNoPathRetry: {
      auto w = single_word(*line, "number of seconds");
      if (!w) return w.error();
      int v = 0;
      auto [p, ec] = std::from_chars(w->data(), w->data() + w->size(), v);
      if (ec != std::errc() || p != w->data() + w->size() || v < kMinNoPathRetry || v > kMaxNoPathRetry)
        return err_inval("no_path_retry: expected seconds " + std::to_string(kMinNoPathRetry) + ".." +
                         std::to_string(kMaxNoPathRetry) + " (-1 queue forever, 0 fail at once), got '" +
                         escape_word(*w) + "'");
      return Command{NoPathRetryCmd{v}};
    }
  }
  return err_inval("unknown control file");
}

}  // namespace mpathfs
