package server

import (
	"context"
	"ircish/internal/chattest"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

// A panic while the server handles a client's line ends that client only:
// it gets BYE, everyone else its LEFT, its nick is free again, and the log
// has the panic with its value and stack.
func TestPanicIsRecovered(t *testing.T) {
	var log chattest.LogBuffer
	s := &Server{FloodRate: -1, Log: slog.New(panicHandler{slog.NewTextHandler(&log, nil)})}
	addr := startServer(t, s)
	cid := chattest.Register(t, addr, "cid")
	ann := chattest.Register(t, addr, "ann")

	cid.Send("MSG PANIC-TEST")
	cid.Expect("^MSG cid PANIC-TEST$")
	cid.Expect("^BYE internal error$")
	cid.Closed()
	ann.Expect("^MSG cid PANIC-TEST$")
	ann.Expect("^LEFT cid internal error$")

	again := chattest.Register(t, addr, "cid")
	again.Send("MSG back")
	ann.Expect("^MSG cid back$")
	for _, want := range []string{
		`level=ERROR msg=panic remote=127\.0\.0\.1:\d+ nick=cid panic="PANIC-TEST: the test asked for a panic" stack="goroutine \d+ .*\\n`,
		`msg="client disconnected" remote=127\.0\.0\.1:\d+ nick=cid cause="internal error"`,
	} {
		if !regexp.MustCompile(want).MatchString(log.String()) {
			t.Errorf("the log has no line matching %s:\n%s", want, log.String())
		}
	}
}

// panicHandler is a slog.Handler that panics on a "message" record whose
// text holds PANIC-TEST: the server logs each message as it handles it.
type panicHandler struct{ slog.Handler }

func (h panicHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "message" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "text" && strings.Contains(a.Value.String(), "PANIC-TEST") {
				panic("PANIC-TEST: the test asked for a panic")
			}
			return true
		})
	}
	return h.Handler.Handle(ctx, r)
}
