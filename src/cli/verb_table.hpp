// The gmultipath(8) verbs the CLI knows: name, usage line and help text,
// one table row each, so `mpathfs VERB --help` and usage errors agree.
#pragma once

#include <string_view>

namespace mpathfs::cli {

enum class Verb {
  kCreate, kDestroy, kStop, kAdd, kRemove, kFail, kRestore, kRotate, kPrefer, kConfigure, kGetactive, kStatus, kList,
};

struct VerbDef {
  std::string_view name;
  Verb verb;
  const char* usage;  // after "mpathfs "
  const char* help;
};

// The row of `name`, or nullptr.
const VerbDef* find_verb(std::string_view name);

// Verbs that name one path of a volume (ctl/NAME/<verb> "PATH").
bool takes_path(Verb v);
// Verbs that name one volume (all but status and list, which take several).
bool takes_name(Verb v);

}  // namespace mpathfs::cli
