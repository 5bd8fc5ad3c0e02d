package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

const salesHeader = "company_id,product_code,quantity,unit_amount,currency,txn_date,invoice_number\n"

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
func (e *adminEnv) upload(c *http.Client, kind, name string, data []byte) (int, string) {
	e.t.Helper()
	ctype, body := uploadForm(e.t, kind, name, data)
	return e.postUpload(c, ctype, body)
}

func (e *adminEnv) postUpload(c *http.Client, ctype string, body io.Reader) (int, string) {
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

// importEnv is a server whose database holds the example companies and products, with an
// admin signed in.
func importEnv(t *testing.T, o adminEnvOptions) (*adminEnv, *http.Client) {
	t.Helper()
	e := newAdminEnv(t, o)
	for _, kind := range []string{"companies", "products"} {
		importFile(t, e.db, kind, "../examples/"+kind+".csv")
	}
	e.addUser("ann@example.com", store.RoleAdmin, testPassword)
	return e, e.login("ann@example.com", testPassword)
}

// tableCounts counts the rows of every main table.
func tableCounts(t *testing.T, db *store.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range store.MainTables() {
		out[table] = countRows(t, db, table)
	}
	return out
}

func TestImportPreviewListsEveryInvalidRowAndWritesNothing(t *testing.T) {
	e, admin := importEnv(t, adminEnvOptions{})
	before := tableCounts(t, e.db)
	file := salesHeader +
		"EXCO123,CR-RIB-RED,1,3900,gbp,2025-06-01,INV-P-1\n" + // line 2: valid
		"EXCO123,CR-RIB-RED,1,3900,pounds,2025-06-01,INV-P-2\n" + // line 3: currency
		"NOPE,CR-RIB-RED,1,3900,gbp,2025-06-01,INV-P-3\n" + // line 4: unknown company
		"EXCO123,CR-RIB-RED,1,39.00,gbp,2025-06-01,INV-P-4\n" + // line 5: decimal amount
		"EXCO123,XX-UNKNOWN,1,3900,gbp,2025-06-01,INV-P-5\n" + // line 6: unknown product
		"EXCO123,CR-RIB-RED,2,3900,gbp,2025-06-02,INV-P-6\n" + // line 7: valid
		"EXCO123,CR-RIB-RED,1,3900,gbp,01/06/2025,INV-P-7\n" // line 8: date
	status, page := e.upload(admin, "sales", "sales-june.csv", []byte(file))
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d: %.500s", status, page)
	}
	for _, want := range []string{
		"Preview of sales-june.csv", "Invalid rows: 5 of 7",
		`<td class="num">3</td><td>currency</td><td><code>"pounds"</code></td><td>must be a 3-letter ISO currency code like gbp</td>`,
		`<td class="num">4</td><td>company_id</td><td><code>"NOPE"</code></td><td>no such company (import companies first)</td>`,
		`<td class="num">5</td><td>unit_amount</td><td><code>"39.00"</code></td><td>must be a whole number; amounts are in minor units: write 3900 for 39.00</td>`,
		`<td class="num">6</td><td>product_code</td><td><code>"XX-UNKNOWN"</code></td><td>no such product (import products first)</td>`,
		`<td class="num">8</td><td>txn_date</td><td><code>"01/06/2025"</code></td><td>must be a date like 2025-01-20</td>`,
		`id="rows-read">7<`, `id="rows-valid">2<`, `id="rows-invalid">5<`,
		"INV-P-1", "INV-P-6", // the sample of valid rows
	} {
		if !strings.Contains(page, want) {
			t.Errorf("preview lacks %q in %s", want, page[strings.Index(page, "<table"):])
		}
	}
	if uploadID(page) != "" || strings.Contains(page, "confirm-import") {
		t.Error("a file with invalid rows can be confirmed")
	}
	if got := tableCounts(t, e.db); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("a preview wrote rows: %v → %v", before, got)
	}
	if actions := e.auditActions(); strings.Contains(strings.Join(actions, " "), "import") {
		t.Errorf("a preview was audited as an import: %v", actions)
	}

	// Contacts: duplicate addresses in the file and addresses other contacts keep are found
	// on every row, not only the first.
	importFile(t, e.db, "contacts", "../examples/contacts.csv")
	var taken string
	if err := e.db.Read().QueryRow(`SELECT email FROM contacts ORDER BY contact_id LIMIT 1`).Scan(&taken); err != nil {
		t.Fatal(err)
	}
	contacts := "contact_id,company_id,email\n" +
		"NEW1,EXCO123,one@new.example\n" +
		"NEW2,EXCO123,ONE@new.example\n" + // line 3: same address as line 2
		"NEW3,EXCO123," + taken + "\n" + // line 4: another contact's
		"NEW4,GONE,four@new.example\n" + // line 5: unknown company
		"NEW5,EXCO123,not-an-address\n" // line 6
	contactsBefore := countRows(t, e.db, "contacts")
	status, page = e.upload(admin, "contacts", "contacts.csv", []byte(contacts))
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("contacts: status %d", status)
	}
	for _, want := range []string{"Invalid rows: 4 of 5",
		`<td class="num">3</td><td>email</td><td><code>"ONE@new.example"</code></td><td>contact NEW1 on line 2 has the same address</td>`,
		`<td class="num">4</td><td>email</td>`, "already has this address",
		`<td class="num">5</td><td>company_id</td><td><code>"GONE"</code></td>`,
		`<td class="num">6</td><td>email</td><td><code>"not-an-address"</code></td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("contacts preview lacks %q", want)
		}
	}
	if got := countRows(t, e.db, "contacts"); got != contactsBefore || uploadID(page) != "" {
		t.Errorf("contacts preview: %d contacts, was %d; upload id %q", got, contactsBefore, uploadID(page))
	}

	// A header that does not fit the kind: one problem, line 1, and no confirm.
	status, page = e.upload(admin, "companies", "wrong.csv", []byte("company_id,colour\nX1,red\n"))
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "The file cannot be imported: unknown column") || uploadID(page) != "" {
		t.Errorf("bad header: %d %.300s", status, page)
	}
}

func TestImportPreviewListsTheFirst100InvalidRowsAndCountsAll(t *testing.T) {
	e, admin := importEnv(t, adminEnvOptions{})
	var file strings.Builder
	file.WriteString(salesHeader)
	for i := range 250 {
		fmt.Fprintf(&file, "EXCO123,CR-RIB-RED,1,%d.50,gbp,2025-06-01,INV-BIG-%d\n", 10+i, i)
	}
	file.WriteString("EXCO123,CR-RIB-RED,1,3900,gbp,2025-06-01,INV-BIG-OK\n")
	status, page := e.upload(admin, "sales", "big.csv", []byte(file.String()))
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", status)
	}
	table := page[strings.Index(page, `id="invalid-rows"`):]
	table = table[:strings.Index(table, "</table>")]
	if n := strings.Count(table, "<tr><td"); n != MaxListedProblems {
		t.Errorf("%d invalid rows listed, want %d", n, MaxListedProblems)
	}
	for _, want := range []string{`<td class="num">2</td>`, `<td class="num">101</td>`, "write 1050 for 10.50"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	if strings.Contains(table, `<td class="num">102</td>`) {
		t.Error("the 101st invalid row is listed")
	}
	for _, want := range []string{"Invalid rows: 250 of 251", "… and 150 more invalid rows: only the first 100 are listed", `id="rows-invalid">250<`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestImportConfirmImportsThePreviewedFileAndAudits(t *testing.T) {
	e, admin := importEnv(t, adminEnvOptions{})
	file := []byte(salesHeader +
		"EXCO123,CR-RIB-RED,1,3900,gbp,2025-06-01,INV-C-1\n" +
		"EXCO123,CR-RIB-RED,2,3900,gbp,2025-06-02,INV-C-2\n" +
		"EXCO123,CR-RIB-RED,3,3900,gbp,2025-06-03,INV-C-3\n")
	status, page := e.upload(admin, "sales", "sales-c.csv", file)
	id := uploadID(page)
	if status != http.StatusOK || id == "" || !strings.Contains(page, "Every row is valid") || !strings.Contains(page, "Import 3 rows") {
		t.Fatalf("status %d, id %q: %.500s", status, id, page)
	}
	sum := sha256.Sum256(file)
	if !strings.Contains(page, hex.EncodeToString(sum[:])) {
		t.Error("the preview does not show the file's SHA-256")
	}
	if n := countRows(t, e.db, "sales"); n != 0 {
		t.Fatalf("the preview wrote %d sales rows", n)
	}
	// A second upload of another file by the same admin does not change what id confirms.
	if _, other := e.upload(admin, "sales", "other.csv", []byte(salesHeader+"EXCO123,CR-RIB-RED,9,3900,gbp,2025-06-09,INV-OTHER\n")); uploadID(other) == "" {
		t.Fatal("second upload not held")
	}

	resp := e.postForm(admin, "/admin/import/confirm", url.Values{"upload": {id}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/import?kind=sales" {
		t.Fatalf("confirm: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, result := e.get(admin, "/admin/import?kind=sales")
	result = html.UnescapeString(result)
	if !strings.Contains(result, "Imported sales from sales-c.csv: 3 rows read, 3 inserted or changed.") {
		t.Errorf("result page: %.800s", result)
	}
	if !strings.Contains(result, `<td>sales-c.csv</td><td>sales</td>`) {
		t.Error("recent imports does not list the import")
	}
	var invoices string
	if err := e.db.Read().QueryRow(`SELECT group_concat(invoice_number, ' ') FROM (SELECT invoice_number FROM sales ORDER BY invoice_number)`).Scan(&invoices); err != nil {
		t.Fatal(err)
	}
	if invoices != "INV-C-1 INV-C-2 INV-C-3" {
		t.Fatalf("imported %q, want exactly the previewed file", invoices)
	}
	entries, err := e.db.ListAudit(context.Background(), store.AuditFilter{Action: "import"})
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit: %v %v", entries, err)
	}
	var detail struct {
		Kind, File, SHA256 string
		Rows, Changed      int
		Bytes              int
	}
	_ = json.Unmarshal(entries[0].Detail, &detail)
	if entries[0].Actor != "ann@example.com" || entries[0].Target != "sales-c.csv" || detail.Kind != "sales" || detail.File != "sales-c.csv" ||
		detail.Rows != 3 || detail.Changed != 3 || detail.Bytes != len(file) || detail.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("audit entry %+v, detail %s", entries[0], entries[0].Detail)
	}
	// The id works once.
	resp = e.postForm(admin, "/admin/import/confirm", url.Values{"upload": {id}})
	if body := readBody(resp); resp.StatusCode != http.StatusGone || !strings.Contains(body, "upload the file again") {
		t.Fatalf("second confirm: %d %.300s", resp.StatusCode, body)
	}
	if n := countRows(t, e.db, "sales"); n != 3 {
		t.Fatalf("%d sales rows after a refused confirm", n)
	}
}

func TestImportConfirmRefusesAnotherUsersTamperedOrExpiredUpload(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	e, ann := importEnv(t, adminEnvOptions{clock: clock})
	e.addUser("bob@example.com", store.RoleAdmin, testPassword)
	bob := e.login("bob@example.com", testPassword)
	file := []byte(salesHeader + "EXCO123,CR-RIB-RED,1,3900,gbp,2025-06-01,INV-T-1\n")
	_, page := e.upload(ann, "sales", "t.csv", file)
	id := uploadID(page)
	if id == "" {
		t.Fatal("no upload id")
	}
	tampered := []byte(id)
	tampered[3] ^= 1
	for name, tt := range map[string]struct {
		c  *http.Client
		id string
	}{
		"another admin's upload": {bob, id},
		"a tampered id":          {ann, string(tampered)},
		"no id":                  {ann, ""},
	} {
		resp := e.postForm(tt.c, "/admin/import/confirm", url.Values{"upload": {tt.id}})
		if body := html.UnescapeString(readBody(resp)); resp.StatusCode != http.StatusGone || !strings.Contains(body, "Nothing was imported: this upload has expired or was already imported: upload the file again.") {
			t.Errorf("%s: %d %.300s", name, resp.StatusCode, body)
		}
	}
	if n := countRows(t, e.db, "sales"); n != 0 {
		t.Fatalf("refused confirms imported %d rows", n)
	}
	// Expired: 30 minutes after the preview.
	clock.Advance(importHoldTTL)
	resp := e.postForm(ann, "/admin/import/confirm", url.Values{"upload": {id}})
	if body := readBody(resp); resp.StatusCode != http.StatusGone || !strings.Contains(body, "upload the file again") {
		t.Fatalf("expired: %d", resp.StatusCode)
	}
	if n := countRows(t, e.db, "sales"); n != 0 {
		t.Fatalf("an expired upload imported %d rows", n)
	}
	// The refusals above did not use up a live upload: bob's try left ann's id usable.
	_, page = e.upload(ann, "sales", "t.csv", file)
	id = uploadID(page)
	resp = e.postForm(bob, "/admin/import/confirm", url.Values{"upload": {id}})
	resp.Body.Close()
	resp = e.postForm(ann, "/admin/import/confirm", url.Values{"upload": {id}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || countRows(t, e.db, "sales") != 1 {
		t.Fatalf("ann's confirm after bob's refused try: %d", resp.StatusCode)
	}
	// A cross-origin confirm is refused before anything else.
	req, _ := http.NewRequest(http.MethodPost, e.url+"/admin/import/confirm", strings.NewReader("upload=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, err := ann.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site confirm: %v %v", resp, err)
	}
}

func TestImportIsAdminOnly(t *testing.T) {
	e, _ := importEnv(t, adminEnvOptions{})
	e.addUser("sam@example.com", store.RoleStaff, testPassword)
	staff := e.login("sam@example.com", testPassword)
	status, page := e.get(staff, "/admin/import")
	page = html.UnescapeString(page)
	if status != http.StatusOK || !strings.Contains(page, `href="/admin/import"`) ||
		!strings.Contains(page, `<button type="button" disabled title="Only admins can import CSV files.">Check the file</button>`) {
		t.Fatalf("staff page: %d %.600s", status, page)
	}
	status, page = e.upload(staff, "sales", "s.csv", []byte(salesHeader+"EXCO123,CR-RIB-RED,1,3900,gbp,2025-06-01,INV-S-1\n"))
	if status != http.StatusForbidden || !strings.Contains(page, denyImport) || uploadID(page) != "" {
		t.Fatalf("staff upload: %d", status)
	}
	resp := e.postForm(staff, "/admin/import/confirm", url.Values{"upload": {"x"}})
	if body := readBody(resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, denyImport) {
		t.Fatalf("staff confirm: %d", resp.StatusCode)
	}
}

// onlyReader hides a body's length, so the client sends it chunked.
type onlyReader struct{ io.Reader }

func TestImportRefusesAnOversizedUploadWith413(t *testing.T) {
	e, admin := importEnv(t, adminEnvOptions{})
	e.srv.admin.imports.maxFile = 4 << 10
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
	if n := countRows(t, e.db, "sales"); n != 0 {
		t.Fatal("an oversized upload imported rows")
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

// BenchmarkAdminImportLargestUpload previews and confirms a sales file of the page's largest
// size (8 MiB) through the server: the confirmation must finish well inside importTimeout.
//
//	go test ./app -run '^$' -bench BenchmarkAdminImportLargestUpload -benchtime 1x
func BenchmarkAdminImportLargestUpload(b *testing.B) {
	e := newAdminEnv(b, adminEnvOptions{})
	ctx := context.Background()
	if err := e.db.Update(ctx, func(tx *store.Tx) error {
		for c := range 100 {
			if _, err := tx.UpsertCompany(ctx, store.Company{ID: fmt.Sprintf("COMPANY%03d", c), Name: "C"}); err != nil {
				return err
			}
		}
		_, err := tx.UpsertProduct(ctx, store.Product{Code: "CR-RIB-BLACK", Description: "Rib", Type: "consumable", Active: true})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	e.addUser("ann@example.com", store.RoleAdmin, testPassword)
	admin := e.login("ann@example.com", testPassword)
	admin.Timeout = 5 * time.Minute // measure, and let the server's own limits decide
	var file bytes.Buffer
	file.WriteString(salesHeader)
	for i := 0; ; i++ {
		line := fmt.Sprintf("COMPANY%03d,CR-RIB-BLACK,%d,3900,gbp,2025-%02d-%02d,INV-%07d\n", i%100, 1+i%7, 1+i%12, 1+i%28, i)
		if file.Len()+len(line) > maxImportUpload {
			break
		}
		file.WriteString(line)
	}
	rows := bytes.Count(file.Bytes(), []byte("\n")) - 1
	var preview, confirm time.Duration
	for b.Loop() {
		e.exec(`DELETE FROM sales`)
		t0 := time.Now()
		status, page := e.upload(admin, "sales", "big.csv", file.Bytes())
		preview += time.Since(t0)
		id := uploadID(page)
		if status != http.StatusOK || id == "" {
			b.Fatalf("preview: %d", status)
		}
		t1 := time.Now()
		resp := e.postForm(admin, "/admin/import/confirm", url.Values{"upload": {id}})
		resp.Body.Close()
		confirm += time.Since(t1)
		if resp.StatusCode != http.StatusSeeOther {
			b.Fatalf("confirm: %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(rows), "rows")
	b.ReportMetric(preview.Seconds()/float64(b.N), "preview-s")
	b.ReportMetric(confirm.Seconds()/float64(b.N), "confirm-s")
}

// A file that passed its preview but no longer passes when confirmed (another contact took an
// address meanwhile) imports nothing and shows the new problem.
func TestImportConfirmRechecksTheFile(t *testing.T) {
	e, admin := importEnv(t, adminEnvOptions{})
	_, page := e.upload(admin, "contacts", "c.csv", []byte("contact_id,company_id,email\nNEW1,EXCO123,first@new.example\nNEW2,EXCO123,second@new.example\n"))
	id := uploadID(page)
	if id == "" {
		t.Fatalf("no upload id: %.400s", page)
	}
	if _, err := ImportCSV(context.Background(), e.db, "contacts", strings.NewReader("contact_id,email\nOTHER,second@new.example\n"), nil); err != nil {
		t.Fatal(err)
	}
	resp := e.postForm(admin, "/admin/import/confirm", url.Values{"upload": {id}})
	body := html.UnescapeString(readBody(resp))
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "the file no longer passes the checks") ||
		!strings.Contains(body, `<td class="num">3</td><td>email</td><td><code>"second@new.example"</code></td><td>contact OTHER already has this address</td>`) ||
		uploadID(body) != "" {
		t.Fatalf("%d %.800s", resp.StatusCode, body)
	}
	if n := countRows(t, e.db, "contacts"); n != 1 {
		t.Fatalf("%d contacts, want only OTHER", n)
	}
	if actions := strings.Join(e.auditActions(), " "); strings.Contains(actions, "import") {
		t.Fatalf("a refused confirmation was audited as an import: %s", actions)
	}
}
