package app

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// browserSkips counts the browser tests skipped because Chromium is missing.
var browserSkips atomic.Int64

func TestMain(m *testing.M) {
	code := m.Run()
	if n := browserSkips.Load(); n > 0 {
		noteBrowserSkips(n, os.Stdout, openTTY())
	}
	if axeSkipped.Load() {
		noteAxeSkip(os.Stdout, openTTY())
	}
	os.Exit(code)
}

// noteBrowserSkips says in one line that the browser tests did not run. `go test ./...` shows
// a passing package's output only with -v, so the line also goes to the terminal (tty) when
// there is one: a plain run from a shell says it too.
func noteBrowserSkips(n int64, stdout io.Writer, tty io.WriteCloser) {
	line := fmt.Sprintf("note: %d browser tests skipped in ./app: chromium not found (apt-get install chromium; CI=true makes this a failure)\n", n)
	fmt.Fprint(stdout, line)
	if tty != nil {
		fmt.Fprint(tty, line)
		tty.Close()
	}
}

func openTTY() io.WriteCloser {
	f, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		return nil
	}
	return f
}

type closeBuffer struct {
	buf    []byte
	closed bool
}

func (b *closeBuffer) Write(p []byte) (int, error) { b.buf = append(b.buf, p...); return len(p), nil }
func (b *closeBuffer) Close() error                { b.closed = true; return nil }

func TestNoteBrowserSkipsReachesTheTerminal(t *testing.T) {
	var out, tty closeBuffer
	noteBrowserSkips(3, &out, &tty)
	want := "note: 3 browser tests skipped in ./app: chromium not found"
	if !strings.HasPrefix(string(out.buf), want) || string(tty.buf) != string(out.buf) || !tty.closed {
		t.Fatalf("stdout %q, tty %q (closed %v)", out.buf, tty.buf, tty.closed)
	}
	noteBrowserSkips(1, &out, nil) // no terminal (CI, IDE): stdout only
}
