package ircish

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNickLen is the longest nick, in characters.
const MaxNickLen = 32

// CheckNick returns a NICK_INVALID error unless nick is 1 to MaxNickLen
// characters, each a Unicode letter or digit or one of _ - ., and none of
// them invisible (IsInvisible): so every character of a nick shows, and a
// nick cannot pass for another or for nothing. The only invisible letters
// are the Hangul fillers.
func CheckNick(nick string) error {
	n := utf8.RuneCountInString(nick)
	if n == 0 || n > MaxNickLen {
		return NewError(CodeNickInvalid, "a nick is 1 to 32 letters, digits, _ - or .")
	}
	for _, r := range nick {
		if IsInvisible(r) {
			return NewError(CodeNickInvalid, "a nick must not hold invisible characters")
		}
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("_-.", r) {
			return NewError(CodeNickInvalid, "a nick is one word of letters, digits, _ - or .")
		}
	}
	return nil
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
