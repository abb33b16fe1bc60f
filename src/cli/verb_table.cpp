// The verb table (see verb_table.hpp).
#include "cli/verb_table.hpp"

namespace mpathfs::cli {
namespace {

constexpr VerbDef kVerbs[] = {
    {"create", Verb::kCreate, "create [-A|-R] [-l] [-v] [-m MNT] NAME PATH...",
     "Create volume NAME over the PATHs (-A Active/Active, -R Active/Read, default Active/Passive; "
     "-l writes gmultipath metadata to the last sector: a labeled volume)."},
    {"destroy", Verb::kDestroy, "destroy [-v] [-m MNT] NAME",
     "Destroy volume NAME (refused while its file is open); a labeled volume's metadata is erased."},
    {"stop", Verb::kStop, "stop [-v] [-m MNT] NAME", "Stop volume NAME like destroy, but keep its metadata."},
    {"add", Verb::kAdd, "add [-v] [-m MNT] NAME PATH", "Add PATH to volume NAME (same size, same label UUID)."},
    {"remove", Verb::kRemove, "remove [-v] [-m MNT] NAME PATH", "Remove PATH from volume NAME."},
    {"fail", Verb::kFail, "fail [-v] [-m MNT] NAME PATH", "Mark PATH of volume NAME as FAIL."},
    {"restore", Verb::kRestore, "restore [-v] [-m MNT] NAME PATH", "Clear the FAIL mark of PATH in volume NAME."},
    {"rotate", Verb::kRotate, "rotate [-v] [-m MNT] NAME",
     "Make the next working path (in join order) the active path of NAME."},
    {"prefer", Verb::kPrefer, "prefer [-v] [-m MNT] NAME PATH", "Make PATH the active path of volume NAME."},
    {"configure", Verb::kConfigure, "configure -A|-R|-P [-v] [-m MNT] NAME",
     "Change the mode of NAME (-A Active/Active, -R Active/Read, -P Active/Passive); a labeled volume's "
     "metadata is rewritten."},
    {"getactive", Verb::kGetactive, "getactive [-m MNT] NAME",
     "Print the active path of NAME (every working path in Active/Active; 'none' if none works)."},
    {"status", Verb::kStatus, "status [-s] [-m MNT] [NAME...]",
     "Print the state of every volume (or of the NAMEs) and of their paths; -s: script mode."},
    {"list", Verb::kList, "list [-m MNT] [NAME...]",
     "Print every volume (or the NAMEs) in gmultipath list's layout, with per-path counters."},
};

}  // namespace

const VerbDef* find_verb(std::string_view name) {
  for (auto& v : kVerbs)
    if (v.name == name) return &v;
  return nullptr;
}

bool takes_path(Verb v) {
  return v == Verb::kAdd || v == Verb::kRemove || v == Verb::kFail || v == Verb::kRestore || v == Verb::kPrefer;
}

bool takes_name(Verb v) { return v != Verb::kStatus && v != Verb::kList; }

}  // namespace mpathfs::cli
