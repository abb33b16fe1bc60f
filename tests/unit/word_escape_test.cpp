// Octal escapes of path words (src/core/word_escape.cpp): what status shows
// can be written back to a control file; nothing raw reaches a terminal.
#include <catch2/catch.hpp>

#include <random>

#include "core/word_escape.hpp"

using namespace mpathfs;

TEST_CASE("escape_word: plain names are unchanged", "[escape]") {
  for (const char* s : {"/dev/sdb", "/srv/a/vm1.img", "sdb", "0b5e6a1e-7d0c", "/srv/caf\xc3\xa9.img", "/x/\xe2\x82\xac",
                        "/x/\xf0\x9f\x92\xbe"})
    CHECK(escape_word(s) == s);
}

TEST_CASE("escape_word: blanks, backslash and control characters become octal escapes", "[escape]") {
  CHECK(escape_word("/srv/a b") == "/srv/a\\040b");
  CHECK(escape_word("a\tb") == "a\\011b");
  CHECK(escape_word("a\nb") == "a\\012b");
  CHECK(escape_word("a\\b") == "a\\134b");
  CHECK(escape_word("\x1b[31mred") == "\\033[31mred");
  CHECK(escape_word("del\x7f") == "del\\177");
  // C1 controls in UTF-8 (U+009B is CSI).
  CHECK(escape_word("x\xc2\x9b" "2J") == "x\\302\\2332J");
}

TEST_CASE("escape_word: bytes that are not UTF-8 become octal escapes, the JSON stays valid", "[escape]") {
  CHECK(escape_word("\xff") == "\\377");
  CHECK(escape_word("a\xc3") == "a\\303");            // truncated sequence
  CHECK(escape_word("\xc0\xaf") == "\\300\\257");     // overlong '/'
  CHECK(escape_word("\xed\xa0\x80") == "\\355\\240\\200");  // a surrogate
  CHECK(escape_word("\xf4\x90\x80\x80") == "\\364\\220\\200\\200");  // above U+10FFFF
}

TEST_CASE("unescape_word inverts escape_word for any bytes", "[escape]") {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> len_d(0, 40), byte_d(1, 255);
  for (int i = 0; i < 5000; ++i) {
    std::string raw(static_cast<size_t>(len_d(rng)), 'x');
    for (auto& c : raw) c = static_cast<char>(byte_d(rng));
    const std::string e = escape_word(raw);
    for (unsigned char c : e) REQUIRE((c > 0x20 && c != 0x7f));  // one word, printable
    auto back = unescape_word(e);
    REQUIRE(back);
    REQUIRE(*back == raw);
  }
}

TEST_CASE("unescape_word: mountinfo escapes, and a stray backslash is EINVAL", "[escape]") {
  CHECK(unescape_word("/srv/a\\040b").value() == "/srv/a b");
  CHECK(unescape_word("\\011\\012\\134").value() == "\t\n\\");
  CHECK(unescape_word("/dev/sdb").value() == "/dev/sdb");
  for (const char* bad : {"\\", "a\\", "\\04", "\\4000", "\\400", "\\000", "\\08x", "a\\b", "\\\\"}) {
    INFO(bad);
    auto r = unescape_word(bad);  // \400 and up are above a byte, \000 a NUL
    REQUIRE_FALSE(r);
    CHECK(r.error().code == EINVAL);
    CHECK(r.error().msg.find("\\134") != std::string::npos);  // says how to write a backslash
  }
}

TEST_CASE("has_control_character: tab is a blank, the rest are controls", "[escape]") {
  CHECK_FALSE(has_control_character("/srv/a b\tc"));
  CHECK_FALSE(has_control_character("/srv/\xff"));
  CHECK(has_control_character("/srv/a\nb"));
  CHECK(has_control_character("\x1b[2J"));
  CHECK(has_control_character("a\x7f"));
}
