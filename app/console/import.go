package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/julienschmidt/httprouter"

	"github.com/technifold/technifold/app/web"
	"github.com/technifold/technifold/store"
)

// CSV import from the admin UI: an admin uploads a file, sees every invalid row (or a sample
// of the valid ones), and confirms. The check and the import are the CLI's (ValidateCSV and
// ImportCSVWith in app), called through the Importer service. Between preview and
// confirm the uploaded bytes wait in memory (importHolds) under an unguessable id bound to the
// admin who uploaded them, so the confirmed file is exactly the previewed one.

const (
	// maxImportUpload is the largest file the page takes: about 145,000 sales rows, which
	// import in 9 s on an idle 2-core host, 42 s at a load average of 16
	// (BenchmarkAdminImportLargestUpload), inside importTimeout; larger files go through the CLI.
	maxImportUpload = 8 << 20
	// maxImportHeld caps the bytes of all previews waiting for their confirmation together;
	// past it the oldest is dropped (its confirm then asks to upload again).
	maxImportHeld = 64 << 20
	// importHoldTTL is how long a preview can be confirmed.
	importHoldTTL = 30 * time.Minute
	// importTimeout bounds a confirmed import; its request's write deadline is moved past it
	// (the server's own is 75 s).
	importTimeout = 3 * time.Minute
	// uploadReadTime is how long an upload may take to arrive (the server's own read timeout
	// is 30 s, short for 8 MiB on a slow line).
	uploadReadTime = 2 * time.Minute
	// multipartSlack is what the form adds around the file (boundaries, headers, the kind).
	multipartSlack = 64 << 10
)

// importHold is one previewed file waiting for its confirmation.
type importHold struct {
	userID     int64
	kind, name string
	data       []byte
	sum        [32]byte // sha256 of data
	expires    time.Time
	added      uint64 // order of arrival, for dropping the oldest
}

// importHolds keeps previewed uploads until they are confirmed or expire. Holds are found by
// the SHA-256 of their id, so a lookup's timing says nothing about the id.
type importHolds struct {
	mu       sync.Mutex
	byKey    map[[32]byte]*importHold
	held     int
	next     uint64
	maxFile  int64 // largest upload taken
	maxTotal int   // bytes of all holds together
}

func newImportHolds() *importHolds {
	return &importHolds{byKey: map[[32]byte]*importHold{}, maxFile: maxImportUpload, maxTotal: maxImportHeld}
}

// errHoldGone is the answer for an id that is unknown, expired, used, or another user's.
var errHoldGone = errors.New("this upload has expired or was already imported: upload the file again")

// put holds data for userID and returns the id that confirms it.
func (h *importHolds) put(now time.Time, userID int64, kind, name string, data []byte) string {
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	id := base64.RawURLEncoding.EncodeToString(raw[:])
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, e := range h.byKey {
		if !now.Before(e.expires) {
			h.drop(k)
		}
	}
	for h.held+len(data) > h.maxTotal && len(h.byKey) > 0 {
		var oldest [32]byte
		first := true
		for k, e := range h.byKey {
			if first || e.added < h.byKey[oldest].added {
				oldest, first = k, false
			}
		}
		h.drop(oldest)
	}
	h.next++
	h.byKey[sha256.Sum256([]byte(id))] = &importHold{userID: userID, kind: kind, name: name, data: data,
		sum: sha256.Sum256(data), expires: now.Add(importHoldTTL), added: h.next}
	h.held += len(data)
	return id
}

// take removes and returns the hold of id, if it is userID's and has not expired.
func (h *importHolds) take(now time.Time, userID int64, id string) (*importHold, error) {
	key := sha256.Sum256([]byte(id))
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.byKey[key]
	if !ok || e.userID != userID {
		return nil, errHoldGone
	}
	h.drop(key)
	if !now.Before(e.expires) {
		return nil, errHoldGone
	}
	return e, nil
}

func (h *importHolds) drop(k [32]byte) {
	if e, ok := h.byKey[k]; ok {
		h.held -= len(e.data)
		delete(h.byKey, k)
	}
}

// importPage is the import form, a preview, or both.
type importPage struct {
	Kinds   []ImportKind
	Kind    string
	MaxSize string
	Recent  []recentImport
	Message string

	// A preview: the file checked, and the id that confirms it (only when every row is valid).
	Preview *importPreview
}

type importPreview struct {
	FileName string
	Bytes    int
	SHA256   string
	Check    *ImportCheck
	Upload   string // the id of the held file; "" when it cannot be imported
}

func (p importPage) errorText() string { return p.Message }

// Refusal says why a previewed file cannot be imported ("" when it can).
func (p importPreview) Refusal() string {
	c := p.Check
	switch {
	case c.Invalid > 0 && c.Rows == 0:
		return "The file cannot be imported: " + c.Problems[0].Reason + "."
	case c.Invalid > 0:
		return fmt.Sprintf("Invalid rows: %d of %d. Nothing is imported while any row is invalid: fix the file and upload it again.", c.Invalid, c.Rows)
	case c.Rows == 0:
		return "The file has no data rows: there is nothing to import."
	}
	return ""
}

// importPage is the page's data with kind chosen in the form (the first kind when kind is none).
func (s *Console) importPage(r *http.Request, kind string) importPage {
	if !s.importKind(kind) {
		kind = s.svc.ImportKinds()[0].Name
	}
	page := importPage{Kind: kind, MaxSize: byteSize(s.imports.maxFile)}
	page.Kinds = s.svc.ImportKinds()
	entries, err := s.db.ListAudit(r.Context(), store.AuditFilter{Action: "import", Limit: 10})
	if err != nil {
		s.logger.WarnContext(r.Context(), "list recent imports", "error", err)
	}
	for _, e := range entries {
		ri := recentImport{At: e.CreatedAt, Actor: e.Actor}
		_ = json.Unmarshal(e.Detail, &ri)
		page.Recent = append(page.Recent, ri)
	}
	return page
}

// recentImport is one import of the audit log, as the page lists it.
type recentImport struct {
	At        time.Time `json:"-"`
	Actor     string    `json:"-"`
	Kind      string    `json:"kind"`
	File      string    `json:"file"`
	Rows      int       `json:"rows"`
	Changed   int       `json:"changed"`
	Committed int       `json:"committed"`
	Error     string    `json:"error"`
}

func (s *Console) handleImportForm(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	s.render(w, r, http.StatusOK, pageImport, "Import CSV", s.importPage(r, r.URL.Query().Get("kind")))
}

// importKind reports whether kind is one the importer takes.
func (s *Console) importKind(kind string) bool {
	for _, k := range s.svc.ImportKinds() {
		if k.Name == kind {
			return true
		}
	}
	return false
}

// errUploadTooLarge is a file past the page's limit.
type errUploadTooLarge struct{ limit int64 }

func (e errUploadTooLarge) Error() string {
	return fmt.Sprintf("The file is larger than %s, the most this page takes: split it into smaller files, or import it with the CLI (technifold import KIND FILE.csv), which takes files of any size.", byteSize(e.limit))
}

// byteSize words a size limit: "16 MiB", "64 KiB", "900 bytes".
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// readImportUpload reads the form's kind and file (multipart/form-data), refusing a file past
// the limit before reading all of it.
func (s *Console) readImportUpload(w http.ResponseWriter, r *http.Request) (kind, name string, data []byte, err error) {
	limit := s.imports.maxFile
	if r.ContentLength > limit+multipartSlack {
		return "", "", nil, errUploadTooLarge{limit}
	}
	if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(uploadReadTime)); err != nil {
		s.logger.WarnContext(r.Context(), "import upload: cannot extend the read deadline", "error", err)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+multipartSlack)
	mr, err := r.MultipartReader()
	if err != nil {
		return "", "", nil, web.Invalidf("send the form as multipart/form-data with the file in the field \"file\"")
	}
	seenFile := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", "", nil, errUploadTooLarge{limit}
		}
		if err != nil {
			return "", "", nil, web.Invalidf("could not read the upload: send it again")
		}
		switch part.FormName() {
		case "kind":
			b, _ := io.ReadAll(io.LimitReader(part, 64))
			kind = strings.TrimSpace(string(b))
		case "file":
			seenFile = part.FileName() != ""
			name = cleanUploadName(part.FileName())
			data, err = io.ReadAll(io.LimitReader(part, limit+1))
			if errors.As(err, &mbe) || int64(len(data)) > limit {
				return "", "", nil, errUploadTooLarge{limit}
			}
			if err != nil {
				return "", "", nil, web.Invalidf("could not read the upload: send it again")
			}
		}
		part.Close()
	}
	if !s.importKind(kind) {
		var names []string
		for _, k := range s.svc.ImportKinds() {
			names = append(names, k.Name)
		}
		return "", "", nil, web.Invalidf("choose what the file holds: one of %s", strings.Join(names, ", "))
	}
	if !seenFile && len(data) == 0 {
		return "", "", nil, web.Invalidf("choose a CSV file to upload")
	}
	return kind, name, data, nil
}

// cleanUploadName keeps the base name of an uploaded file, printable and at most 120 bytes.
func cleanUploadName(name string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, name)
	if name == "." || name == "/" {
		name = ""
	}
	for len(name) > 120 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" {
		return "upload.csv"
	}
	return name
}

// handleImportPreview checks an uploaded file and shows what it found; a file with no invalid
// row is held for its confirmation.
func (s *Console) handleImportPreview(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	kind, name, data, err := s.readImportUpload(w, r)
	var tooLarge errUploadTooLarge
	if errors.As(err, &tooLarge) {
		w.Header().Set("Connection", "close")
		s.renderStatus(w, r, http.StatusRequestEntityTooLarge, tooLarge.Error())
		return
	}
	if err != nil {
		page := s.importPage(r, kind)
		page.Message = store.ErrorMessage(err)
		s.render(w, r, web.StatusOf(err), pageImport, "Import CSV", page)
		return
	}
	check, err := s.svc.CheckCSV(r.Context(), kind, data)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	sum := sha256.Sum256(data)
	preview := &importPreview{FileName: name, Bytes: len(data), SHA256: hex.EncodeToString(sum[:]), Check: check}
	status := http.StatusUnprocessableEntity
	if check.Invalid == 0 && check.Rows > 0 {
		preview.Upload = s.imports.put(s.db.Now(), principalFrom(r.Context()).User.ID, kind, name, data)
		status = http.StatusOK
	}
	page := s.importPage(r, kind)
	page.Preview = preview
	s.render(w, r, status, pageImport, "Import CSV: preview", page)
}

// handleImportConfirm imports the held file the preview showed, and records it in the audit log.
func (s *Console) handleImportConfirm(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if err := parseAdminForm(w, r); err != nil {
		s.renderError(w, r, err)
		return
	}
	hold, err := s.imports.take(s.db.Now(), principalFrom(r.Context()).User.ID, r.PostForm.Get("upload"))
	if err != nil {
		page := s.importPage(r, "")
		page.Message = "Nothing was imported: " + err.Error() + "."
		s.render(w, r, http.StatusGone, pageImport, "Import CSV", page)
		return
	}
	// The import goes on if the browser goes away: a closed tab does not leave it half-done.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), importTimeout)
	defer cancel()
	if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(importTimeout + 15*time.Second)); err != nil {
		s.logger.WarnContext(r.Context(), "import: cannot extend the write deadline", "error", err)
	}
	res, err := s.svc.ImportCSV(ctx, hold.kind, hold.data)
	detail := map[string]any{"kind": hold.kind, "file": hold.name, "bytes": len(hold.data),
		"sha256": hex.EncodeToString(hold.sum[:]), "rows": res.Rows, "changed": res.Changed}
	var part *ImportInterrupted
	switch {
	case err == nil:
		s.audit(r, "import", hold.name, detail)
		s.redirectNotice(w, r, "/admin/import?kind="+hold.kind, fmt.Sprintf("Imported %s from %s: %d rows read, %d inserted or changed.",
			hold.kind, hold.name, res.Rows, res.Changed))
	case errors.As(err, &part):
		detail["committed"], detail["rows"], detail["error"] = part.Committed, part.Rows, "interrupted"
		s.audit(r, "import", hold.name, detail)
		s.logger.ErrorContext(r.Context(), "admin import interrupted", "kind", hold.kind, "file", hold.name, "error", err)
		s.renderStatus(w, r, http.StatusServiceUnavailable, fmt.Sprintf(
			"The import of %s stopped part-way: rows 1-%d of %d are imported, the rest are not. Upload the same file again to complete it (rows already imported are not duplicated).",
			hold.name, part.Committed, part.Rows))
	case store.ErrorCode(err) == store.EINVALID:
		// The database changed since the preview (a company gone, an address taken): show why.
		check, verr := s.svc.CheckCSV(r.Context(), hold.kind, hold.data)
		if verr != nil {
			s.renderError(w, r, verr)
			return
		}
		page := s.importPage(r, hold.kind)
		page.Message = "Nothing was imported: the file no longer passes the checks (the database changed since the preview)."
		page.Preview = &importPreview{FileName: hold.name, Bytes: len(hold.data), SHA256: hex.EncodeToString(hold.sum[:]), Check: check}
		s.render(w, r, http.StatusUnprocessableEntity, pageImport, "Import CSV: preview", page)
	default:
		s.renderError(w, r, err)
	}
}

// Imports change many rows at once, so only admins run them; staff see the page (kinds,
// columns, recent imports) with the upload switched off.
var (
	pageImport = declarePage(adminPage{key: pageKey{"import"}, nav: "Import", navPath: "/admin/import", navOrder: 85, navRole: roleStaff})

	_ = declareAdminRoutes(
		adminRoute{method: http.MethodGet, path: "/admin/import", role: roleStaff, handle: (*Console).handleImportForm},
		adminRoute{method: http.MethodPost, path: "/admin/import", role: roleAdmin, deny: denyImport, handle: (*Console).handleImportPreview},
		adminRoute{method: http.MethodPost, path: "/admin/import/confirm", role: roleAdmin, deny: denyImport, handle: (*Console).handleImportConfirm},
	)
)

const denyImport = "Only admins can import CSV files."
