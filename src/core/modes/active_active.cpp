#include "core/routing.hpp"

namespace mpathfs {

Path* route_active_active(const RouteView& v) {
  Path* best = nullptr;
  int best_load = 0;
  uint64_t best_pick = 0;
  for (size_t i = 0; i < v.paths.size(); ++i) {
    Path* p = v.paths[i].get();
    if (!p->good() || (v.excluded & (1ull << i))) continue;
    int load = p->inflight();
    uint64_t pick = p->last_pick_ns();
    if (!best || load < best_load || (load == best_load && pick < best_pick)) {
      best = p;
      best_load = load;
      best_pick = pick;
    }
  }
  return best;
}

}  // namespace mpathfs
