#include "core/word_escape.hpp"

namespace mpathfs {
namespace {

void put_octal(std::string& out, unsigned char c) {
  out.push_back('\\');
  out.push_back(static_cast<char>('0' + (c >> 6)));
  out.push_back(static_cast<char>('0' + ((c >> 3) & 7)));
  out.push_back(static_cast<char>('0' + (c & 7)));
}

bool is_cont(unsigned char c) { return (c & 0xc0) == 0x80; }

// Length of the valid UTF-8 sequence at s[i] (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0.
size_t utf8_length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  const size_t left = s.size() - i;
  if (c >= 0xc2 && c <= 0xdf) return left >= 2 && is_cont(b(1)) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (left < 3 || !is_cont(b(1)) || !is_cont(b(2))) return 0;
    if (c == 0xe0 && b(1) < 0xa0) return 0;  // overlong
    if (c == 0xed && b(1) > 0x9f) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (left < 4 || !is_cont(b(1)) || !is_cont(b(2)) || !is_cont(b(3))) return 0;
    if (c == 0xf0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xf4 && b(1) > 0x8f) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

int octal_digit(char c) { return c >= '0' && c <= '7' ? c - '0' : -1; }

}  // namespace

std::string escape_word(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  size_t i = 0;
  while (i < raw.size()) {
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c < 0x80) {
      if (c <= 0x20 || c == 0x7f || c == '\\') put_octal(out, c);
      else out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    const size_t n = utf8_length(raw, i);
    // U+0080..U+009F (C2 80..C2 9F) are C1 controls: 0x9b starts a
    // terminal escape sequence as ESC [ does.
    const bool c1 = n == 2 && c == 0xc2 && static_cast<unsigned char>(raw[i + 1]) < 0xa0;
    if (n == 0 || c1) {
      const size_t len = n == 0 ? 1 : n;
      for (size_t k = 0; k < len; ++k) put_octal(out, static_cast<unsigned char>(raw[i + k]));
      i += len;
      continue;
    }
    out.append(raw.substr(i, n));
    i += n;
  }
  return out;
}

Result<std::string> unescape_word(std::string_view word) {
  std::string out;
  out.reserve(word.size());
  for (size_t i = 0; i < word.size(); ++i) {
    if (word[i] != '\\') {
      out.push_back(word[i]);
      continue;
    }
    const int d0 = i + 1 < word.size() ? octal_digit(word[i + 1]) : -1;
    const int d1 = i + 2 < word.size() ? octal_digit(word[i + 2]) : -1;
    const int d2 = i + 3 < word.size() ? octal_digit(word[i + 3]) : -1;
    const int v = d0 * 64 + d1 * 8 + d2;
    if (d0 < 0 || d1 < 0 || d2 < 0 || d0 > 3 || v == 0)
      return err_inval("bad escape at character " + std::to_string(i + 1) +
                       ": a backslash starts \\ooo, three octal digits (\\040 blank, \\134 backslash)");
    out.push_back(static_cast<char>(v));
    i += 3;
  }
  return out;
}

bool has_control_character(std::string_view s) {
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\t') || c == 0x7f) return true;
  return false;
}

}  // namespace mpathfs
