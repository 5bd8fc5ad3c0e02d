package app

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

// technifoldBinary builds the real binary (pure Go, as shipped) into dir.
func technifoldBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "technifold")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// binaryEnv is a clean environment for the binary: nothing of the test process's leaks in.
func binaryEnv(dir string, vars map[string]string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "LOG_FORMAT=text"}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// runBinary runs one command to its end (bounded) and returns exit code, stdout and stderr.
func runBinary(t *testing.T, bin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Stdin = env, &stdout, &stderr, strings.NewReader("")
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee) && ctx.Err() == nil:
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("%v: %v\nstdout: %s\nstderr: %s", args, err, stdout.String(), stderr.String())
	return -1, "", ""
}

// TestBinaryCommands runs migrate, demo, outbox and serve as a person would: the binary built
// once, a fresh database file, a loopback port.
func TestBinaryCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := technifoldBinary(t, dir)
	dbPath := filepath.Join(dir, "data", "technifold.db")
	env := binaryEnv(dir, map[string]string{"DATABASE_PATH": dbPath})
	ctx := context.Background()

	t.Run("migrate", func(t *testing.T) {
		code, out, errOut := runBinary(t, bin, env, "migrate")
		if code != 0 || !strings.Contains(out, "database "+dbPath+" is up to date") {
			t.Fatalf("migrate: exit %d\n%s%s", code, out, errOut)
		}
		db := openTestDBAt(t, dbPath)
		applied, err := db.AppliedMigrations(ctx)
		if err != nil || len(applied) == 0 || !strings.Contains(out, fmt.Sprintf("%d migrations applied", len(applied))) {
			t.Fatalf("applied %v %v; output %s", applied, err, out)
		}
		if pending, err := db.PendingMigrations(ctx); err != nil || len(pending) != 0 {
			t.Fatalf("pending after migrate: %v %v", pending, err)
		}
		db.Close()
		// Again: nothing to do, same answer.
		if code, again, _ := runBinary(t, bin, env, "migrate"); code != 0 || again != out {
			t.Fatalf("second migrate: exit %d %q, want %q", code, again, out)
		}
		bad := binaryEnv(dir, map[string]string{"DATABASE_PATH": dbPath})
		if code, _, errOut := runBinary(t, bin, bad, "migrate", "--no-such-flag"); code != 2 || !strings.Contains(errOut, "no-such-flag") {
			t.Fatalf("unknown flag: exit %d %s", code, errOut)
		}
	})

	t.Run("demo", func(t *testing.T) {
		code, out, errOut := runBinary(t, bin, env, "demo")
		m := regexp.MustCompile(`(\d+) products, (\d+) companies, (\d+) contacts, (\d+) sales lines`).FindStringSubmatch(out)
		if code != 0 || m == nil || m[2] == "0" {
			t.Fatalf("demo: exit %d\n%s%s", code, out, errOut)
		}
		db := openTestDBAt(t, dbPath)
		counts, err := db.CountRows(ctx)
		db.Close()
		if err != nil || fmt.Sprint(counts["companies"]) != m[2] || fmt.Sprint(counts["products"]) != m[1] {
			t.Fatalf("database holds %v, the command said %s", counts, m[0])
		}
		code, out, _ = runBinary(t, bin, env, "demo")
		if code != 0 || !strings.Contains(out, "(0 rows changed)") {
			t.Fatalf("second demo: exit %d %s", code, out)
		}
		db = openTestDBAt(t, dbPath)
		again, _ := db.CountRows(ctx)
		db.Close()
		for k, v := range counts {
			if again[k] != v {
				t.Fatalf("second demo changed %s: %d → %d", k, v, again[k])
			}
		}
	})

	t.Run("outbox", func(t *testing.T) {
		db := openTestDBAt(t, dbPath)
		var syncID, cancelID int64
		if err := db.Update(ctx, func(tx *store.Tx) error {
			var err error
			if syncID, _, err = tx.Enqueue(ctx, store.NewJob{Type: store.JobZohoSyncOrder, Payload: store.ZohoSyncOrderArgs{OrderID: "ORD-X"},
				DedupeKey: "cli-test-sync"}); err != nil {
				return err
			}
			cancelID, _, err = tx.Enqueue(ctx, store.NewJob{Type: store.JobZohoSyncOrder, Payload: store.ZohoSyncOrderArgs{OrderID: "ORD-Y"},
				DedupeKey: "cli-test-cancel", RunAt: tx.Now().Add(time.Hour)})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		db.Close()
		code, out, errOut := runBinary(t, bin, env, "outbox", "list", "--status", "pending")
		if code != 0 || !strings.Contains(out, fmt.Sprintf("%d  ", syncID)) || !strings.Contains(out, fmt.Sprintf("%d  ", cancelID)) {
			t.Fatalf("outbox list: exit %d\n%s%s", code, out, errOut)
		}
		if code, out, errOut := runBinary(t, bin, env, "outbox", "cancel", fmt.Sprint(cancelID)); code != 0 || !strings.Contains(out, fmt.Sprintf("job %d cancelled", cancelID)) {
			t.Fatalf("outbox cancel: exit %d %s %s", code, out, errOut)
		}
		// Zoho Books is not configured: the due job runs and fails, naming what to set.
		code, out, errOut = runBinary(t, bin, env, "outbox", "run", "--max", "20s")
		if code != 0 || !strings.Contains(out, "processed 1 jobs, 1 failed") {
			t.Fatalf("outbox run: exit %d\n%s%s", code, out, errOut)
		}
		db = openTestDBAt(t, dbPath)
		jobs, err := db.ListJobs(ctx, store.JobFilter{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		status := map[int64]store.Job{}
		for _, j := range jobs {
			status[j.ID] = j
		}
		if j := status[syncID]; j.Status != store.JobFailed || j.Attempts != 1 || !strings.Contains(j.LastError, "ZOHO_") {
			t.Fatalf("the run job: %+v", j)
		}
		if j := status[cancelID]; j.Status != store.JobCancelled || j.Attempts != 0 {
			t.Fatalf("the cancelled job: %+v", j)
		}
		db.Close()
		if code, out, errOut := runBinary(t, bin, env, "outbox", "retry", fmt.Sprint(syncID)); code != 0 || !strings.Contains(out, "queued for retry") {
			t.Fatalf("outbox retry: exit %d %s %s", code, out, errOut)
		}
		if code, out, _ := runBinary(t, bin, env, "outbox", "list", "--status", "failed"); code != 0 || strings.TrimSpace(out) != "no jobs" {
			t.Fatalf("failed jobs after retry: %s", out)
		}
		for _, args := range [][]string{{"outbox", "retry", "x"}, {"outbox", "frob"}, {"outbox", "cancel", "99999"}} {
			if code, _, errOut := runBinary(t, bin, env, args...); code == 0 || errOut == "" {
				t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
			}
		}
	})

	t.Run("serve", func(t *testing.T) {
		port := freeLoopbackPort(t)
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		serveDB := filepath.Join(dir, "serve", "technifold.db")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "serve", "--demo")
		cmd.Env = binaryEnv(dir, map[string]string{"DATABASE_PATH": serveDB, "ADDR": fmt.Sprintf("127.0.0.1:%d", port), "BASE_URL": base})
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr syncBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		lines := make(chan string, 64)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
			exited <- cmd.Wait()
		}()
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		var password string
		for running := false; !running; {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("serve exited before listening\n%s", stderr.String())
				}
				if m := regexp.MustCompile(`as admin@demo\.local with password (\S+)`).FindStringSubmatch(l); m != nil {
					password = m[1]
				}
				running = strings.Contains(l, "technifold is running on http://127.0.0.1:")
			case <-ctx.Done():
				t.Fatalf("serve did not start\n%s", stderr.String())
			}
		}
		go func() {
			for range lines {
			}
		}()
		client := &http.Client{Timeout: 10 * time.Second}
		for _, p := range []string{"/healthz", "/readyz"} {
			resp, err := client.Get(base + p)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
			}
		}
		if password == "" {
			t.Fatal("serve --demo printed no demo admin password")
		}
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Timeout: 10 * time.Second, Jar: jar,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequest(http.MethodPost, base+"/admin/login", strings.NewReader(url.Values{
			"email": {"admin@demo.local"}, "password": {password}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", base)
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("demo admin sign-in: %d", resp.StatusCode)
		}
		resp, err = browser.Get(base + "/admin/companies")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(page, []byte("/admin/companies/")) {
			t.Fatalf("companies page of the demo: %d", resp.StatusCode)
		}

		// SIGTERM: a graceful stop, exit 0, the database closed cleanly.
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("serve exited with %v\n%s", err, stderr.String())
			}
		case <-ctx.Done():
			t.Fatalf("serve did not stop after SIGTERM\n%s", stderr.String())
		}
		if !strings.Contains(stderr.String(), "stopped") {
			t.Fatalf("no orderly shutdown in the log:\n%s", stderr.String())
		}
		if _, err := client.Get(base + "/healthz"); err == nil {
			t.Fatal("the port still answers after serve exited")
		}
		if n := countCompanies(t, serveDB); n == 0 {
			t.Fatal("serve --demo left no demo data")
		}
	})
}
