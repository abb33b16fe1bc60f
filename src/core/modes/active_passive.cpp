#include "core/routing.hpp"

namespace mpathfs {

Path* route_active_passive(const RouteView& v) {
  const size_t n = v.paths.size();
  size_t start = 0;
  for (size_t i = 0; i < n; ++i) {
    if (v.paths[i].get() == v.active) {
      start = i;
      break;
    }
  }
  // The active path first, then the others in join order after it.
  for (size_t k = 0; k < n; ++k) {
    size_t i = (start + k) % n;
    Path* p = v.paths[i].get();
    if (p->good() && !(v.excluded & (1ull << i))) return p;
  }
  return nullptr;
}

}  // namespace mpathfs
