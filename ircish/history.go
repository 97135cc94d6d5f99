package ircish

import (
	"strconv"
	"time"
)

// DefaultHistoryCount is how many messages HISTORY sends when the client
// does not say.
const DefaultHistoryCount = 50

// Words of HISTORY lines.
const (
	HistoryAfter = "AFTER" // HISTORY AFTER <seq> [<count>]
	HistoryLive  = "LIVE"  // HISTORY LIVE: MSG lines come as HISTORY lines
	HistoryGap   = "GAP"   // HISTORY GAP <seq>: messages before seq are gone
	HistoryEnd   = "END"   // HISTORY END <n>: the end of a reply
)

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
