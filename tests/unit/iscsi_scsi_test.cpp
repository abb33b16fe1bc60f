// The iSCSI backend's pure parts: which VPD 0x83 designator names a LUN
// (src/core/iscsi/vpd_id.cpp), what a SCSI answer means for the path
// (scsi_sense.cpp), the word's parameters and secret files (iscsi_target.cpp).
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "core/iscsi/iscsi_login.hpp"
#include "core/iscsi/iscsi_target.hpp"
#include "core/iscsi/scsi_sense.hpp"
#include "core/iscsi/vpd_id.hpp"

using namespace mpathfs::iscsi;

namespace {

// A designation descriptor: code set, association, type, bytes.
std::vector<uint8_t> desc(uint8_t code_set, uint8_t assoc, uint8_t type, std::vector<uint8_t> d) {
  std::vector<uint8_t> v = {code_set, static_cast<uint8_t>(assoc << 4 | type), 0, static_cast<uint8_t>(d.size())};
  v.insert(v.end(), d.begin(), d.end());
  return v;
}

std::vector<uint8_t> page83(const std::vector<std::vector<uint8_t>>& ds) {
  std::vector<uint8_t> body;
  for (auto& d : ds) body.insert(body.end(), d.begin(), d.end());
  std::vector<uint8_t> p = {0x00, 0x83, static_cast<uint8_t>(body.size() >> 8), static_cast<uint8_t>(body.size())};
  p.insert(p.end(), body.begin(), body.end());
  return p;
}

std::vector<uint8_t> ascii(const char* s) { return std::vector<uint8_t>(s, s + std::char_traits<char>::length(s)); }

const std::vector<uint8_t> kNaa3 = {0x30, 0, 0, 0, 0, 0, 0, 0x01};  // tgt's: target and LUN numbers only
const std::vector<uint8_t> kNaa6 = {0x60, 0x01, 0x40, 0x05, 0x11, 0x22, 0x33, 0x44,
                                    0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc};
const std::vector<uint8_t> kNaa5 = {0x50, 0x01, 0x40, 0x5a, 0xbc, 0xde, 0xf0, 0x12};
const std::vector<uint8_t> kEui = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};

}  // namespace

TEST_CASE("vpd 0x83: NAA-6 wins over tgt's NAA-3 and the T10 vendor id, whatever the order", "[iscsi]") {
  auto p = page83({desc(1, 0, 3, kNaa3), desc(2, 0, 1, ascii("IET     mpathfs-lun-a")), desc(1, 0, 3, kNaa6)});
  CHECK(choose_device_id(p.data(), p.size()) == "360014005112233445566778899aabbcc");
  auto q = page83({desc(1, 0, 3, kNaa6), desc(1, 0, 3, kNaa3)});
  CHECK(choose_device_id(q.data(), q.size()) == "360014005112233445566778899aabbcc");
}

TEST_CASE("vpd 0x83: NAA 5 over 3, NAA over EUI-64 over T10, logical unit association only", "[iscsi]") {
  auto a = page83({desc(1, 0, 3, kNaa3), desc(1, 0, 3, kNaa5)});
  CHECK(choose_device_id(a.data(), a.size()) == "35001405abcdef012");
  auto b = page83({desc(2, 0, 1, ascii("VENDOR  id")), desc(1, 0, 2, kEui)});
  CHECK(choose_device_id(b.data(), b.size()) == "20011223344556677");
  auto c = page83({desc(2, 0, 1, ascii("VENDOR  some  id  "))});
  CHECK(choose_device_id(c.data(), c.size()) == "1VENDOR_some_id");
  // A target port's NAA (association 1) differs per path: never used.
  auto d = page83({desc(1, 1, 3, kNaa6), desc(2, 0, 1, ascii("V id"))});
  CHECK(choose_device_id(d.data(), d.size()) == "1V_id");
}

TEST_CASE("vpd 0x83: malformed pages give no id, page 0x80 is the fallback", "[iscsi]") {
  auto p = page83({desc(1, 0, 3, kNaa6)});
  p.resize(p.size() - 4);  // the descriptor is cut short
  CHECK(choose_device_id(p.data(), p.size()).empty());
  const uint8_t wrong_page[] = {0x00, 0x80, 0x00, 0x00};
  CHECK(choose_device_id(wrong_page, sizeof wrong_page).empty());
  CHECK(choose_device_id(nullptr, 0).empty());
  const uint8_t p80[] = {0x00, 0x80, 0x00, 0x08, ' ', ' ', ' ', ' ', ' ', 'S', 'N', 'A'};
  CHECK(unit_serial(p80, sizeof p80) == "SNA");
  CHECK(device_id_from_vpd(nullptr, 0, p80, sizeof p80) == "SSNA");
  auto good = page83({desc(1, 0, 3, kNaa6)});
  CHECK(device_id_from_vpd(good.data(), good.size(), p80, sizeof p80)[0] == '3');
  CHECK(device_id_from_vpd(nullptr, 0, nullptr, 0).empty());
}

TEST_CASE("sense data: fixed and descriptor formats", "[iscsi]") {
  const uint8_t fixed[18] = {0x70, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x11, 0x00};  // MEDIUM ERROR 11/00
  Sense s = parse_sense(fixed, sizeof fixed);
  CHECK(s.valid);
  CHECK(s.key == kMediumError);
  CHECK(s.asc == 0x11);
  CHECK(s.ascq == 0x00);
  const uint8_t descr[8] = {0x72, 0x06, 0x29, 0x00, 0, 0, 0, 0};  // UNIT ATTENTION 29/00 (reset)
  s = parse_sense(descr, sizeof descr);
  CHECK((s.valid && s.key == kUnitAttention && s.asc == 0x29 && s.ascq == 0));
  const uint8_t junk[3] = {0x12, 0x34, 0x56};
  CHECK_FALSE(parse_sense(junk, sizeof junk).valid);
  CHECK_FALSE(parse_sense(fixed, 1).valid);
}

TEST_CASE("sense classes as dm-multipath's blk_path_error", "[iscsi]") {
  auto sense = [](uint8_t key, uint8_t asc = 0, uint8_t ascq = 0) { return Sense{key, asc, ascq, true}; };
  auto v = [](uint32_t st, Sense s) { return classify_answer(st, s); };
  CHECK(v(kGood, {}).action == Action::kDone);
  CHECK(v(kCheckCondition, sense(kUnitAttention, 0x29)).action == Action::kRetry);
  CHECK(v(kCheckCondition, sense(kNotReady, 0x04, 0x01)).action == Action::kRetryBackoff);  // becoming ready
  CHECK(v(kBusy, {}).action == Action::kRetryBackoff);
  CHECK(v(kTaskSetFull, {}).action == Action::kRetryBackoff);
  // The target's answer about the data or the request: returned, path stays.
  CHECK(v(kCheckCondition, sense(kMediumError, 0x11)).action == Action::kRequestError);
  CHECK(v(kCheckCondition, sense(kMediumError, 0x11)).err == EIO);
  CHECK(v(kCheckCondition, sense(kDataProtect, 0x27)).err == EROFS);
  CHECK(v(kCheckCondition, sense(kIllegalRequest, 0x24)).err == EINVAL);
  CHECK(v(kCheckCondition, sense(kIllegalRequest)).action == Action::kRequestError);
  // Path trouble: fail over, never with an errno that reads as a target answer.
  for (auto verdict : {v(kCheckCondition, sense(kHardwareError)), v(kCheckCondition, sense(kAbortedCommand)),
                       v(kCheckCondition, sense(kNotReady, 0x04, 0x03)), v(kLibCancelled, {}), v(kLibTimeout, {}),
                       v(kLibError, {}), v(kCheckCondition, Sense{}), v(kTaskAborted, {})}) {
    CHECK(verdict.action == Action::kPathError);
    CHECK_FALSE(is_target_answer_errno(verdict.err));
  }
  CHECK(is_target_answer_errno(EIO));
  CHECK_FALSE(is_target_answer_errno(ENOTCONN));
  CHECK(describe(kCheckCondition, sense(kMediumError, 0x11)) == "MEDIUM ERROR, ASC/ASCQ 11/00");
}

TEST_CASE("READ CAPACITY(16) answer", "[iscsi]") {
  const uint8_t d[32] = {0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0, 0, 0x02, 0x00};
  uint64_t blocks = 0;
  uint32_t block = 0;
  REQUIRE(parse_capacity16(d, sizeof d, blocks, block));
  CHECK(blocks == 0x8000);
  CHECK(block == 512);
  CHECK_FALSE(parse_capacity16(d, 8, blocks, block));
}

TEST_CASE("iscsi word: our parameters, secret files", "[iscsi]") {
  auto t = parse_target("iscsi://169.254.1.2/iqn.2026-12.org.mpathfs:t1/1");
  REQUIRE(t);
  CHECK(t->url == "iscsi://169.254.1.2/iqn.2026-12.org.mpathfs:t1/1");
  CHECK(t->initiator.rfind(kInitiatorPrefix, 0) == 0);
  CHECK(parse_target("iscsi://h/iqn.x/1?initiator=iqn.2000-01.com.example:me")->initiator ==
        "iqn.2000-01.com.example:me");
  CHECK(parse_target("iscsi://h/iqn.x/1?bogus=1").error().code == EINVAL);

  char dir[] = "/tmp/mpathfs-secret-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  const std::string f = std::string(dir) + "/chap";
  std::ofstream(f) << "s3cret-Secret\n";
  ::chmod(f.c_str(), 0644);
  auto open = parse_target("iscsi://user@h/iqn.x/1?secret-file=" + f);
  CHECK(open.error().code == EACCES);
  CHECK(open.error().msg.find("group or others") != std::string::npos);
  ::chmod(f.c_str(), 0600);
  auto ok = parse_target("iscsi://user@h/iqn.x/1?secret-file=" + f);
  REQUIRE(ok);
  CHECK(ok->password == "s3cret-Secret");
  CHECK(ok->url == "iscsi://h/iqn.x/1");
  CHECK(ok->user == "user");
  CHECK(ok->shown.find("s3cret") == std::string::npos);
  CHECK(parse_target("iscsi://h/iqn.x/1?secret-file=" + f).error().code == EINVAL);         // no user
  CHECK(parse_target("iscsi://u%pw@h/iqn.x/1?secret-file=" + f).error().code == EINVAL);    // two secrets
  CHECK(parse_target("iscsi://u@h/iqn.x/1?secret-file=/nonexistent/x").error().code == ENOENT);
  ::unlink(f.c_str());
  ::rmdir(dir);
}
