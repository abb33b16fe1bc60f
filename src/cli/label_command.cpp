#include "cli/label_command.hpp"

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/path_open.hpp"
#include "core/label.hpp"
#include "core/metadata.hpp"
#include "core/word_escape.hpp"

namespace mpathfs::cli {
namespace {

// gmultipath takes provider names: "da0" is /dev/da0 unless a file of that
// name exists here (FreeBSD's g_device_path_open tries the word first).
std::string resolve_path_word(const std::string& word) {
  if (word.empty() || word.front() == '/') return word;
  struct stat st{};
  if (::stat(word.c_str(), &st) == 0) return word;
  return "/dev/" + word;
}

std::vector<std::string> resolve_all(const std::vector<std::string>& words) {
  std::vector<std::string> out;
  out.reserve(words.size());
  for (const auto& w : words) out.push_back(resolve_path_word(w));
  return out;
}

// nullopt: parsed, go on.  Otherwise CLI11 has printed the help or the
// error, and this is the exit status (0 or 1, never CLI11's own codes).
std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }
}

int fail(const std::string& what) {
  std::cerr << "mpathfs: " << what << "\n";
  return 1;
}

Result<std::optional<Metadata>> read_path_metadata(const std::string& path) {
  OpenOptions opt;
  opt.read_only = true;
  opt.exclusive = false;  // reading a label harms no one using the disk
  auto io = open_path(path, opt);
  if (!io) return io.error();  // names the path already
  auto md = read_metadata(**io);
  if (!md) return Error{md.error().code, path + ": " + md.error().msg};
  return md;
}

// A label's name and UUID are bytes from a disk anyone may have written:
// shown escaped (\ooo), never as raw terminal control or invalid UTF-8.
void print_text(const std::string& path, const Metadata& md) {
  std::cout << "Metadata on " << escape_word(path) << ":\n"
            << "       Magic: GEOM::MULTIPATH\n"
            << "        UUID: " << escape_word(md.uuid) << "\n"
            << "        Name: " << escape_word(md.name) << "\n"
            << "     Version: " << md.version << "\n"
            << "  Sectorsize: " << md.sector_size << "\n"
            << "        Size: " << md.size << "\n"
            << "        Mode: " << mode_gmultipath_name(md.mode) << "\n";
}

nlohmann::ordered_json to_json(const std::string& path, const Metadata& md) {
  return {{"path", escape_word(path)},
          {"magic", "GEOM::MULTIPATH"},
          {"uuid", escape_word(md.uuid)},
          {"name", escape_word(md.name)},
          {"version", md.version},
          {"sectorsize", md.sector_size},
          {"size", md.size},
          {"mode", std::string(mode_name(md.mode))},
          {"mode_gmultipath", std::string(mode_gmultipath_name(md.mode))}};
}

}  // namespace

int run_label(int argc, char** argv) {
  CLI::App app{"Write gmultipath metadata to the last sector of the first PATH, then check that every other "
               "PATH shows it.",
               "mpathfs label"};
  bool active_active = false;
  bool active_read = false;
  bool verbose = false;
  LabelRequest req;
  auto* a = app.add_flag("-A", active_active, "Active/Active mode");
  auto* r = app.add_flag("-R", active_read, "Active/Read mode (default: Active/Passive)");
  a->excludes(r);
  app.add_flag("-f,--force", req.force, "overwrite metadata already on the first PATH");
  app.add_flag("-v", verbose, "tell what was written");
  app.add_option("NAME", req.name, "volume name, 1-15 characters of A-Za-z0-9._-")->required();
  std::vector<std::string> words;
  app.add_option("PATH", words, "paths to one disk; the first one is written")->required();
  if (auto rc = parse(app, argc, argv)) return *rc;

  req.mode = active_active ? Mode::kActiveActive : active_read ? Mode::kActiveRead : Mode::kActivePassive;
  req.paths = resolve_all(words);
  auto rep = label_paths(req);
  if (!rep) return fail(rep.error().describe());
  for (const auto& w : rep->warnings) std::cerr << w << "\n";
  if (verbose) {
    const Metadata& md = rep->written;
    std::cout << "Metadata stored on " << req.paths.front() << ": name " << md.name << ", UUID " << md.uuid
              << ", " << mode_gmultipath_name(md.mode) << ", " << md.size - md.sector_size << " bytes of data.\n";
  }
  // Stricter than FreeBSD (exit 0 there): a path that does not show the
  // label is not a path to this disk, and scripts must notice.
  return rep->warnings.empty() ? 0 : 1;
}

int run_clear(int argc, char** argv) {
  CLI::App app{"Remove gmultipath metadata from each PATH (the last sector is zeroed).", "mpathfs clear"};
  bool verbose = false;
  std::vector<std::string> words;
  app.add_flag("-v", verbose, "tell what was cleared");
  app.add_option("PATH", words, "labeled paths")->required();
  if (auto rc = parse(app, argc, argv)) return *rc;

  int status = 0;
  for (const auto& path : resolve_all(words)) {
    if (auto s = clear_path(path); !s) {
      status = fail(s.error().describe());
      continue;  // as gmultipath: the other paths are still cleared
    }
    if (verbose) std::cout << "Metadata cleared on " << path << ".\n";
  }
  return status;
}

int run_dump(int argc, char** argv) {
  CLI::App app{"Print the gmultipath metadata of each PATH.", "mpathfs dump"};
  bool json = false;
  std::vector<std::string> words;
  app.add_flag("--json", json, "one JSON array, an object per labeled path");
  app.add_option("PATH", words, "paths to read")->required();
  if (auto rc = parse(app, argc, argv)) return *rc;

  int status = 0;
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  bool first = true;
  for (const auto& path : resolve_all(words)) {
    auto md = read_path_metadata(path);
    if (!md) {
      status = fail(md.error().describe());
      continue;
    }
    if (!*md) {
      status = fail("no metadata found on " + path);
      continue;
    }
    if (json) {
      all.push_back(to_json(path, **md));
    } else {
      if (!first) std::cout << "\n";
      print_text(path, **md);
      first = false;
    }
  }
  if (json) std::cout << all.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  return status;
}

}  // namespace mpathfs::cli
