// DeviceMonitor: gmultipath's taste for devices that appear after start.
// It listens to the kernel's block-device uevents (a NETLINK_KOBJECT_UEVENT
// socket: no udev daemon needed) and
//  - on "add"/"change" of a device that a `scan` glob matches (directly or
//    through a link), tastes it: a labeled device joins the volume with its
//    UUID or assembles a new one (Registry::assemble, name-clash rule and
//    all); one that is busy or still empty is tasted again a few times
//    (taste_retries.hpp);
//  - on "remove", makes every path that is that device gone;
//  - on every event and twice a second, lets loop paths that `losetup -d`
//    marked autoclear leave (device_departure.hpp): that mark sends no event.
// FUSE-free: the tree learns of destroyed volumes through on_tree_change.
#pragma once

#include <functional>
#include <string>
#include <thread>

#include "core/registry.hpp"
#include "core/result.hpp"
#include "core/taste_retries.hpp"

namespace mpathfs {

// One kernel uevent, the fields the monitor uses.
struct Uevent {
  std::string action;     // add, change, remove, ...
  std::string subsystem;  // block, ...
  std::string devname;    // loop3, sdb (no /dev/)
};
// Parses a kernel uevent datagram ("action@devpath\0KEY=value\0...").
// False for anything else (udev's own "libudev" messages).
bool parse_uevent(const char* buf, size_t len, Uevent* out);

class DeviceMonitor {
 public:
  explicit DeviceMonitor(Registry& reg, std::function<void()> on_tree_change = {});
  ~DeviceMonitor();
  DeviceMonitor(const DeviceMonitor&) = delete;
  DeviceMonitor& operator=(const DeviceMonitor&) = delete;

  // Opens and binds the socket: from here on events queue in it, so a scan
  // done after listen() and before start() misses no device.  An error if
  // it cannot (the daemon then logs it and runs without: tasting on
  // ctl/rescan only).
  VoidResult listen();
  // Starts the thread that reads the events (listen() first if not yet).
  VoidResult start();
  void stop();

  // What one event does (the loop's thread calls it; tests may too, when
  // the loop is not running).
  void handle(const Uevent& e);

 private:
  void loop();
  int poll_timeout_ms() const;
  // Tastes the queued devices that are due; true when the tree changed.
  bool retry_due();

  Registry& reg_;
  std::function<void()> on_tree_change_;
  int sock_ = -1;
  int wake_ = -1;  // eventfd: stop() wakes the loop
  std::thread thread_;
  TasteRetries retries_;  // the loop's thread only
};

}  // namespace mpathfs
