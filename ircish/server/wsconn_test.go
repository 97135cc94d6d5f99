package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"ircish/internal/chattest"
)

// A line written in pieces, cut anywhere (between CR and LF, inside a
// UTF-8 character), is one message, without its CR LF; a CR inside a
// line stays.
func TestWSConnWritesALinePerMessage(t *testing.T) {
	server := make(chan *websocket.Conn, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(rw, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		server <- ws
	}))
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.WaitTimeout)
	defer cancel()
	client, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.CloseNow()
	client.SetReadLimit(1 << 20)
	c := &wsConn{ws: <-server}
	defer c.ws.CloseNow()

	long := "LIST " + strings.Repeat("é", 20000)
	lines := []string{long, "a\rb", "PONG x", "", "end"}
	all := strings.Join(lines, "\r\n") + "\r\n"
	// Cuts: inside an é, between CR and LF, after a CR inside a line.
	cuts := []int{16 << 10, 32 << 10, len(long) + 1, len(long) + 4, len(all)}
	go func() {
		from := 0
		for _, to := range cuts {
			if n, err := c.Write([]byte(all[from:to])); n != to-from || err != nil {
				t.Errorf("Write(%d bytes) = %d, %v", to-from, n, err)
				return
			}
			from = to
		}
	}()
	for _, want := range lines {
		typ, got, err := client.Read(ctx)
		if err != nil || typ != websocket.MessageText || string(got) != want {
			t.Fatalf("read %v %.40q (%d bytes), %v; want text %.40q (%d bytes)", typ, got, len(got), err, want, len(want))
		}
	}
}
