#include <catch2/catch.hpp>

#include "core/path_open.hpp"

using namespace mpathfs;

TEST_CASE("path form: the backend follows the word's form", "[path_open]") {
  CHECK(path_form("/dev/sdb") == PathForm::kPosix);
  CHECK(path_form("nbd://h/x") == PathForm::kNbd);
  CHECK(path_form("nbds://h:10809/x") == PathForm::kNbd);
  CHECK(path_form("nbd+unix:///x?socket=/s") == PathForm::kNbd);
  CHECK(path_form("nbds+unix:///?socket=/s") == PathForm::kNbd);
  CHECK(path_form("iscsi://h/iqn.2026-12.x:t/1") == PathForm::kIscsi);
  CHECK(path_form("sdb") == PathForm::kUnknown);
  CHECK(path_form("http://h/x") == PathForm::kUnknown);
  CHECK(is_uri("nbd+unix:///x"));
  CHECK_FALSE(is_uri("./a://b"));
  CHECK_FALSE(is_uri("/a://b"));
}

TEST_CASE("redact: passwords and secret parameters never show", "[path_open]") {
  CHECK(redact_secrets("iscsi://user%secret@10.0.0.1/iqn.x:t/1") == "iscsi://user@10.0.0.1/iqn.x:t/1");
  CHECK(redact_secrets("iscsi://h/iqn.x:t/1") == "iscsi://h/iqn.x:t/1");
  CHECK(redact_secrets("nbds://alice:pw@h/x?tls-psk-file=/k") == "nbds://alice@h/x?tls-psk-file=/k");
  CHECK(redact_secrets("nbd://h/x?password=abc&tls=on") == "nbd://h/x?password=***&tls=on");
  CHECK(redact_secrets("/srv/a%b@c.img") == "/srv/a%b@c.img");
  // An '@' in the path part is not a user part.
  CHECK(redact_secrets("nbd+unix:///e@x?socket=/s") == "nbd+unix:///e@x?socket=/s");
}

TEST_CASE("open_path: a word of no known form is refused with EINVAL", "[path_open]") {
  auto r = open_path("ftp://h/x", OpenOptions{});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == EINVAL);
}
