package ircish

import (
	"testing"
	"unicode/utf8"
)

func TestCheckText(t *testing.T) {
	tests := []struct {
		text string
		ok   bool
	}{
		{"", true},
		{"hello, world", true},
		{`don't "quote" me \o/ #x`, true},
		{"tab\tseparated\t", true},
		{"ünïcödé Σωκράτης 日本語", true},
		{"🎉👍🏽", true},
		{"\u00a0", true},       // NO-BREAK SPACE, the first rune after C1
		{"\ufffd", true},       // a real REPLACEMENT CHARACTER is valid text
		{"\U0010ffff", true},   // the last code point
		{"\u200b\u202e", true}, // format characters are not controls: allowed

		// C0 controls other than TAB.
		{"\x00", false},
		{"a\x00b", false},
		{"\x01", false},
		{"bell\x07", false},
		{"\x08", false},
		{"a\nb", false},
		{"a\rb", false},
		{"trailing CR\r", false},
		{"\x1b[2J", false},
		{"\x1b]0;title\x07", false},
		{"\x1f", false},
		// DEL and C1 controls.
		{"\x7f", false},
		{"\u0080", false},
		{"\u0085", false},
		{"\u009b31m", false}, // CSI, the one-byte escape
		{"\u009f", false},
		// Not UTF-8.
		{"\xff", false},
		{"\xfe\xff", false},
		{"\x80", false},             // a stray continuation byte
		{"\xc3", false},             // cut short
		{"ok \xe2\x82", false},      // cut short at the end
		{"\xc3(", false},            // bad continuation
		{"\xc0\x80", false},         // overlong NUL
		{"\xc0\xaf", false},         // overlong /
		{"\xc1\xbf", false},         // overlong DEL
		{"\xe0\x80\xaf", false},     // overlong /, three bytes
		{"\xe0\x82\x80", false},     // overlong U+0080, a C1 control
		{"\xf0\x80\x80\xaf", false}, // overlong /, four bytes
		{"\xed\xa0\x80", false},     // a UTF-16 surrogate
		{"\xf4\x90\x80\x80", false}, // beyond U+10FFFF
	}
	for _, tt := range tests {
		err := CheckText([]byte(tt.text))
		if tt.ok && err != nil {
			t.Errorf("CheckText(%q) = %v, want nil", tt.text, err)
		}
		if !tt.ok {
			if e, ok := AsError(err); !ok || e.Code != CodeBadText {
				t.Errorf("CheckText(%q) = %v, want a %s error", tt.text, err, CodeBadText)
			}
		}
	}
}

func TestIsControl(t *testing.T) {
	tests := []struct {
		r    rune
		want bool
	}{
		{0, true},
		{'\t', false},
		{'\n', true},
		{'\r', true},
		{0x1b, true},
		{0x1f, true},
		{' ', false},
		{'~', false},
		{0x7f, true},
		{0x80, true},
		{0x9f, true},
		{0xa0, false},
		{'é', false},
		{0x2028, false}, // LINE SEPARATOR is not a C0/C1 control
		{utf8.RuneError, false},
	}
	for _, tt := range tests {
		if got := IsControl(tt.r); got != tt.want {
			t.Errorf("IsControl(%U) = %v, want %v", tt.r, got, tt.want)
		}
	}
}

// TestCheckTextEveryRune checks CheckText against IsControl for every code
// point, on its own and between other text.
func TestCheckTextEveryRune(t *testing.T) {
	var buf []byte
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		buf = append(append(append(buf[:0], 'a'), string(r)...), 'z')
		err := CheckText(buf)
		if IsControl(r) != (err != nil) {
			t.Errorf("CheckText(%q) = %v, but IsControl(%U) = %v", buf, err, r, IsControl(r))
		}
	}
}

func TestIsInvisible(t *testing.T) {
	tests := []struct {
		r    rune
		want bool
	}{
		{0x202e, true},  // RIGHT-TO-LEFT OVERRIDE
		{0x2066, true},  // LEFT-TO-RIGHT ISOLATE
		{0x200e, true},  // LEFT-TO-RIGHT MARK
		{0x061c, true},  // ARABIC LETTER MARK
		{0x200b, true},  // ZERO WIDTH SPACE
		{0x200d, true},  // ZERO WIDTH JOINER
		{0x2060, true},  // WORD JOINER
		{0xfeff, true},  // ZERO WIDTH NO-BREAK SPACE
		{0x00ad, true},  // SOFT HYPHEN
		{0x3164, true},  // HANGUL FILLER, a letter
		{0xffa0, true},  // HALFWIDTH HANGUL FILLER, a letter
		{0xfe0f, true},  // VARIATION SELECTOR-16
		{0xe0041, true}, // TAG LATIN CAPITAL LETTER A
		{0xfff0, true},  // unassigned, reserved as ignorable
		{'a', false},
		{' ', false},
		{'\t', false},
		{0x3000, false},  // IDEOGRAPHIC SPACE shows as a space
		{0x2028, false},  // LINE SEPARATOR
		{0x0600, false},  // ARABIC NUMBER SIGN: a format character that shows
		{0xfff9, false},  // INTERLINEAR ANNOTATION ANCHOR
		{0x13430, false}, // EGYPTIAN HIEROGLYPH VERTICAL JOINER
		{0x1100, false},  // HANGUL CHOSEONG KIYEOK
		{'한', false},
	}
	for _, tt := range tests {
		if got := IsInvisible(tt.r); got != tt.want {
			t.Errorf("IsInvisible(%U) = %v, want %v", tt.r, got, tt.want)
		}
	}
}
