package ircish

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// nicks are candidate nicks and whether CheckNick accepts them. The fuzz
// target is seeded from them.
var nicks = []struct {
	nick string
	ok   bool
}{
	{"a", true},
	{"ada", true},
	{"Ada_Lovelace-1.0", true},
	{"_", true},
	{"-", true},
	{".", true},
	{"42", true},
	{"ÄDA", true},
	{"äda", true},
	{"ß", true},
	{"日本語", true},
	{"Σωκράτης", true},
	{"Дмитрий", true},
	{"١٢٣", true},    // Arabic-Indic digits
	{"\u212a", true}, // KELVIN SIGN is a letter
	{strings.Repeat("a", 32), true},
	{strings.Repeat("ä", 32), true}, // 32 characters, 64 bytes
	{strings.Repeat("日", 32), true},

	{"", false},
	{strings.Repeat("a", 33), false},
	{strings.Repeat("ä", 33), false},
	{"a b", false},
	{" ada", false},
	{"ada ", false},
	{"a\tb", false},
	{"\u3164", false},       // HANGUL FILLER, a letter that shows nothing
	{"ab\u3164", false},     // ... after visible ones
	{"\u115f\u1160", false}, // HANGUL CHOSEONG and JUNGSEONG FILLER
	{"\uffa0x", false},      // HALFWIDTH HANGUL FILLER
	{"a\u200bb", false},     // ZERO WIDTH SPACE
	{"\u202eada", false},    // RIGHT-TO-LEFT OVERRIDE
	{"ada\u2066", false},    // LEFT-TO-RIGHT ISOLATE
	{"a\u034fb", false},     // COMBINING GRAPHEME JOINER
	{"\u314e", true},        // HANGUL LETTER HIEUH shows
	{"a\x00", false},
	{"🎉", false},
	{"ada🎉", false},
	{"a!b", false},
	{"#chan", false},
	{"a,b", false},
	{"a@b", false},
	{"a:b", false},
	{"e\u0301", false}, // a combining mark is not a letter: é must be precomposed
	{"a\u200b", false}, // ZERO WIDTH SPACE
	{"\xff", false},
	{"ad\xc3", false},
}

func TestCheckNick(t *testing.T) {
	for _, tt := range nicks {
		err := CheckNick(tt.nick)
		if tt.ok && err != nil {
			t.Errorf("CheckNick(%q) = %v, want nil", tt.nick, err)
		}
		if !tt.ok {
			if e, ok := AsError(err); !ok || e.Code != CodeNickInvalid {
				t.Errorf("CheckNick(%q) = %v, want a %s error", tt.nick, err, CodeNickInvalid)
			}
		}
	}
}

// foldPairs are pairs of nicks and whether they collide.
var foldPairs = []struct {
	a, b    string
	collide bool
}{
	{"ada", "ada", true},
	{"ada", "ADA", true},
	{"ada", "aDa", true},
	{"ÄDA", "äda", true},
	{"\u212a", "k", true}, // KELVIN SIGN folds with K and k
	{"\u212a", "K", true},
	{"ß", "ẞ", true}, // LATIN CAPITAL LETTER SHARP S is ß's simple upper case
	{"Σ", "σ", true},
	{"Σ", "ς", true}, // final sigma too
	{"ǅ", "Ǆ", true}, // title case folds with upper and lower case
	{"ǅ", "ǆ", true},
	{"ſ", "S", true}, // LONG S
	{"Дмитрий", "ДМИТРИЙ", true},

	{"ada", "adb", false},
	{"ada", "ad", false},
	{"ada", "ada_", false},
	{"ä", "a", false},  // a diacritic is not case
	{"ß", "ss", false}, // simple folding keeps one character one character
	{"ß", "SS", false},
	{"ı", "I", false}, // dotless i and dotted İ fold with i and I only
	{"İ", "i", false}, // in Turkic case folding, which is not used
	{"ı", "i", false},
	{"e\u0301", "é", false}, // no normalization
	{"１", "1", false},       // nor width folding
}

func TestFoldNick(t *testing.T) {
	for _, tt := range foldPairs {
		fa, fb := FoldNick(tt.a), FoldNick(tt.b)
		if (fa == fb) != tt.collide {
			t.Errorf("FoldNick(%q) = %q, FoldNick(%q) = %q; want them equal: %v", tt.a, fa, tt.b, fb, tt.collide)
		}
		// The nick rules promise Unicode simple case folding, which is
		// what strings.EqualFold does.
		if eq := strings.EqualFold(tt.a, tt.b); eq != tt.collide {
			t.Errorf("strings.EqualFold(%q, %q) = %v, want %v: the table is wrong", tt.a, tt.b, eq, tt.collide)
		}
		for _, n := range []string{tt.a, tt.b} {
			if f := FoldNick(n); FoldNick(f) != f {
				t.Errorf("FoldNick(%q) = %q, but FoldNick(%q) = %q: not idempotent", n, f, f, FoldNick(f))
			}
			if f := FoldNick(n); utf8.RuneCountInString(f) != utf8.RuneCountInString(n) {
				t.Errorf("FoldNick(%q) = %q: %d characters, want %d", n, f, utf8.RuneCountInString(f), utf8.RuneCountInString(n))
			}
		}
	}
}

// TestFoldNickCase checks that every valid nick in the table collides with
// its upper- and lower-case forms, but for the Turkic dotted and dotless i,
// which Unicode simple case folding keeps apart from i and I.
func TestFoldNickCase(t *testing.T) {
	for _, tt := range nicks {
		if !tt.ok {
			continue
		}
		for _, c := range []func(string) string{strings.ToUpper, strings.ToLower, strings.ToTitle} {
			v := c(tt.nick)
			if FoldNick(v) != FoldNick(tt.nick) {
				t.Errorf("FoldNick(%q) = %q, FoldNick(%q) = %q, want them equal", v, FoldNick(v), tt.nick, FoldNick(tt.nick))
			}
		}
	}
}
