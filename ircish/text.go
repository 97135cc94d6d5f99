package ircish

import "unicode/utf8"

var errBadText = errorf(CodeBadText, "text must be UTF-8 without control characters")

// CheckText returns a BAD_TEXT error if b is not valid UTF-8 or holds a
// control character other than TAB, so that no line can carry a terminal
// escape sequence to another user.
func CheckText(b []byte) error {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf { // fast path for ASCII
			if IsControl(rune(c)) {
				return errBadText
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 || IsControl(r) {
			return errBadText
		}
		i += size
	}
	return nil
}

// IsControl reports whether r is a C0 control other than TAB, DEL or a C1
// control: the runes a terminal may act on instead of printing.
func IsControl(r rune) bool {
	return r < 0x20 && r != '\t' || r >= 0x7f && r <= 0x9f
}
