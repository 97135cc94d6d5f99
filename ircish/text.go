package ircish

import (
	"unicode"
	"unicode/utf8"
)

var errBadText = NewError(CodeBadText, "text must be UTF-8 without control characters")

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

// IsInvisible reports whether r is a default-ignorable code point
// (Unicode's Default_Ignorable_Code_Point): a character that shows nothing
// by itself, as bidi controls (U+202E), zero-width spaces and joiners
// (U+200B, U+200D), the byte order mark, tag characters, variation
// selectors and the Hangul fillers (U+3164) do. Such characters can make a
// nick look like another or like nothing, and reorder or hide text.
//
// Package unicode has no table of the property, so it is derived from the
// tables it has, as Unicode's DerivedCoreProperties.txt derives it.
func IsInvisible(r rune) bool {
	switch {
	// Format characters that show, and white space, are not ignorable.
	case unicode.In(r, unicode.White_Space, unicode.Prepended_Concatenation_Mark),
		r >= 0xfff9 && r <= 0xfffb,   // interlinear annotation controls
		r >= 0x13430 && r <= 0x1343f: // Egyptian hieroglyph format controls
		return false
	}
	return unicode.In(r, unicode.Cf, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point)
}
