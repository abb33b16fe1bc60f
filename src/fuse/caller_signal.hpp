// Whether the thread behind a FUSE request is being killed.
#pragma once

#include <sys/types.h>

namespace mpathfs::fuse {

// True when thread `tid` has SIGKILL pending: the kernel turns every fatal
// signal into a SIGKILL for each thread of the dying process.  False when
// it cannot tell (the thread is gone, /proc unreadable).
bool caller_has_fatal_signal(pid_t tid) noexcept;

}  // namespace mpathfs::fuse
