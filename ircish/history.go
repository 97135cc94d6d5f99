package ircish

import (
	"strconv"
	"strings"
	"time"
	"unicode"
)

// DefaultHistoryCount is how many messages HISTORY sends when the client
// does not say.
const DefaultHistoryCount = 50

// Words of HISTORY lines.
const (
	HistoryAfter  = "AFTER"  // HISTORY AFTER <seq> [<count>]
	HistoryLive   = "LIVE"   // HISTORY LIVE: MSG lines come as HISTORY lines
	HistoryGap    = "GAP"    // HISTORY GAP <seq>: messages before seq are gone
	HistoryEnd    = "END"    // HISTORY END <n>: the end of a reply
	HistorySearch = "SEARCH" // HISTORY SEARCH <word>...: the messages that hold every word
)

// HistorySearchMax is how many messages a HISTORY SEARCH gives at most:
// the newest that match.
const HistorySearchMax = 100

// SearchMaxWords is how many words a HISTORY SEARCH may hold: each costs
// the index a lookup, which one stranger's searches must not multiply.
const SearchMaxWords = 16

// SearchWords returns the words of a HISTORY SEARCH: the runs of s between
// white space that hold at least one letter or digit (Unicode L*, N*, and
// Co, as the store's tokenizer counts them). nil: no word to search for.
// Anything else in a word, quotes and stars included, is no operator: it
// only separates the word's parts.
func SearchWords(s string) []string {
	var words []string
	for _, w := range strings.Fields(s) {
		if strings.IndexFunc(w, isWordRune) >= 0 {
			words = append(words, w)
		}
	}
	return words
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Co, r)
}

// HistoryTime is the layout of a HISTORY line's time: RFC 3339, UTC, with
// milliseconds.
const HistoryTime = "2006-01-02T15:04:05.000Z"

// AppendHistory appends to b the HISTORY line of a room message: its seq,
// when it was said, who said it and its text.
func AppendHistory(b []byte, seq int64, at time.Time, from, text string) []byte {
	b = append(b, History+" "...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, ' ')
	b = at.UTC().AppendFormat(b, HistoryTime)
	b = append(b, ' ')
	b = append(b, from...)
	b = append(b, ' ')
	b = append(b, text...)
	return append(b, '\r', '\n')
}
