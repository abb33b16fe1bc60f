// The tree is fixed: only control files change it.  Operations that would
// add, remove or rename entries answer EPERM, as a read-only directory
// would, instead of the ENOSYS libfuse gives an op left unset.
#pragma once

#include "fuse/fs.hpp"

namespace mpathfs::fuse {

// Sets mkdir, mknod, create, unlink, rmdir, symlink, link and rename.
// Extended attributes stay unset: the kernel then answers EOPNOTSUPP, the
// usual "this file system has none", which cp -a and tar take in stride.
void refuse_tree_changes(fuse_lowlevel_ops& ops);

}  // namespace mpathfs::fuse
