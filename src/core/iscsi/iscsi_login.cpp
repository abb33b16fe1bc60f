#include "core/iscsi/iscsi_login.hpp"

#include <iscsi/scsi-lowlevel.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "core/iscsi/vpd_id.hpp"
#include "core/path_io.hpp"

namespace mpathfs::iscsi {
namespace {

struct TaskFree {
  void operator()(scsi_task* t) const { scsi_free_scsi_task(t); }
};
using TaskPtr = std::unique_ptr<scsi_task, TaskFree>;

struct UrlFree {
  void operator()(iscsi_url* u) const {
    // The struct holds the password: wipe it before it goes back to malloc.
    std::memset(u->passwd, 0, sizeof u->passwd);
    iscsi_destroy_url(u);
  }
};

// libiscsi reports failures as text only; the errno is read from it.
int errno_of(const std::string& msg) {
  auto has = [&](const char* s) { return msg.find(s) != std::string::npos; };
  if (has("uthentication") || has("CHAP") || has("Authorization")) return EACCES;
  if (has("refused") || has("Connection refused")) return ECONNREFUSED;
  if (has("unreachable") || has("No route")) return EHOSTUNREACH;
  if (has("ot found") || has("NOT_FOUND") || has("does not exist") || has("LUN")) return ENOENT;
  if (has("imed out") || has("imeout")) return ETIMEDOUT;
  return ECONNREFUSED;
}

uint32_t be32(const uint8_t* d) { return (uint32_t{d[0]} << 24) | (uint32_t{d[1]} << 16) | (uint32_t{d[2]} << 8) | d[3]; }

}  // namespace

bool parse_capacity16(const uint8_t* d, size_t len, uint64_t& blocks, uint32_t& block) noexcept {
  if (len < 12) return false;
  const uint64_t last = (uint64_t{be32(d)} << 32) | be32(d + 4);
  block = be32(d + 8);
  if (block == 0 || last == UINT64_MAX) return false;
  blocks = last + 1;
  return true;
}

Result<Login> login(const Target& t) {
  const std::string& name = t.shown;
  iscsi_context* ctx = iscsi_create_context(t.initiator.c_str());
  if (!ctx) return Error{ENOMEM, "path " + name + ": cannot create an iSCSI context"};
  Login out;
  out.ctx = ctx;
  auto fail = [&](int e, const std::string& what) -> Error {
    std::string msg = "path " + name + ": " + what;
    iscsi_destroy_context(ctx);
    return Error{e, msg};
  };
  std::unique_ptr<iscsi_url, UrlFree> url(iscsi_parse_full_url(ctx, t.url.c_str()));
  if (!url) return fail(EINVAL, std::string("not a valid iSCSI URI: ") + iscsi_get_error(ctx));
  out.lun = url->lun;
  iscsi_set_targetname(ctx, url->target);
  iscsi_set_session_type(ctx, ISCSI_SESSION_NORMAL);
  iscsi_set_header_digest(ctx, ISCSI_HEADER_DIGEST_NONE_CRC32C);
  // A multipath layer fails the path and lets the checker reconnect;
  // libiscsi's own reconnect would queue forever (see iscsi_session.hpp).
  iscsi_set_noautoreconnect(ctx, 1);
  iscsi_set_timeout(ctx, kPduTimeoutS);
  iscsi_set_tcp_syncnt(ctx, 2);  // a silent portal: connect gives up after ~7 s, not 2 min
  if (!t.user.empty() && iscsi_set_initiator_username_pwd(ctx, t.user.c_str(), t.password.c_str()) != 0)
    return fail(EINVAL, "cannot set the CHAP user");
  if (iscsi_full_connect_sync(ctx, url->portal, url->lun) != 0) {
    const std::string err = iscsi_get_error(ctx);
    const int e = errno_of(err);
    std::string what = e == EACCES ? "login refused by the target: CHAP authentication failed (user '" +
                                         t.user + "', wrong or missing secret)"
                                   : "cannot log in to " + std::string(url->portal) + ": " + err;
    return fail(e, what);
  }
  TaskPtr cap(iscsi_readcapacity16_sync(ctx, url->lun));
  if (!cap || cap->status != SCSI_STATUS_GOOD ||
      !parse_capacity16(cap->datain.data, cap->datain.size > 0 ? static_cast<size_t>(cap->datain.size) : 0,
                        out.blocks, out.block))
    return fail(EINVAL, "LUN " + std::to_string(url->lun) + " answers no READ CAPACITY(16): not a disk");
  if (out.block < 512 || out.block > kMaxAlign || (out.block & (out.block - 1)))
    return fail(EINVAL, "block size " + std::to_string(out.block) + " is not supported (512..4096)");
  TaskPtr p83(iscsi_inquiry_sync(ctx, url->lun, 1, 0x83, 255));
  TaskPtr p80(iscsi_inquiry_sync(ctx, url->lun, 1, 0x80, 255));
  auto bytes = [](const TaskPtr& tk, size_t& n) -> const uint8_t* {
    if (!tk || tk->status != SCSI_STATUS_GOOD || tk->datain.size <= 0) {
      n = 0;
      return nullptr;
    }
    n = static_cast<size_t>(tk->datain.size);
    return tk->datain.data;
  };
  size_t n83 = 0, n80 = 0;
  const uint8_t* d83 = bytes(p83, n83);
  const uint8_t* d80 = bytes(p80, n80);
  out.device_id = device_id_from_vpd(d83, n83, d80, n80);
  return out;
}

}  // namespace mpathfs::iscsi
