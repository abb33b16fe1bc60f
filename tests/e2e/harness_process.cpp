// Harness, processes: running a tool to completion with a timeout, spawning
// a server child with a death signal, and waiting for children and
// conditions.
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "e2e/harness.hpp"
#include "e2e/harness_internal.hpp"
#include "e2e/tools.hpp"

namespace mpathfs::e2e {

using detail::sys_error;
using detail::slurp;
using detail::throw_errno;

namespace {

std::vector<char*> make_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

// Child side of a fork: only async-signal-safe calls.
[[noreturn]] void exec_child(char* const* argv, int out_fd, int death_sig, pid_t parent) {
  if (death_sig > 0) ::prctl(PR_SET_PDEATHSIG, death_sig);
  if (::getppid() != parent) ::_exit(126);  // the parent died before prctl
  int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, 0);
  ::dup2(out_fd, 1);
  ::dup2(out_fd, 2);
  ::execvp(argv[0], argv);
  const char msg[] = "exec failed\n";
  (void)!::write(2, msg, sizeof msg - 1);
  ::_exit(127);
}

}  // namespace

bool RunResult::exited() const { return !timed_out && WIFEXITED(status); }
int RunResult::exit_code() const { return exited() ? WEXITSTATUS(status) : -1; }
std::string RunResult::describe() const {
  std::string s;
  if (timed_out)
    s = "timed out";
  else if (WIFEXITED(status))
    s = "exit " + std::to_string(WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    s = "signal " + std::to_string(WTERMSIG(status));
  else
    s = "status " + std::to_string(status);
  return s + "; output:\n" + output;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

RunResult run(const std::vector<std::string>& argv, double timeout_s) {
  RunResult r;
  // A missing tool reads as "install PACKAGE", not as exec's exit 127 alone.
  if (std::string miss = missing_tool_message(argv.at(0)); !miss.empty()) {
    r.status = 127 << 8;
    r.output = miss + "\n";
    return r;
  }
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe2");
  auto cargv = make_argv(argv);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) exec_child(cargv.data(), p[1], SIGKILL, parent);
  ::close(p[1]);
  ::fcntl(p[0], F_SETFL, O_NONBLOCK);
  double deadline = now_s() + timeout_s;
  bool reaped = false;
  char buf[4096];
  for (;;) {
    // Drain what is there.
    for (;;) {
      ssize_t n = ::read(p[0], buf, sizeof buf);
      if (n > 0) {
        r.output.append(buf, static_cast<size_t>(n));
        continue;
      }
      break;
    }
    if (reaped) break;  // drained after exit (a daemonized grandchild may hold the pipe)
    int st = 0;
    pid_t w = ::waitpid(pid, &st, WNOHANG);
    if (w == pid) {
      r.status = st;
      reaped = true;
      continue;  // one more drain
    }
    if (now_s() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      r.status = st;
      r.timed_out = true;
      break;
    }
    pollfd pfd{p[0], POLLIN, 0};
    ::poll(&pfd, 1, 10);
  }
  ::close(p[0]);
  return r;
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& log_file, int death_sig) {
  require_tool(argv.at(0));
  int out = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) throw_errno("open " + log_file);
  auto cargv = make_argv(argv);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(out);
    throw std::runtime_error(sys_error("fork", e));
  }
  if (pid == 0) exec_child(cargv.data(), out, death_sig, parent);
  ::close(out);
  return pid;
}

bool wait_child(pid_t pid, double timeout_s, int* status) {
  if (pid <= 0) return true;
  double deadline = now_s() + timeout_s;
  for (;;) {
    int st = 0;
    pid_t w = ::waitpid(pid, &st, WNOHANG);
    if (w == pid || (w < 0 && errno == ECHILD)) {
      if (status) *status = st;
      return true;
    }
    if (now_s() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void stop_child(pid_t pid, double grace_s, int first_sig) {
  if (pid <= 0) return;
  if (wait_child(pid, 0)) return;
  ::kill(pid, first_sig > 0 ? first_sig : SIGTERM);
  if (wait_child(pid, grace_s)) return;
  ::kill(pid, SIGKILL);
  int st;
  ::waitpid(pid, &st, 0);
}

bool wait_gone(pid_t pid, double timeout_s) {
  if (pid <= 0) return true;
  return wait_until(
      [&] {
        if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
        // A zombie has exited; its parent (not us) reaps it when it likes.
        std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
        auto rp = stat.rfind(')');
        return rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] == 'Z';
      },
      timeout_s);
}

bool wait_until(const std::function<bool()>& pred, double timeout_s, double step_s) {
  double deadline = now_s() + timeout_s;
  for (;;) {
    if (pred()) return true;
    if (now_s() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::duration<double>(step_s));
  }
}

}  // namespace mpathfs::e2e
