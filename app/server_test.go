package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/technifold/technifold/app/offertoken"
	"github.com/technifold/technifold/store"
)

// testConfig is a configuration with every optional feature off and the database in a temp dir.
func testConfig(t testing.TB) *Config {
	t.Helper()
	cfg, err := LoadConfig(func(k string) string {
		if k == "DATABASE_PATH" {
			return filepath.Join(t.TempDir(), "data", "technifold.db")
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServe runs Serve on a loopback port and returns its base URL, its log and a stop func
// that waits for the shutdown to finish.
func startServe(t *testing.T, cfg *Config, demo bool) (string, *syncBuffer, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, cfg, ServeOptions{Demo: demo, Listener: ln, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
			Ready: func(addr string) { ready <- addr }})
	}()
	select {
	case addr := <-ready:
		stopped := false
		stop := func() {
			if stopped {
				return
			}
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve returned %v", err)
			}
		}
		t.Cleanup(stop)
		return "http://" + addr, logs, stop
	case err := <-done:
		cancel()
		t.Fatalf("serve failed: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	return "", nil, nil
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v: %s", url, err, body)
		}
	}
	return resp.StatusCode
}

func TestServeWithNoConfigurationStartsAndSaysWhatIsOff(t *testing.T) {
	cfg := testConfig(t)
	base, logs, stop := startServe(t, cfg, true)

	var health map[string]string
	if code := getJSON(t, base+"/healthz", &health); code != 200 || health["status"] != "ok" {
		t.Fatalf("healthz %d %v", code, health)
	}
	var ready map[string]any
	if code := getJSON(t, base+"/readyz", &ready); code != 200 || ready["status"] != "ready" {
		t.Fatalf("readyz %d %v", code, ready)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"go_goroutines", `technifold_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		"go_sql_open_connections", "technifold_db_write_commits_total"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	var e map[string]string
	if code := getJSON(t, base+"/no/such/route", &e); code != 404 || e["error"] == "" {
		t.Errorf("unknown route: %d %v", code, e)
	}
	// The demo mints working offer links without configuration.
	keys, err := offertoken.ParseKeyring(cfg.TokenSecret)
	if err != nil {
		t.Fatalf("demo token secret: %v", err)
	}
	token, err := keys.Mint(offertoken.Claims{CompanyID: "COMPANY101", OfferKey: "reorder"}, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	page, err := http.Get(base + "/x/" + token)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || !strings.Contains(string(html), "Acme Print") {
		t.Errorf("demo offer page: %d", page.StatusCode)
	}
	r, err := http.Post(base+"/api/outbox/run", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 503 || !strings.Contains(string(body), "CRON_SECRET") {
		t.Errorf("outbox run without CRON_SECRET: %d %s", r.StatusCode, body)
	}
	stop()
	log := logs.String()
	for _, want := range []string{"feature off", "set STRIPE_SECRET_KEY", "set ZOHO_WEBHOOK_SECRET", "generated demo secret",
		"demo data loaded", `"route":"(not found)"`, "stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(log, "/no/such/route") {
		t.Error("the access log carries a raw path")
	}
	// The demo data are reachable in the file.
	db := openTestDBAt(t, cfg.DatabasePath)
	if n := countRows(t, db, "companies"); n != 50 {
		t.Fatalf("demo companies: %d", n)
	}
}

func openTestDBAt(t *testing.T, path string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestDemoIsIdempotentAndFiresEveryRule(t *testing.T) {
	db := openTestDB(t)
	first, err := LoadDemo(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if first.Companies != 50 || first.Changed == 0 {
		t.Fatalf("first load %+v", first)
	}
	counts, _ := db.CountRows(context.Background())
	second, err := LoadDemo(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if second.Changed != 0 {
		t.Fatalf("second load changed %d rows", second.Changed)
	}
	again, _ := db.CountRows(context.Background())
	for table, n := range counts {
		if again[table] != n {
			t.Errorf("%s: %d rows after the second load, %d before", table, again[table], n)
		}
	}
	for _, rule := range []string{"reorder_reminder", "engagement_needed", "portal_invite"} {
		var n int
		if err := db.Read().QueryRow(`SELECT count(*) FROM v_next_best_actions WHERE action_type = ?`, rule).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("the demo data fire no %s suggestion", rule)
		}
	}
	var currencies int
	if err := db.Read().QueryRow(`SELECT count(DISTINCT currency) FROM product_prices`).Scan(&currencies); err != nil || currencies != 3 {
		t.Errorf("price currencies %d %v", currencies, err)
	}
	var statuses int
	if err := db.Read().QueryRow(`SELECT count(DISTINCT marketing_status) FROM contacts`).Scan(&statuses); err != nil || statuses < 3 {
		t.Errorf("contact consent mix: %d statuses", statuses)
	}
	var span float64
	if err := db.Read().QueryRow(`SELECT julianday(max(txn_date)) - julianday(min(txn_date)) FROM sales`).Scan(&span); err != nil || span < 600 {
		t.Errorf("sales history spans %.0f days", span)
	}
}

func TestCLIHelpAndUnknownCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	if code := Main(context.Background(), []string{"--help"}, env); code != 0 || !strings.Contains(out.String(), "serve") {
		t.Fatalf("help: %d %s", code, out.String())
	}
	if code := Main(context.Background(), []string{"frobnicate"}, env); code != 2 || !strings.Contains(errOut.String(), "unknown command") {
		t.Fatalf("unknown: %d %s", code, errOut.String())
	}
	for _, c := range commands() {
		errOut.Reset()
		if code := Main(context.Background(), []string{c.name, "--help"}, env); code != 0 {
			t.Errorf("%s --help: exit %d %s", c.name, code, errOut.String())
		}
	}
	errOut.Reset()
	bad := Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string {
		if k == "ZOHO_DC" {
			return "mars"
		}
		return ""
	}}
	if code := Main(context.Background(), []string{"migrate"}, bad); code != 1 || !strings.Contains(errOut.String(), "ZOHO_DC") {
		t.Fatalf("bad ZOHO_DC: %d %s", code, errOut.String())
	}
}

func TestConfigNamesBadValues(t *testing.T) {
	_, err := LoadConfig(func(k string) string {
		switch k {
		case "JOB_RETENTION":
			return "forever"
		case "BASE_URL":
			return "shop.example.com"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "JOB_RETENTION") || !strings.Contains(err.Error(), "BASE_URL") {
		t.Fatalf("error %v", err)
	}
}

func TestHelpNeverPrintsSecrets(t *testing.T) {
	var out, errOut bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string {
		switch k {
		case "STRIPE_SECRET_KEY":
			return "sk_live_supersecret"
		case "ADDR":
			return ":9999"
		}
		return ""
	}}
	if code := Main(context.Background(), []string{"serve", "--help"}, env); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(errOut.String()+out.String(), "supersecret") {
		t.Fatal("--help printed a secret from the environment")
	}
	if !strings.Contains(errOut.String(), `":9999"`) {
		t.Error("--help should still show non-secret values from the environment")
	}
	cfg, err := LoadConfig(env.Getenv)
	if err != nil || cfg.StripeSecretKey != "sk_live_supersecret" {
		t.Fatalf("secret not applied: %v", err)
	}
}

func TestTokenMintUsesTheDemoSecret(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "demo.db")
	db := openTestDBAt(t, dbPath)
	if _, err := LoadDemo(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{TokenSecret: ""}
	if err := useDemoTokenSecret(context.Background(), db, cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	var out, errOut bytes.Buffer
	getenv := func(k string) string {
		if k == "DATABASE_PATH" {
			return dbPath
		}
		return ""
	}
	code := Main(context.Background(), []string{"token", "mint", "--company", "COMPANY101", "--offer", "reorder"},
		Env{Stdout: &out, Stderr: &errOut, Getenv: getenv})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	link := strings.TrimSpace(out.String())
	keys, err := offertoken.ParseKeyring(cfg.TokenSecret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Verify(link[strings.LastIndex(link, "/")+1:], time.Now()); err != nil {
		t.Fatalf("the minted link does not verify with the demo secret: %v", err)
	}
}
