// Path choice per request, one function per mode (src/core/modes/).
// Each only chooses: it does no I/O and takes no lock.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/mode.hpp"
#include "core/path.hpp"

namespace mpathfs {

// What a router sees: the volume's paths in join order, the ACTIVE path
// (active-passive / active-read), and the paths this request already tried
// (bit i = paths[i]), which it must not choose again.
struct RouteView {
  std::span<const std::shared_ptr<Path>> paths;
  const Path* active = nullptr;
  uint64_t excluded = 0;
};

enum class IoKind : uint8_t { kRead, kWrite };

// The active path if usable, else the next good path after it in join order
// (wrapping).  nullptr when no good path is left.
Path* route_active_passive(const RouteView& v);
// The good path with the fewest requests in flight; among equals the one
// idle longest (round-robin, as gmultipath since the 2011 rewrite).
Path* route_active_active(const RouteView& v);
// Writes as active-passive; reads as active-active over ACTIVE and READ paths.
Path* route_active_read(const RouteView& v, IoKind kind);

inline Path* route(Mode m, const RouteView& v, IoKind kind) {
  switch (m) {
    case Mode::kActiveActive: return route_active_active(v);
    case Mode::kActiveRead: return route_active_read(v, kind);
    case Mode::kActivePassive: break;
  }
  return route_active_passive(v);
}

}  // namespace mpathfs
