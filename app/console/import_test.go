package console

import (
	"bytes"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

const salesHeader = "company_id,product_code,quantity,unit_amount,currency,txn_date,invoice_number\n"

// onlyReader hides a body's length, so the client sends it chunked.
type onlyReader struct{ io.Reader }

// uploadForm builds the import page's multipart form.
func uploadForm(t testing.TB, kind, name string, data []byte) (string, *bytes.Buffer) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if err := mw.WriteField("kind", kind); err != nil {
		t.Fatal(err)
	}
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(data)
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), &body
}

// upload posts a file to the import page as the browser's form does; body is unescaped.
func (e *testEnv) upload(c *http.Client, kind, name string, data []byte) (int, string) {
	e.t.Helper()
	ctype, body := uploadForm(e.t, kind, name, data)
	return e.postUpload(c, ctype, body)
}

func (e *testEnv) postUpload(c *http.Client, ctype string, body io.Reader) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/admin/import", body)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", e.url)
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, html.UnescapeString(readBody(resp))
}

var uploadIDPattern = regexp.MustCompile(`name="upload" value="([^"]+)"`)

// uploadID is the id a preview's confirm form carries ("" when it has none).
func uploadID(page string) string {
	if m := uploadIDPattern.FindStringSubmatch(page); m != nil {
		return m[1]
	}
	return ""
}

func TestImportRefusesAnOversizedUploadWith413(t *testing.T) {
	svc := &fakeServices{}
	e := newTestEnv(t, svc)
	e.c.imports.maxFile = 4 << 10
	e.addUser("ann@example.com", store.RoleAdmin)
	admin := e.login("ann@example.com")
	big := []byte(salesHeader + strings.Repeat("EXCO123,CR-RIB-RED,1,3900,gbp,2025-06-01,INV-BIG\n", 200))
	ctype, body := uploadForm(t, "sales", "big.csv", big)
	raw := body.Bytes()
	// With a Content-Length past the limit, and chunked (the limit found while reading).
	for name, r := range map[string]io.Reader{"content-length": bytes.NewReader(raw), "chunked": onlyReader{bytes.NewReader(raw)}} {
		status, page := e.postUpload(admin, ctype, r)
		if status != http.StatusRequestEntityTooLarge || !strings.Contains(page, "The file is larger than 4 KiB, the most this page takes") ||
			!strings.Contains(page, "technifold import KIND FILE.csv") {
			t.Errorf("%s: %d %.400s", name, status, page)
		}
	}
	if svc.checked != 0 || svc.imported != 0 {
		t.Fatalf("an oversized upload reached the importer (%d checks, %d imports)", svc.checked, svc.imported)
	}
	// At the limit it is taken.
	fits := big[:4<<10]
	fits = fits[:bytes.LastIndexByte(fits, '\n')+1]
	if status, page := e.upload(admin, "sales", "fits.csv", fits); status != http.StatusOK || uploadID(page) == "" {
		t.Fatalf("a file under the limit: %d %.300s", status, page)
	}
	// No file chosen, or an unknown kind: 400 on the form.
	if status, page := e.upload(admin, "widgets", "w.csv", []byte("a\n1\n")); status != http.StatusBadRequest || !strings.Contains(page, "choose what the file holds") {
		t.Errorf("unknown kind: %d", status)
	}
}

func TestImportHoldsDropTheOldestPastTheirCap(t *testing.T) {
	h := newImportHolds()
	h.maxTotal = 10
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	first := h.put(now, 1, "sales", "a.csv", []byte("123456"))
	second := h.put(now, 1, "sales", "b.csv", []byte("7890"))
	third := h.put(now, 1, "sales", "c.csv", []byte("abc"))
	if _, err := h.take(now, 1, first); err == nil {
		t.Error("the oldest hold survived past the cap")
	}
	for _, id := range []string{second, third} {
		if got, err := h.take(now, 1, id); err != nil || len(got.data) == 0 {
			t.Errorf("hold %s: %v", id, err)
		}
	}
	if h.held != 0 || len(h.byKey) != 0 {
		t.Errorf("held %d bytes in %d holds after taking all", h.held, len(h.byKey))
	}
}
