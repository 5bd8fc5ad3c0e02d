package app

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// stripeMockVersion is the stripe-mock built when none is installed.
const stripeMockVersion = "v0.203.0"

var stripeMockBuild struct {
	once sync.Once
	path string
	err  error
}

// stripeMockBinary finds stripe-mock on PATH or in $(go env GOPATH)/bin, else installs it
// through the Go module proxy (once per test binary).
func stripeMockBinary(t testing.TB) string {
	t.Helper()
	stripeMockBuild.once.Do(func() {
		if p, err := exec.LookPath("stripe-mock"); err == nil {
			stripeMockBuild.path = p
			return
		}
		gopath, err := exec.Command("go", "env", "GOPATH").Output()
		if err != nil {
			stripeMockBuild.err = err
			return
		}
		bin := filepath.Join(strings.TrimSpace(strings.Split(string(gopath), string(os.PathListSeparator))[0]), "bin", "stripe-mock")
		if _, err := os.Stat(bin); err == nil {
			stripeMockBuild.path = bin
			return
		}
		cmd := exec.Command("go", "install", "github.com/stripe/stripe-mock@"+stripeMockVersion)
		cmd.Env = append(os.Environ(), "GOFLAGS=", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			stripeMockBuild.err = &exec.Error{Name: "go install stripe-mock: " + string(out), Err: err}
			return
		}
		stripeMockBuild.path = bin
	})
	if stripeMockBuild.err != nil {
		t.Fatalf("stripe-mock is not available: %v", stripeMockBuild.err)
	}
	return stripeMockBuild.path
}

// startStripeMock runs stripe-mock on a free loopback port until the test ends and returns
// its base URL (for STRIPE_API_BASE).
func startStripeMock(t testing.TB) string {
	t.Helper()
	bin := stripeMockBinary(t)
	for attempt := 0; ; attempt++ {
		port := freeLoopbackPort(t)
		url, ok := runStripeMock(t, bin, port)
		if ok {
			return url
		}
		if attempt == 2 {
			t.Fatal("stripe-mock did not start")
		}
	}
}

func freeLoopbackPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// runStripeMock starts one stripe-mock and waits for its "Listening for HTTP" line.
func runStripeMock(t testing.TB, bin string, port int) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-http-port", strconv.Itoa(port))
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start stripe-mock: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		pw.Close()
		close(exited)
	}()
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		signalled := false
		for sc.Scan() {
			if !signalled && strings.Contains(sc.Text(), "Listening for HTTP") {
				ready <- true
				signalled = true
			}
		}
		if !signalled {
			ready <- false
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	stop := func() {
		cancel()
		<-exited
	}
	select {
	case ok := <-ready:
		if !ok {
			stop()
			return "", false
		}
	case <-time.After(30 * time.Second):
		stop()
		return "", false
	}
	t.Cleanup(stop)
	return "http://127.0.0.1:" + strconv.Itoa(port), true
}
