#include "fuse/tree_changes.hpp"

namespace mpathfs::fuse {
namespace {

// Volumes come and go through ctl/create and ctl/destroy only.
constexpr int kRefused = EPERM;

void op_mkdir(fuse_req_t req, fuse_ino_t, const char*, mode_t) { fuse_reply_err(req, kRefused); }
void op_mknod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) { fuse_reply_err(req, kRefused); }
void op_create(fuse_req_t req, fuse_ino_t, const char*, mode_t, fuse_file_info*) { fuse_reply_err(req, kRefused); }
void op_unlink(fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, kRefused); }
void op_rmdir(fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, kRefused); }
void op_symlink(fuse_req_t req, const char*, fuse_ino_t, const char*) { fuse_reply_err(req, kRefused); }
void op_link(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) { fuse_reply_err(req, kRefused); }
void op_rename(fuse_req_t req, fuse_ino_t, const char*, fuse_ino_t, const char*, unsigned) {
  fuse_reply_err(req, kRefused);
}

}  // namespace

void refuse_tree_changes(fuse_lowlevel_ops& ops) {
  ops.mkdir = op_mkdir;
  ops.mknod = op_mknod;
  ops.create = op_create;
  ops.unlink = op_unlink;
  ops.rmdir = op_rmdir;
  ops.symlink = op_symlink;
  ops.link = op_link;
  ops.rename = op_rename;
}

}  // namespace mpathfs::fuse
