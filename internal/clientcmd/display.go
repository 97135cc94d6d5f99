package clientcmd

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/ergochat/readline"
	"golang.org/x/term"
	"golang.org/x/text/width"

	"ircish/ircish/client"
)

// A display is where the chat is shown and lines are typed: a terminal
// with a prompt, or plain lines. Its methods are called by the chat loop
// only.
type display interface {
	// input returns the channel of typed lines, closed when input ends
	// (end of file, Ctrl-D, Ctrl-C).
	input() <-chan string
	show(ev client.Event)
	// setNicks gives the nicks Tab completes.
	setNicks(nicks []string)
	// interactive reports whether a person types: then a refused nick
	// can be replaced with /nick instead of ending the client.
	interactive() bool
	// askPassword makes the next line typed a password, behind prompt:
	// not shown, not kept in the input history, and sent to passwords
	// rather than input. It reports false if the display cannot hide
	// what is typed.
	askPassword(prompt string) bool
	passwords() <-chan string
	close()
}

// newDisplay returns the terminal display if stdin and stdout are both
// terminals, else plain lines. TERM=dumb gets plain lines with timestamps;
// NO_COLOR, the terminal display without colours. On a terminal our own
// messages are marked with a *, which output for programs does without.
func newDisplay(stdin io.Reader, stdout io.Writer) display {
	in, inOK := stdin.(*os.File)
	out, outOK := stdout.(*os.File)
	if !inOK || !outOK || !term.IsTerminal(int(in.Fd())) || !term.IsTerminal(int(out.Fd())) {
		return &plainDisplay{in: stdin, out: stdout}
	}
	plain := client.Renderer{Clock: time.Now, MarkSelf: true}
	if os.Getenv("TERM") == "dumb" {
		return &plainDisplay{in: stdin, out: stdout, r: plain, tty: true}
	}
	r := client.Renderer{Color: os.Getenv("NO_COLOR") == "", Clock: time.Now, MarkSelf: true}
	d, err := newTermDisplay(in, out, r)
	if err != nil {
		return &plainDisplay{in: stdin, out: stdout, r: plain, tty: true}
	}
	return d
}

// A plainDisplay writes rendered lines and reads whole lines, with no
// prompt and no escape codes.
type plainDisplay struct {
	in  io.Reader
	out io.Writer
	r   client.Renderer
	tty bool // a person types, on a dumb terminal
}

func (d *plainDisplay) input() <-chan string { return plainLines(d.in) }

func (d *plainDisplay) show(ev client.Event) {
	if s := d.r.Render(ev); s != "" {
		fmt.Fprintln(d.out, s)
	}
}

func (d *plainDisplay) setNicks([]string)        {}
func (d *plainDisplay) interactive() bool        { return d.tty }
func (d *plainDisplay) askPassword(string) bool  { return false }
func (d *plainDisplay) passwords() <-chan string { return nil }
func (d *plainDisplay) close()                   {}

const prompt = "> "

// A termDisplay is the terminal display, on readline: lines arriving while
// the user types appear above the prompt, which readline redraws with the
// half-typed line intact.
//
// A line the user enters is erased from the screen once entered: what is
// sent comes back from the server and is shown as everyone sees it. For
// that, a line is "submitting" from the moment Enter is read until it is
// erased; lines to show meanwhile wait in pending, because readline would
// print them below the entered line, where erasing would hit them.
type termDisplay struct {
	rl  *readline.Instance
	raw *rawMode
	out *os.File
	r   client.Renderer

	mu         sync.Mutex // guards what follows; never held while waiting for input
	submitting bool
	pending    []string
	secret     string // the prompt of a password asked for, until it is typed
	secretLine bool   // the line submitting is the password

	secrets chan string // the passwords typed

	nicksMu sync.Mutex // guards nicks, which readline's goroutine reads for Tab
	nicks   []string
}

func newTermDisplay(in, out *os.File, r client.Renderer) (*termDisplay, error) {
	raw := &rawMode{fd: int(in.Fd())}
	d := &termDisplay{out: out, r: r, raw: raw, secrets: make(chan string, 1)}
	rl, err := readline.NewFromConfig(&readline.Config{
		Prompt:         prompt,
		Stdin:          in,
		Stdout:         out,
		Stderr:         out,
		AutoComplete:   d,
		FuncIsTerminal: func() bool { return true },
		FuncMakeRaw:    raw.enter,
		FuncExitRaw:    raw.exit,
		FuncGetSize: func() (int, int) {
			w, h, err := term.GetSize(int(out.Fd()))
			if err != nil {
				return -1, -1
			}
			return w, h
		},
		FuncFilterInputRune: d.filter,
		Listener:            d.listen,
		// Lines with passwords are kept out: see input.
		DisableAutoSaveHistory: true,
	})
	if err != nil {
		return nil, err
	}
	d.rl = rl
	return d, nil
}

// rawMode puts a terminal in raw mode and back. Readline calls it from
// the input goroutine and, on close, from the chat loop's.
type rawMode struct {
	fd     int
	mu     sync.Mutex
	saved  *term.State // while raw
	closed bool
}

func (m *rawMode) enter() (err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.saved != nil || m.closed {
		return nil
	}
	m.saved, err = term.MakeRaw(m.fd)
	return err
}

// close puts the terminal back for good. Readline enters raw mode at the
// start of every ReadLine, even one begun after it is closed, and leaves
// it only when that ReadLine returns, which may be after the client has
// exited; so once closed, enter does nothing.
func (m *rawMode) close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return m.restore()
}

func (m *rawMode) exit() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.restore()
}

// restore leaves raw mode if in it. The caller holds m.mu.
func (m *rawMode) restore() error {
	if m.saved == nil {
		return nil
	}
	err := term.Restore(m.fd, m.saved)
	m.saved = nil
	return err
}

// filter sees every key before readline acts on it; Enter starts
// submitting. It runs on the input goroutine.
func (d *termDisplay) filter(r rune) (rune, bool) {
	if r == '\r' || r == '\n' {
		d.mu.Lock()
		d.submitting = true
		// A line entered before the password was asked for is not it.
		d.secretLine = d.secret != ""
		d.mu.Unlock()
	}
	return r, true
}

// listen is called by readline after each key that did not submit a line
// (Enter may pick a completion instead): the prompt is back, so anything
// pending can be shown.
func (d *termDisplay) listen(line []rune, pos int, _ rune) ([]rune, int, bool) {
	d.mu.Lock()
	d.flush()
	d.mu.Unlock()
	return line, pos, false
}

// flush shows the pending lines and ends submitting. The caller holds d.mu.
func (d *termDisplay) flush() {
	d.submitting = false
	for _, s := range d.pending {
		d.rl.Write([]byte(s))
	}
	d.pending = nil
}

func (d *termDisplay) input() <-chan string {
	ch := make(chan string)
	go func() {
		defer close(ch)
		for {
			line, err := d.rl.ReadLine()
			d.mu.Lock()
			secret := d.secretLine
			switch {
			case err != nil:
			case secret:
				d.erase(d.secret, "") // the password was not shown
				d.secret, d.secretLine = "", false
				cfg := d.rl.GetConfig()
				cfg.Prompt, cfg.EnableMask = prompt, false
				d.rl.SetConfig(cfg)
			default:
				d.erase(prompt, line)
				if !client.IsSecret(line) {
					d.rl.SaveToHistory(line)
				}
			}
			d.flush()
			d.mu.Unlock()
			if err != nil {
				return
			}
			if !secret {
				ch <- line
				continue
			}
			select {
			case d.secrets <- line:
			default: // one is waiting already
			}
		}
	}()
	return ch
}

// erase clears the rows that the prompt and the entered line take; the
// cursor is on the row below them. The caller holds d.mu.
func (d *termDisplay) erase(prompt, line string) {
	cols, _, err := term.GetSize(int(d.out.Fd()))
	if err != nil || cols < 1 {
		cols = 80
	}
	n := 0
	for _, r := range prompt + line {
		n += runeWidth(r)
	}
	rows := max(1, (n+cols-1)/cols)
	fmt.Fprintf(d.out, "\r\x1b[%dA\x1b[J", rows)
}

// runeWidth returns how many columns r takes, as readline counts them.
func runeWidth(r rune) int {
	switch {
	case r == '\t':
		return 4
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cc, unicode.Cf):
		return 0
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}

func (d *termDisplay) show(ev client.Event) {
	s := d.r.Render(ev)
	if s == "" {
		return
	}
	// The terminal may be in raw mode, where a line feed does not return
	// the carriage; and after Ctrl-C the cursor is right of a "^C".
	s = "\r" + strings.ReplaceAll(s, "\n", "\r\n") + "\r\n"
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.submitting {
		d.pending = append(d.pending, s)
		return
	}
	d.rl.Write([]byte(s))
}

func (d *termDisplay) setNicks(nicks []string) {
	d.nicksMu.Lock()
	d.nicks = nicks
	d.nicksMu.Unlock()
}

// Do is readline's Tab completion.
func (d *termDisplay) Do(line []rune, pos int) ([][]rune, int) {
	d.nicksMu.Lock()
	nicks := d.nicks
	d.nicksMu.Unlock()
	suffixes, n := client.Complete(string(line[:pos]), nicks)
	out := make([][]rune, len(suffixes))
	for i, s := range suffixes {
		out[i] = []rune(s)
	}
	return out, n
}

func (d *termDisplay) interactive() bool { return true }

// askPassword switches the prompt to prompt, with what is typed hidden,
// for the next line entered. (The server asks right after the client
// connects, or after a /nick was entered, so the line is empty; readline
// offers no safe way to clear one half typed meanwhile, which would
// become the start of the password.)
func (d *termDisplay) askPassword(prompt string) bool {
	d.mu.Lock()
	d.secret = prompt
	d.mu.Unlock()
	cfg := d.rl.GetConfig()
	cfg.Prompt, cfg.EnableMask, cfg.MaskRune = prompt, true, 0
	d.rl.SetConfig(cfg)
	d.rl.Refresh()
	return true
}

func (d *termDisplay) passwords() <-chan string { return d.secrets }

// close puts the terminal back as it was, clearing the prompt line.
func (d *termDisplay) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rl.Close()
	d.raw.close()
	fmt.Fprint(d.out, "\r\x1b[K")
}

// plainLines reads lines from r and sends them to a new channel, without
// their line ends, closing it at the end of r.
func plainLines(r io.Reader) <-chan string {
	ch := make(chan string)
	go func() {
		defer close(ch)
		br := bufio.NewReader(r)
		for {
			line, err := br.ReadString('\n')
			line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
			if line != "" || err == nil {
				ch <- line
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}
