package client

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// Complete returns what Tab may add after before, the text left of the
// cursor: the rest of a command name after "/", of a nick after /whisper
// (or /w, /msg), or of a nick at the start of a line, followed by ": " to
// address that user. Nicks match ignoring case. The suffixes are sorted;
// n is the length, in runes, of the word they complete.
func Complete(before string, nicks []string) (suffixes []string, n int) {
	var words []string
	var after string
	if cmd, ok := strings.CutPrefix(before, "/"); ok && !strings.Contains(cmd, " ") {
		for _, c := range commands {
			for _, n := range c.names {
				words = append(words, "/"+n)
			}
		}
		after = " "
	} else if head, arg, ok := strings.Cut(before, " "); ok && !strings.Contains(arg, " ") && takesNick(head) {
		before, words, after = arg, nicks, " "
	} else if before != "" && !strings.ContainsAny(before, " /") {
		words, after = nicks, ": "
	}
	for _, w := range words {
		if hasPrefixFold(w, before) {
			suffixes = append(suffixes, w[len(prefixOf(w, before)):]+after)
		}
	}
	slices.Sort(suffixes)
	return suffixes, utf8.RuneCountInString(before)
}

// takesNick reports whether the command typed as head, "/w" say, takes a
// nick as its first argument.
func takesNick(head string) bool {
	name, ok := strings.CutPrefix(head, "/")
	c, known := lookup(name)
	return ok && known && c.nickFirst
}

// hasPrefixFold reports whether w starts with prefix, ignoring case.
func hasPrefixFold(w, prefix string) bool {
	return prefixOf(w, prefix) != "" || prefix == ""
}

// prefixOf returns the start of w that equals prefix ignoring case, rune
// by rune, or "" if there is none.
func prefixOf(w, prefix string) string {
	i := 0
	for _, r := range prefix {
		if i >= len(w) {
			return ""
		}
		wr, size := utf8.DecodeRuneInString(w[i:])
		if !strings.EqualFold(string(wr), string(r)) {
			return ""
		}
		i += size
	}
	return w[:i]
}
