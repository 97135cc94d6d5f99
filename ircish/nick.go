package ircish

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNickLen is the longest nick, in characters.
const MaxNickLen = 32

// CheckNick returns a NICK_INVALID error unless nick is 1 to MaxNickLen
// characters, each a Unicode letter or digit or one of _ - . and none of
// them invisible.
func CheckNick(nick string) error {
	n := utf8.RuneCountInString(nick)
	if n == 0 || n > MaxNickLen {
		return errorf(CodeNickInvalid, "a nick is 1 to 32 letters, digits, _ - or .")
	}
	for _, r := range nick {
		if IsInvisible(r) {
			return errorf(CodeNickInvalid, "a nick has no invisible characters")
		}
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("_-.", r) {
			return errorf(CodeNickInvalid, "a nick is one word of letters, digits, _ - or .")
		}
	}
	return nil
}

// IsInvisible reports whether r shows nothing, or changes how the text
// around it shows, and so could disguise a nick or a line: the
// direction controls (bidi overrides, embeddings, isolates and marks),
// zero-width spaces, and the letters and marks that are ignorable by
// default (the Hangul fillers among them). The zero-width joiners U+200C
// and U+200D are not: scripts and emoji need them.
func IsInvisible(r rune) bool {
	return unicode.Is(unicode.Bidi_Control, r) ||
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) ||
		r == '\u200b' || r == '\u180e' || r == '\ufeff' || '\u2060' <= r && r <= '\u2064'
}

// FoldNick returns the key under which nick is unique: two nicks collide
// when they are equal under Unicode simple case folding, as ÄDA and äda do.
func FoldNick(nick string) string {
	return strings.Map(foldRune, nick)
}

// foldRune maps r to the smallest rune of its case-folding orbit, so that
// all case variants of a letter map to the same rune.
func foldRune(r rune) rune {
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	return least
}
