// Robustness: a fuzz of every control file against a live daemon, and what
// an fsync promised after the daemon is killed with SIGKILL.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstring>
#include <random>

#include "e2e/harness.hpp"

using namespace mpathfs::e2e;

namespace {

// What a control write may change: the status table and each volume's
// mode and no_path_retry.  (Counters and the checker column move by
// themselves and are left out.)
std::string state_snapshot(const Daemon& d) {
  std::string s = d.status_text();
  for (auto& v : parse_status(s).volumes) {
    json j = d.status(v.name);
    s += v.name + " " + j["mode"].get<std::string>() + " " + std::to_string(j["no_path_retry"].get<int>()) + "\n";
  }
  return s;
}

}  // namespace

TEST_CASE("robustness: 10,000 random writes to every control file and refused ones change nothing", "[robust]") {
  TempDir tmp;
  auto p = make_path_files(tmp, 2, 4 * MiB, 1, "a");
  auto q = make_path_files(tmp, 1, 8 * MiB, 2, "b");
  auto spare = make_path_files(tmp, 1, 4 * MiB, 3, "c");
  Daemon d(tmp, write_config(tmp, quiet_options(),
                             json::array({volume_spec("vol0", p), volume_spec("vol1", q, "active-active")})));

  const std::vector<std::string> files = {
      d.ctl("create"),          d.ctl("destroy"),          d.ctl("stop"),
      d.ctl("vol0", "add"),     d.ctl("vol0", "remove"),   d.ctl("vol0", "fail"),
      d.ctl("vol0", "restore"), d.ctl("vol0", "prefer"),   d.ctl("vol0", "rotate"),
      d.ctl("vol0", "configure"), d.ctl("vol0", "no_path_retry"), d.ctl("vol1", "add"),
      d.ctl("vol1", "remove"),  d.ctl("vol1", "fail"),     d.ctl("vol1", "configure"),
  };
  // Words that make near-misses: real paths of this and the other volume,
  // flags, names, numbers.
  const std::vector<std::string> words = {p[0], p[1], q[0], spare[0], "vol0", "vol1", "-A", "-R", "-P", "-l",
                                          "-1", "0", "7", "/dev/null", "/nonexistent", d.vol("vol0"), "sdb",
                                          "averyveryverylongname", "../ctl", "vol0\n/extra"};
  std::mt19937_64 rng(20261125);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };

  std::string before = state_snapshot(d);
  int refused = 0, accepted = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string text;
    switch (pick(6)) {
      case 0: {  // random bytes
        size_t n = 1 + pick(300);
        for (size_t k = 0; k < n; ++k) text.push_back(static_cast<char>(rng() & 0xff));
        break;
      }
      case 1:  // a huge line
        text.assign(70000 + pick(1000), 'x');
        break;
      case 2: {  // a partial line: a prefix of a real path, no newline
        const std::string& w = words[pick(words.size())];
        text = w.substr(0, 1 + pick(w.size()));
        break;
      }
      default: {  // a few words, maybe valid, maybe for the wrong file
        size_t n = 1 + pick(4);
        for (size_t k = 0; k < n; ++k) text += (k ? " " : "") + words[pick(words.size())];
        if (pick(2)) text += "\n";
      }
    }
    const std::string& file = files[pick(files.size())];
    int err = ctl_write(file, text);
    if (err == 0) {
      ++accepted;
      before = state_snapshot(d);  // an accepted write may change the state
      continue;
    }
    ++refused;
    if (i % 1000 == 0) REQUIRE(d.alive());
    std::string after = state_snapshot(d);
    if (after != before) {
      INFO("write #" << i << " to " << file << " refused with " << errno_name(err) << " changed the state");
      CHECK(after == before);
      before = after;
    }
  }
  INFO("accepted " << accepted << ", refused " << refused);
  CHECK(refused > 9000);
  REQUIRE(d.alive());
  // The tree still answers, and a new volume carries I/O (the fuzz may
  // have destroyed the others: `destroy vol0` is a valid write).
  (void)d.status_text();
  auto fresh = make_path_files(tmp, 1, 4 * MiB, 5, "post");
  REQUIRE(ctl_write(d.ctl("create"), "post " + fresh[0] + "\n") == 0);
  Bytes data = pattern(9, 0, 64 * KiB);
  Fd fd = open_fd(d.vol("post"), O_RDWR | O_DIRECT);
  AlignedBuf buf(data.size());
  std::memcpy(buf.data(), data.data(), data.size());
  REQUIRE(pwrite_all(fd.get(), buf.data(), data.size(), 0) == 0);
  CHECK(read_range(d.vol("post"), 0, data.size()) == data);
}

TEST_CASE("robustness: after kill -9 of the daemon, every byte an fsync acknowledged is on the paths",
          "[robust]") {
  TempDir tmp;
  auto p = make_path_files(tmp, 2, 8 * MiB, 1, "p");
  Bytes data = pattern(42, 0, 3 * MiB + 1000);  // unaligned end: a buffered tail
  {
    Daemon d(tmp, write_config(tmp, quiet_options(), json::array({volume_spec("vol0", p)})));
    Fd fd = open_fd(d.vol("vol0"), O_RDWR);  // buffered: the page cache is in play
    REQUIRE(pwrite_all(fd.get(), data.data(), data.size(), 4096) == 0);
    REQUIRE(::fsync(fd.get()) == 0);
    REQUIRE(::kill(d.pid(), SIGKILL) == 0);
    // The Daemon's destructor reaps it and clears the dead mount.
  }
  // The two path files are two copies here, not one disk: the writes went
  // to the active path, the first.
  CHECK(read_range(p[0], 4096, data.size(), false) == data);
}
