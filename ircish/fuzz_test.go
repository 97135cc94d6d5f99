package ircish

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzParseClientLine checks that any bytes either are refused as BAD_TEXT
// or parse to a well-formed message that formats to a line parsing back to
// the same message.
func FuzzParseClientLine(f *testing.F) {
	for _, tt := range clientLines {
		f.Add([]byte(tt.line))
	}
	for _, line := range badLines {
		f.Add([]byte(line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := ParseClientLine(line)
		if err != nil {
			if e, ok := AsError(err); !ok || e.Code != CodeBadText {
				t.Fatalf("ParseClientLine(%q) = %v, want nil or a %s error", line, err, CodeBadText)
			}
			if CheckText(line) == nil {
				t.Fatalf("ParseClientLine(%q) = %v, but CheckText accepts it", line, err)
			}
			return
		}
		if CheckText(line) != nil {
			t.Fatalf("ParseClientLine(%q) = %s, nil, but CheckText refuses it", line, show(m))
		}
		if strings.ContainsAny(m.Verb, "abcdefghijklmnopqrstuvwxyz") {
			t.Fatalf("ParseClientLine(%q) = %s: verb has ASCII lower case", line, show(m))
		}
		if strings.ContainsRune(m.Verb, ' ') {
			t.Fatalf("ParseClientLine(%q) = %s: verb holds a space", line, show(m))
		}
		if m.Verb == "" && len(m.Params) > 0 {
			t.Fatalf("ParseClientLine(%q) = %s: fields without a verb", line, show(m))
		}
		v, known := clientVerbs[m.Verb]
		words := v.words
		for i, p := range m.Params {
			last := i == len(m.Params)-1
			switch {
			case p == "":
				t.Fatalf("ParseClientLine(%q) = %s: field %d is empty", line, show(m), i)
			case p[0] == ' ':
				t.Fatalf("ParseClientLine(%q) = %s: field %d starts with a space", line, show(m), i)
			case (!last || words == allWords) && strings.ContainsRune(p, ' '):
				t.Fatalf("ParseClientLine(%q) = %s: word %d holds a space", line, show(m), i)
			case !strings.Contains(string(line), p):
				t.Fatalf("ParseClientLine(%q) = %s: field %d is not in the line verbatim", line, show(m), i)
			}
		}
		if known && words != allWords && len(m.Params) > words+1 {
			t.Fatalf("ParseClientLine(%q) = %s: %d fields, want at most %d", line, show(m), len(m.Params), words+1)
		}
		if !known && len(m.Params) > 1 {
			t.Fatalf("ParseClientLine(%q) = %s: unknown verb with %d fields, want at most 1", line, show(m), len(m.Params))
		}

		formatted := m.Append(nil)
		if !strings.HasSuffix(string(formatted), "\r\n") || strings.Count(string(formatted), "\n") != 1 {
			t.Fatalf("%s.Append(nil) = %q, want one line ending in CRLF", show(m), formatted)
		}
		again, err := ParseClientLine(TrimEOL(formatted))
		if err != nil || !sameMessage(again, m) {
			t.Fatalf("ParseClientLine(%q) = %s, %v, want %s, nil (it came from %q)", formatted, show(again), err, show(m), line)
		}
	})
}

// FuzzNick checks the nick rules on any two strings: CheckNick accepts only
// 1 to 32 letters, digits, _ - and .; FoldNick is idempotent, keeps the
// length in characters, and makes two nicks collide exactly when
// strings.EqualFold (Unicode simple case folding) says they are equal.
func FuzzNick(f *testing.F) {
	for _, tt := range nicks {
		f.Add(tt.nick, strings.ToUpper(tt.nick))
	}
	for _, tt := range foldPairs {
		f.Add(tt.a, tt.b)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, n := range []string{a, b} {
			checkNickRules(t, n)
		}
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			return
		}
		if collide, eq := FoldNick(a) == FoldNick(b), strings.EqualFold(a, b); collide != eq {
			t.Fatalf("FoldNick(%q) = %q, FoldNick(%q) = %q, but strings.EqualFold = %v", a, FoldNick(a), b, FoldNick(b), eq)
		}
		// Folding is rune by rune, so colliding nicks have the same length
		// and CheckNick's length rule cannot tell them apart.
		if FoldNick(a) == FoldNick(b) && utf8.RuneCountInString(a) != utf8.RuneCountInString(b) {
			t.Fatalf("FoldNick(%q) == FoldNick(%q), but their lengths differ", a, b)
		}
	})
}

// checkNickRules checks CheckNick and FoldNick on one string.
func checkNickRules(t *testing.T, n string) {
	err := CheckNick(n)
	valid := utf8.ValidString(n) && utf8.RuneCountInString(n) >= 1 && utf8.RuneCountInString(n) <= MaxNickLen
	for _, r := range n {
		valid = valid && !IsInvisible(r) && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("_-.", r))
	}
	if valid && err != nil {
		t.Fatalf("CheckNick(%q) = %v, want nil", n, err)
	}
	if !valid {
		if e, ok := AsError(err); !ok || e.Code != CodeNickInvalid {
			t.Fatalf("CheckNick(%q) = %v, want a %s error", n, err, CodeNickInvalid)
		}
	}

	fold := FoldNick(n)
	if FoldNick(fold) != fold {
		t.Fatalf("FoldNick(%q) = %q, but FoldNick(%q) = %q: not idempotent", n, fold, fold, FoldNick(fold))
	}
	if !utf8.ValidString(n) {
		return
	}
	if utf8.RuneCountInString(fold) != utf8.RuneCountInString(n) {
		t.Fatalf("FoldNick(%q) = %q: %d characters, want %d", n, fold, utf8.RuneCountInString(fold), utf8.RuneCountInString(n))
	}
	// Case variants collide, but for the Turkic dotless ı and dotted İ,
	// whose upper and lower cases are outside their simple folding orbits.
	if !strings.ContainsAny(n, "ıİ") {
		for _, c := range []func(string) string{strings.ToUpper, strings.ToLower, strings.ToTitle} {
			if v := c(n); FoldNick(v) != fold {
				t.Fatalf("FoldNick(%q) = %q, FoldNick(%q) = %q, want them equal", v, FoldNick(v), n, fold)
			}
		}
	}
	// Changing case keeps a valid nick valid, so that a rename to a case
	// variant of one's own nick is never refused as NICK_INVALID.
	if err == nil {
		for _, c := range []func(string) string{strings.ToUpper, strings.ToLower} {
			if v := c(n); CheckNick(v) != nil {
				t.Fatalf("CheckNick(%q) = nil, but CheckNick(%q) = %v", n, v, CheckNick(v))
			}
		}
	}
}
