package store

import (
	"bytes"
	"encoding/json"
	"time"

	"ircish/ircish/room"
)

// A chunkEntry is one message of a chunk; its JSON is the file's format.
type chunkEntry struct {
	Seq  int64  `json:"seq"`
	At   int64  `json:"at"` // Unix nanoseconds: HISTORY's milliseconds come back the same
	From string `json:"from"`
	Text string `json:"text"`
}

// encodeChunk returns es as a chunk's data, written into b.
func encodeChunk(b *bytes.Buffer, es []room.Entry) ([]byte, error) {
	b.Reset()
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	ces := make([]chunkEntry, len(es))
	for i, e := range es {
		ces[i] = chunkEntry{Seq: e.Seq, At: e.At.UnixNano(), From: e.From, Text: e.Text}
	}
	if err := enc.Encode(ces); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// decodeChunk appends the messages of a chunk's data to es.
func decodeChunk(data []byte, es []room.Entry) ([]room.Entry, error) {
	var ces []chunkEntry
	if err := json.Unmarshal(data, &ces); err != nil {
		return es, err
	}
	for _, c := range ces {
		es = append(es, room.Entry{Seq: c.Seq, At: time.Unix(0, c.At).UTC(), From: c.From, Text: c.Text})
	}
	return es, nil
}
