// Paths whose device went away: a remove uevent, or a loop device that
// `losetup -d` marked for autoclear while the daemon held it open (the
// kernel then sends nothing until the last opener closes it).  A detached
// loop path leaves its volume and its file is closed, so the kernel can
// finish the detach the admin asked for; the last one takes the volume with
// it (gmultipath: destroyed on last provider disconnection).
#pragma once

#include <string>

#include "core/registry.hpp"

namespace mpathfs {

// Whether `name` is a loop device (or a link to one) marked autoclear:
// `losetup -d` ran while it was in use.
bool loop_autoclear_set(const std::string& name);

// Every path that is a loop device marked autoclear leaves its volume
// (removed; the last path of a volume is marked gone and the volume
// destroyed).  One log line per departure.  True if volumes were destroyed.
bool leave_detached_loops(Registry& reg);

// The device `devnode` (/dev/sdb) went away (a remove uevent): every path
// that is it, or a link to it, is gone.  True if volumes were destroyed.
bool device_removed(Registry& reg, const std::string& devnode);

}  // namespace mpathfs
