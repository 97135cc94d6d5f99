package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"ircish/internal/chattest"
)

// chromium returns the path of a Chromium or Chrome, or "".
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// A pageWatch collects what a page does that it must not: exceptions,
// console errors, dialogs, and requests to anywhere but its server.
type pageWatch struct {
	mu       sync.Mutex
	origin   string // http://host:port
	problems []string
	requests int
}

func (w *pageWatch) add(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.problems = append(w.problems, fmt.Sprintf(format, args...))
}

func (w *pageWatch) seen() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.problems...)
}

// listen is a chromedp listener: it runs on the tab's reading goroutine,
// so it only records, and closes dialogs from another goroutine.
func (w *pageWatch) listen(ctx *context.Context) func(ev any) {
	ws := "ws" + strings.TrimPrefix(w.origin, "http")
	return func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			desc := d.Text
			if d.Exception != nil {
				desc += " " + d.Exception.Description
			}
			w.add("exception: %s (%s:%d)", desc, d.URL, d.LineNumber+1)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				w.add("console.%s: %s", ev.Type, strings.Join(args, " "))
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				w.add("log: %s %s", ev.Entry.Text, ev.Entry.URL)
			}
		case *page.EventJavascriptDialogOpening:
			w.add("dialog %s: %q", ev.Type, ev.Message)
			go chromedp.Call(*ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{})
		case *network.EventRequestWillBeSent:
			w.mu.Lock()
			w.requests++
			w.mu.Unlock()
			u := ev.Request.URL
			if u != w.origin && !strings.HasPrefix(u, w.origin+"/") && !strings.HasPrefix(u, ws+"/") {
				w.add("request to another site: %s", u)
			}
		case *network.EventWebSocketCreated:
			if !strings.HasPrefix(ev.URL, ws+"/") {
				w.add("websocket to another site: %s", ev.URL)
			}
		}
	}
}

// waitPage polls the JavaScript boolean expression cond until it holds,
// and fails the test after chattest.WaitTimeout saying what it awaited
// and what the page showed.
func waitPage(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(chattest.WaitTimeout)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			shown, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id + " focused; status: " + document.getElementById("status").textContent + "\nlog:\n" + document.getElementById("log").innerText.slice(-1500)`))
			t.Fatalf("waited %v for %s (%s): err %v; the page: %s", chattest.WaitTimeout, what, cond, err, shown)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logHas is a condition: the page's log shows text.
func logHas(text string) string {
	return fmt.Sprintf("document.getElementById('log').textContent.includes(%q)", text)
}

// openPage opens watch.origin's page in a headless exe at 390 × 800, and
// returns the context of its tab, which ends with the test.
func openPage(t *testing.T, exe string, watch *pageWatch) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.WindowSize(390, 800),
		chromedp.Flag("headless", true),
		chromedp.DisableGPU,
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	tctx, cancelTime := context.WithTimeout(actx, 90*time.Second) // the whole browser
	t.Cleanup(cancelTime)
	var ctx context.Context
	ctx, cancel := chromedp.NewContext(tctx, chromedp.WithListener(watch.listen(&ctx)))
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
	if err == nil {
		_, err = chromedp.Call(ctx, log.Enable, cdp.Empty{})
	}
	if err == nil {
		err = chromedp.Do(ctx, chromedp.EmulateViewport(390, 800), chromedp.Navigate(watch.origin+"/"))
	}
	if err != nil {
		t.Fatalf("opening the page in %s: %v", exe, err)
	}
	return ctx
}

// The web client in headless Chromium on a phone-sized screen, beside a
// TCP client in the same room: it joins with a nick and Enter, shows
// earlier messages and who is here, says what is typed, shows markup as
// text, shows whispers, does not scroll sideways, and rejoins by itself
// after the server restarts; all without a JavaScript error or a request
// to another site.
func TestBrowser(t *testing.T) {
	exe := chromium()
	if exe == "" {
		t.Skip("no Chromium or Chrome found: skipping the browser test")
	}
	l := chattest.Listen(t)
	addr := l.Addr().String()
	first := &Server{Log: slog.New(slog.DiscardHandler)}
	served := make(chan error, 1)
	go func() { served <- first.Serve(l) }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			first.Shutdown(context.Background())
		}
	})

	bob := chattest.Register(t, addr, "bob")
	bob.Send("MSG said before ann came")
	bob.Expect("^MSG bob said before ann came$")

	watch := &pageWatch{origin: "http://" + addr}
	ctx := openPage(t, exe, watch)
	type_ := func(text string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.KeyEvent(text)); err != nil {
			t.Fatalf("typing %q: %v", text, err)
		}
	}

	// Join: the nick field has the focus on load; a nick and Enter.
	waitPage(t, ctx, "the nick field to have the focus", `document.activeElement.id === "nick"`)
	waitPage(t, ctx, "no password field until a nick asks for one", `getComputedStyle(document.getElementById("pw-row")).display === "none"`)
	type_("ann" + kb.Enter)
	bob.Expect("^JOINED ann$")
	waitPage(t, ctx, "the earlier message", logHas("said before ann came"))
	waitPage(t, ctx, "bob among the people here", `[...document.querySelectorAll("#people button")].some(b => b.textContent === "bob")`)
	waitPage(t, ctx, "the message field to have the focus", `document.activeElement.id === "text"`)

	// Say a line.
	type_("hello from the web" + kb.Enter)
	bob.Expect("^MSG ann hello from the web$")
	waitPage(t, ctx, "our own line, marked", `[...document.querySelectorAll("#log li.self")].some(li => li.textContent.includes("hello from the web"))`)

	// Up recalls the last line; a click on a name starts a whisper.
	type_(kb.ArrowUp)
	waitPage(t, ctx, "Up to recall the last line", `document.getElementById("text").value === "hello from the web"`)
	waitPage(t, ctx, "a click on bob to start a whisper", `[...document.querySelectorAll("#people button")].find(b => b.textContent === "bob").click(),
		document.getElementById("text").value === "/w bob "`)
	waitPage(t, ctx, "the message field emptied", `(document.getElementById("text").value = "") === ""`)

	// Markup from the network is text; hidden characters show as codes.
	evil := `<img src=x onerror=alert(1)><b>bold</b>`
	bob.Send("MSG " + evil)
	waitPage(t, ctx, "the markup as text", logHas(evil))
	waitPage(t, ctx, "no element made of the markup", `document.querySelectorAll("#log img, #log b, img, b").length === 0`)
	bob.Send("MSG abc\u202edef")
	waitPage(t, ctx, "U+202E shown as its code", logHas("abc<U+202E>def"))

	// A whisper, and a mention.
	bob.Send("WHISPER ann psst")
	waitPage(t, ctx, "the whisper", `[...document.querySelectorAll("#log li.whisper")].some(li => li.textContent.includes("[bob → you] psst"))`)
	bob.Send("MSG ann: look")
	waitPage(t, ctx, "the mention highlighted", `[...document.querySelectorAll("#log li.mention")].some(li => li.textContent.includes("ann: look"))`)

	waitPage(t, ctx, "no sideways scroll at 390 px", `document.documentElement.scrollWidth <= 390`)

	// The server restarts on its port: the page rejoins by itself.
	sctx, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	stopped = true
	if err := first.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v, want %v", err, ErrServerClosed)
	}
	waitPage(t, ctx, "the page to see the connection end", logHas("connection lost"))
	l2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening again on %s: %v", addr, err)
	}
	startServerOn(t, &Server{}, l2)
	waitPage(t, ctx, "the page to rejoin", logHas("reconnected as ann"))
	carol := chattest.Register(t, addr, "carol")
	carol.Send("MSG after the restart")
	carol.Expect("^MSG carol after the restart$")
	waitPage(t, ctx, "a message after the restart", logHas("after the restart"))

	if p := watch.seen(); len(p) > 0 {
		t.Errorf("the page did what it must not:\n%s", strings.Join(p, "\n"))
	}
	watch.mu.Lock()
	requests := watch.requests
	watch.mu.Unlock()
	if requests == 0 {
		t.Errorf("saw no request: the network listener is broken")
	}
}

// A registered nick: the page asks for its password, and joins with it.
func TestBrowserPassword(t *testing.T) {
	exe := chromium()
	if exe == "" {
		t.Skip("no Chromium or Chrome found: skipping the browser test")
	}
	addr := startServer(t, &Server{})
	dee := chattest.Register(t, addr, "dee")
	dee.Send("REGISTER hunter22")
	dee.Expect("^REGISTERED ")
	dee.Send("QUIT")
	dee.Closed()
	bob := chattest.Register(t, addr, "bob")

	watch := &pageWatch{origin: "http://" + addr}
	ctx := openPage(t, exe, watch)
	keys := func(text string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.KeyEvent(text)); err != nil {
			t.Fatalf("typing %q: %v", text, err)
		}
	}
	waitPage(t, ctx, "the nick field to have the focus", `document.activeElement.id === "nick"`)
	keys("dee" + kb.Enter)
	waitPage(t, ctx, "the password field, with the focus", `getComputedStyle(document.getElementById("pw-row")).display !== "none" && document.activeElement.id === "password"`)
	keys("hunter22" + kb.Enter)
	bob.Expect("^JOINED dee$")
	waitPage(t, ctx, "the message field to have the focus", `document.activeElement.id === "text"`)
	if p := watch.seen(); len(p) > 0 {
		t.Errorf("the page did what it must not:\n%s", strings.Join(p, "\n"))
	}
}
