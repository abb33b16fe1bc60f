#include "core/routing.hpp"

namespace mpathfs {

Path* route_active_read(const RouteView& v, IoKind kind) {
  // Reads may go to any good path (ACTIVE or READ); writes stay on the
  // ACTIVE path so one path orders all writes.
  return kind == IoKind::kRead ? route_active_active(v) : route_active_passive(v);
}

}  // namespace mpathfs
