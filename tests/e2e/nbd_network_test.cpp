// NBD paths through libnbd: nbdkit servers over veth links of a test
// namespace and over Unix sockets; cuts, a frozen and a restarted server,
// identity, unreachable servers, TLS-PSK and its key file.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <thread>

#include "e2e/command_checks.hpp"
#include "e2e/harness.hpp"
#include "e2e/test_net.hpp"
#include "e2e/tools.hpp"

using namespace mpathfs::e2e;

namespace {

constexpr uint64_t kImage = 64 * MiB;

json net_options(double io_timeout = 2) {
  // Links are cut on purpose, several times a minute: not flapping.
  return {{"workers", 8},        {"check_interval", 1}, {"failback", "immediate"},
          {"no_path_retry", 10}, {"io_timeout", io_timeout}, {"flap_threshold", 64}};
}

// nbdkit 1.32 (Debian 12) can abort ("raw_send_socket: Assertion `sock >=
// 0' failed") when several of its threads hold replies for a connection the
// client has dropped — as mpathfs drops a hung server's connection at
// io_timeout, with fio's requests in flight on it.  Seen: a frozen server
// thawed after the abort died in 3 runs of 3 with its default 16 threads
// (and in 2 of 7 before requests went asynchronous), in 0 of 3 with one.  These tests are about mpathfs, not that race: the servers
// they break run one thread per connection (with multi-conn, still several
// connections per path).
const std::vector<std::string> kNbdkitThreads = {"--threads", "1"};

// nbdkit's file plugin on `image` over a Unix socket (our namespace).
pid_t serve_unix(const TempDir& tmp, const std::string& image, const std::string& sock,
                 const std::vector<std::string>& extra = {}) {
  ::unlink(sock.c_str());
  std::vector<std::string> argv = {"nbdkit", "-f", "--exit-with-parent", "-U", sock};
  argv.insert(argv.end(), kNbdkitThreads.begin(), kNbdkitThreads.end());
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.insert(argv.end(), {"file", image});
  pid_t pid = spawn(argv, tmp / "nbdkit.log");
  REQUIRE(wait_until([&] { struct stat st{}; return ::stat(sock.c_str(), &st) == 0; }, 10));
  return pid;
}

struct Fio {
  RunResult run;
  int error = -1;
  uint64_t clat_max_ns = 0;
};

// A write-then-verify pass (crc32c) over [0, size) of target.
Fio fio_verify(const TempDir& tmp, const std::string& target, uint64_t size, int seed, double timeout_s) {
  const std::string out = tmp / ("fio-" + std::to_string(seed) + ".json");
  Fio f;
  f.run = run({"fio", "--name=nbd", "--filename=" + target, "--ioengine=libaio", "--direct=1", "--iodepth=16",
               "--rw=randwrite", "--bsrange=4k-256k", "--size=" + std::to_string(size), "--verify=crc32c",
               "--do_verify=1", "--verify_fatal=1", "--verify_state_save=0", "--fallocate=none",
               "--randseed=" + std::to_string(seed), "--output-format=json", "--output=" + out},
              timeout_s);
  std::string text;
  if (try_read_file(out, text) == 0 && text.find('{') != std::string::npos) {
    json j = json::parse(text.substr(text.find('{')), nullptr, false);
    if (j.is_object() && !j["jobs"].empty()) {
      const json& job = j["jobs"][0];
      f.error = job.value("error", -1);
      f.clat_max_ns = std::max(job["write"]["clat_ns"].value("max", uint64_t(0)),
                               job["read"]["clat_ns"].value("max", uint64_t(0)));
    }
  }
  return f;
}

// fio passes in a thread until stop; the worst latency and the failures.
struct FioLoop {
  std::atomic<bool> stop{false};
  int passes = 0, failures = 0;
  uint64_t worst_ns = 0;
  std::string last;
  std::thread t;
  FioLoop(const TempDir& tmp, const std::string& target, uint64_t size) {
    t = std::thread([this, &tmp, target, size] {
      for (int seed = 1; !stop.load(); ++seed) {
        Fio f = fio_verify(tmp, target, size, seed, 300);
        ++passes;
        worst_ns = std::max(worst_ns, f.clat_max_ns);
        if (f.error != 0 || f.run.exit_code() != 0) ++failures, last = f.run.describe();
      }
    });
  }
  int finish() {
    stop = true;
    t.join();
    return failures;
  }
  ~FioLoop() {
    if (t.joinable()) finish();
  }
};

bool all_active(const Daemon& d, const std::string& vol) {
  for (auto& s : path_states(d.status(vol)))
    if (s != "ACTIVE") return false;
  return true;
}

}  // namespace

TEST_CASE("soak: nbd over two links, fio --verify while each link in turn is cut and restored", "[nbd][net]") {
  TempDir tmp;
  const std::string image = make_zero_file(tmp / "image", kImage);
  TestHost host(tmp, 2);
  host.spawn({"nbdkit", "-f", "--exit-with-parent", "--threads", "1", "-i", "0.0.0.0", "-p", "10809", "file", image},
             tmp / "nbdkit.log");
  REQUIRE(wait_tcp_port(host.addr(0), 10809, 10));
  const std::vector<std::string> paths = {"nbd://" + host.addr(0) + ":10809/", "nbd://" + host.addr(1) + ":10809/"};
  Daemon d(tmp, write_config(tmp, net_options(2), json::array({volume_spec("vol0", paths, "active-active")})));
  FioLoop fio(tmp, d.vol("vol0"), 32 * MiB);
  std::vector<double> back_s;
  for (int i = 0; i < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    host.cut(i);
    CHECK(wait_until([&] { return path_state(d.status("vol0"), paths[i]) == "FAIL"; }, 10));
    std::this_thread::sleep_for(std::chrono::seconds(3));
    host.restore(i);
    const double t0 = now_s();
    CHECK(wait_until([&] { return all_active(d, "vol0"); }, 15));
    back_s.push_back(now_s() - t0);
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const int failures = fio.finish();
  WARN("nbd link cuts: " << fio.passes << " fio passes, worst fio latency " << fio.worst_ns / 1e9
                         << " s (io_timeout 2 s), back ACTIVE after restore in " << back_s[0] << " s and "
                         << back_s[1] << " s");
  INFO(fio.last << "\n" << d.log());
  CHECK(failures == 0);
  CHECK(fio.passes > 0);
  // Issue 14's bound: a request on the cut link is rescued at io_timeout,
  // and a write held on it lets newer writes to its blocks wait ~1 s more at
  // most (NbdConn::kCutSettleMs), not until the link returns.
  CHECK(fio.worst_ns / 1e9 <= 2.0 + 1.0);
}

TEST_CASE("nbd: a frozen and a killed-and-restarted nbdkit under fio: no errors, the path back within seconds",
          "[nbd]") {
  TempDir tmp;
  const std::string image = make_zero_file(tmp / "image", kImage);
  const std::string sa = tmp / "a.sock", sb = tmp / "b.sock";
  pid_t a = serve_unix(tmp, image, sa);
  pid_t b = serve_unix(tmp, image, sb);
  const std::vector<std::string> paths = {"nbd+unix:///?socket=" + sa, "nbd+unix:///?socket=" + sb};
  Daemon d(tmp, write_config(tmp, net_options(2), json::array({volume_spec("vol0", paths, "active-active")})));
  double frozen_back = -1, restart_back = -1;
  int failures = 0;
  uint64_t worst = 0;
  {
    FioLoop fio(tmp, d.vol("vol0"), 16 * MiB);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    ::kill(a, SIGSTOP);
    CHECK(wait_until([&] { return path_state(d.status("vol0"), paths[0]) == "FAIL"; }, 10));
    std::this_thread::sleep_for(std::chrono::seconds(2));
    ::kill(a, SIGCONT);
    double t0 = now_s();
    CHECK(wait_until([&] { return all_active(d, "vol0"); }, 20));
    frozen_back = now_s() - t0;
    stop_child(a, 0, SIGKILL);
    CHECK(wait_until([&] { return path_state(d.status("vol0"), paths[0]) == "FAIL"; }, 10));
    a = serve_unix(tmp, image, sa);
    t0 = now_s();
    CHECK(wait_until([&] { return all_active(d, "vol0"); }, 20));
    restart_back = now_s() - t0;
    std::this_thread::sleep_for(std::chrono::seconds(1));
    failures = fio.finish();
    worst = fio.worst_ns;
    INFO(fio.last);
  }
  WARN("nbd frozen server: back " << frozen_back << " s after SIGCONT; restarted server: back " << restart_back
                                  << " s; worst fio latency " << worst / 1e9 << " s");
  INFO(d.log());
  CHECK(failures == 0);
  d.shutdown();
  stop_child(a);
  stop_child(b);
}

TEST_CASE("nbd: a Unix-socket path and a file path in one volume, made by the CLI", "[nbd][cli]") {
  TempDir tmp;
  const std::string image = make_pattern_file(tmp / "image", 4 * MiB, 7);
  const std::string sock = tmp / "s.sock";
  pid_t srv = serve_unix(tmp, image, sock);
  Daemon d(tmp, "none");
  const std::string uri = "nbd+unix:///?socket=" + sock;
  RunResult r = mp(d.mnt(), {"create", "mix", uri, image});
  INFO(r.describe() << d.log());
  REQUIRE(r.exit_code() == 0);
  json st = d.status("mix");
  CHECK(path_names(st) == std::vector<std::string>{uri, image});  // the URI as given
  // Written through the NBD path (ACTIVE), read from the file.
  Bytes data = pattern(99, 0, 1 * MiB);
  {
    Fd fd = open_fd(d.vol("mix"), O_RDWR);
    REQUIRE(pwrite_all(fd.get(), data.data(), data.size(), 0) == 0);
    REQUIRE(::fsync(fd.get()) == 0);
  }
  CHECK(read_range(image, 0, data.size(), false) == data);
  CHECK(ctl_write(d.ctl("mix", "prefer"), image) == 0);
  CHECK(read_range(d.vol("mix"), 0, data.size()) == data);
  d.shutdown();
  stop_child(srv);
}

TEST_CASE("nbd: add refuses a size mismatch (EINVAL) and an unreachable server within the bound", "[nbd][net]") {
  TempDir tmp;
  const std::string image = make_zero_file(tmp / "image", 4 * MiB);
  const std::string small = make_zero_file(tmp / "small", 2 * MiB);
  const std::string sock = tmp / "small.sock";
  pid_t srv = serve_unix(tmp, small, sock);
  TestHost host(tmp, 1);
  Daemon d(tmp, write_config(tmp, net_options(), json::array({volume_spec("vol0", {image})})));
  CHECK(errno_name(ctl_write(d.ctl("vol0", "add"), "nbd+unix:///?socket=" + sock)) == "EINVAL");
  CHECK(path_names(d.status("vol0")) == std::vector<std::string>{image});
  // Nobody listens: refused at once.
  CHECK(errno_name(ctl_write(d.ctl("vol0", "add"), "nbd://" + host.addr(0) + ":10809/")) == "ECONNREFUSED");
  // A cut link: the guard route answers, or the connect bound (10 s) ends it.
  host.cut(0);
  const double t0 = now_s();
  const int e = ctl_write(d.ctl("vol0", "add"), "nbd://" + host.addr(0) + ":10809/");
  CHECK(now_s() - t0 < 12);
  CHECK((e == EHOSTUNREACH || e == ETIMEDOUT || e == ENETUNREACH));
  CHECK(d.log().find(host.addr(0)) != std::string::npos);  // the message names the URI
  CHECK(path_names(d.status("vol0")) == std::vector<std::string>{image});
  d.shutdown();
  stop_child(srv);
}

TEST_CASE("nbd: TLS-PSK export used with its key, refused without it, the key never shown, a 0644 key refused",
          "[nbd][tls]") {
  require_tool("psktool");
  TempDir tmp;
  const std::string image = make_zero_file(tmp / "image", 4 * MiB);
  const std::string psk = tmp / "keys.psk";
  REQUIRE(run({"psktool", "-u", "alice", "-p", psk}).exit_code() == 0);
  REQUIRE(::chmod(psk.c_str(), 0600) == 0);
  const std::string key_line = read_file(psk);
  const std::string key = key_line.substr(key_line.find(':') + 1, 32);
  const std::string sock = tmp / "tls.sock";
  pid_t srv = serve_unix(tmp, image, sock, {"--tls=require", "--tls-psk=" + psk});
  Daemon d(tmp, write_config(tmp, net_options(), json::array({volume_spec("vol0", {image})})));
  // Without TLS (or without the key): refused.
  CHECK(ctl_write(d.ctl("vol0", "add"), "nbd+unix:///?socket=" + sock) != 0);
  // A key file that others can read: EACCES, and the message says why.
  const std::string open_psk = tmp / "open.psk";
  write_text_file(open_psk, key_line);
  REQUIRE(::chmod(open_psk.c_str(), 0644) == 0);
  CHECK(errno_name(ctl_write(d.ctl("vol0", "add"), "nbds+unix://alice@/?socket=" + sock + "&tls-psk-file=" + open_psk)) == "EACCES");
  CHECK(d.log().find("readable by group or others") != std::string::npos);
  // With the key.
  // libnbd 1.14 takes the PSK user name from the URI's user part.
  const std::string uri = "nbds+unix://alice@/?socket=" + sock + "&tls-psk-file=" + psk;
  REQUIRE(ctl_write(d.ctl("vol0", "add"), uri) == 0);
  CHECK(path_names(d.status("vol0")) == std::vector<std::string>{image, uri});
  CHECK(ctl_write(d.ctl("vol0", "prefer"), uri) == 0);
  Bytes data = pattern(5, 0, 256 * KiB);
  {
    Fd fd = open_fd(d.vol("vol0"), O_RDWR);
    REQUIRE(pwrite_all(fd.get(), data.data(), data.size(), 4096) == 0);
  }
  CHECK(read_range(image, 4096, data.size(), false) == data);
  CHECK(d.status_text().find(key) == std::string::npos);
  CHECK(d.log().find(key) == std::string::npos);
  d.shutdown();
  stop_child(srv);
}
