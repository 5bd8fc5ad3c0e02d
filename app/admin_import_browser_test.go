package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/technifold/technifold/store"
)

// An admin imports a sales file in the browser: a first upload lists its invalid rows and
// offers no confirmation; the corrected file previews its rows, and confirming imports it and
// shows the result.
func TestAdminImportInBrowser(t *testing.T) {
	e, _ := importEnv(t, adminEnvOptions{})
	ctx := newBrowser(t, chromedp.WindowSize(1280, 1000))
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	dir := t.TempDir()
	bad := filepath.Join(dir, "sales-bad.csv")
	good := filepath.Join(dir, "sales-good.csv")
	if err := os.WriteFile(bad, []byte(salesHeader+
		"EXCO123,CR-RIB-RED,1,39.00,gbp,2025-06-01,INV-B-1\n"+
		"NOPE,CR-RIB-RED,1,3900,gbp,2025-06-01,INV-B-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte(salesHeader+
		"EXCO123,CR-RIB-RED,1,3900,gbp,2025-06-01,INV-B-1\n"+
		"EXCO123,CR-RIB-RED,2,3900,gbp,2025-06-02,INV-B-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inBrowser(t, ctx,
		chromedp.Navigate(e.url+"/admin/import"),
		chromedp.WaitVisible(css(`input[name=password]`)),
		chromedp.SendKeys(css(`input[name=email]`), "ann@example.com"),
		chromedp.SendKeys(css(`input[name=password]`), testPassword),
		clickAndLoad(`form[action="/admin/login"] button`),
		chromedp.WaitVisible(css(`input[type=file]`)),
		chromedp.SetValue(css(`select[name=kind]`), "sales"),
		chromedp.SetUploadFiles(css(`input[type=file]`), []string{bad}),
		clickAndLoad(`#check-file`),
		chromedp.WaitVisible(css(`#invalid-rows`)),
	)
	rows := fromBrowser(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#invalid-rows tbody tr")].map(r => r.innerText)`))
	if len(rows) != 2 || !strings.Contains(rows[0], "write 3900 for 39.00") || !strings.Contains(rows[1], "no such company") {
		t.Fatalf("invalid rows shown: %q", rows)
	}
	if n := fromBrowser(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#confirm-import").length`)); n != 0 {
		t.Fatal("a file with invalid rows offers a confirmation")
	}
	_ = os.WriteFile(screenshotPath(t, "import-invalid.png"), fromBrowser(t, ctx, chromedp.FullScreenshot(100)), 0o644)

	inBrowser(t, ctx,
		chromedp.SetValue(css(`select[name=kind]`), "sales"),
		chromedp.SetUploadFiles(css(`input[type=file]`), []string{good}),
		clickAndLoad(`#check-file`),
		chromedp.WaitVisible(css(`#confirm-import`)),
	)
	if got := fromBrowser(t, ctx, chromedp.Text(css(`#rows-valid`))); got != "2" {
		t.Fatalf("valid rows shown: %q", got)
	}
	if sample := fromBrowser(t, ctx, chromedp.Text(css(`#sample-rows`))); !strings.Contains(sample, "INV-B-2") {
		t.Fatalf("sample: %q", sample)
	}
	if n := countRows(t, e.db, "sales"); n != 0 {
		t.Fatalf("the preview wrote %d sales rows", n)
	}
	_ = os.WriteFile(screenshotPath(t, "import-preview.png"), fromBrowser(t, ctx, chromedp.FullScreenshot(100)), 0o644)
	inBrowser(t, ctx, clickAndLoad(`#confirm-import`), chromedp.WaitVisible(css(`.banner.notice`)))
	notice := fromBrowser(t, ctx, chromedp.Text(css(`.banner.notice`)))
	if !strings.Contains(notice, "Imported sales from sales-good.csv: 2 rows read, 2 inserted or changed.") {
		t.Fatalf("notice %q", notice)
	}
	if recent := fromBrowser(t, ctx, chromedp.Text(css(`#recent-imports`))); !strings.Contains(recent, "sales-good.csv") || !strings.Contains(recent, "ann@example.com") {
		t.Fatalf("recent imports: %q", recent)
	}
	if n := countRows(t, e.db, "sales"); n != 2 {
		t.Fatalf("%d sales rows after the confirmation", n)
	}
	// At a phone's width the page (columns, recent imports) does not widen: tables scroll in their card.
	inBrowser(t, ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(e.url+"/admin/import"), chromedp.WaitVisible(css(`#recent-imports`)))
	if w := fromBrowser(t, ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`)); w[0] > w[1] {
		t.Errorf("at 390 px the import page is %d px wide", w[0])
	}
	entries, err := e.db.ListAudit(t.Context(), store.AuditFilter{Action: "import"})
	if err != nil || len(entries) != 1 || entries[0].Actor != "ann@example.com" {
		t.Fatalf("audit %v %v", entries, err)
	}
}
