// `mpathfs list`: one volume in gmultipath list's layout.  (`mpathfs status`
// is drawn by the core's render_status_table / render_status_script, the
// same code as MNT/status.)
#pragma once

#include <string>

#include "core/status.hpp"

namespace mpathfs::cli {

// A geom section (State: at column 0), the provider multipath/NAME, then
// the consumers "N. Name: PATH" each with an indented "State: WORD" right
// after its sizes, so that FreeBSD's atf scripts' awk (/^State:/,
// /1. Name: .../ ... /State:/) reads it as theirs.  mpathfs adds its
// counters after each consumer's State line.  `mnt` names the volume file.
std::string render_list(const std::string& mnt, const VolumeStatus& v);

// humanize_number(3) as geom list uses it: at most three digits and a unit,
// one decimal below ten ("512B", "4.0M", "100M", "1.0G").
std::string humanize(uint64_t n);

}  // namespace mpathfs::cli
