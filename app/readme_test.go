package app

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/technifold/technifold/store"
)

// The README's configuration and route tables are written by hand; these tests keep them
// equal to the code: the configuration table to settings(), the route table to the routes the
// server registers.

// readmeSection returns the lines of README.md under "## title", up to the next "## ".
func readmeSection(t *testing.T, title string) []string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "## ") {
			in = strings.TrimSpace(strings.TrimPrefix(line, "## ")) == title
			continue
		}
		if in {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		t.Fatalf("README.md has no section %q", title)
	}
	return out
}

var codeSpan = regexp.MustCompile("`([^`]+)`")

// tableRows returns the cells of a section's table rows (header and rule rows dropped).
func tableRows(lines []string) [][]string {
	var rows [][]string
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) > 0 && !strings.Contains(cells[0], "`") {
			continue // the header row
		}
		rows = append(rows, cells)
	}
	return rows
}

func TestReadmeConfigurationTableMatchesSettings(t *testing.T) {
	documented := map[string]string{} // variable → its default cell
	for _, row := range tableRows(readmeSection(t, "Configuration")) {
		if len(row) < 3 {
			t.Fatalf("configuration row %v: want variable | default | meaning", row)
		}
		for _, m := range codeSpan.FindAllStringSubmatch(row[0], -1) {
			documented[m[1]] = row[1]
		}
	}
	var c Config
	var missing []string
	inCode := map[string]bool{}
	for _, s := range c.settings() {
		inCode[s.env] = true
		def, ok := documented[s.env]
		switch {
		case !ok:
			missing = append(missing, s.env)
		case s.def != "" && !strings.Contains(def, "`"+s.def+"`"):
			t.Errorf("README gives %s the default %q; the code's is %q", s.env, def, s.def)
		}
		if s.secret { // a secret may also come from the file NAME_FILE names
			inCode[s.env+"_FILE"] = true
			if _, ok := documented[s.env+"_FILE"]; !ok {
				missing = append(missing, s.env+"_FILE")
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("README's configuration table lacks %v", missing)
	}
	for env := range documented {
		if !inCode[env] {
			t.Errorf("README's configuration table documents %s, which settings() does not have", env)
		}
	}
}

// readmeRoutes reads the route table: each code span of the first column is "METHOD[/METHOD]
// /path[?query]" with {param} for a parameter.
func readmeRoutes(t *testing.T) []string {
	t.Helper()
	param := regexp.MustCompile(`\{(\w+)\}`)
	var out []string
	for _, row := range tableRows(readmeSection(t, "HTTP interface")) {
		for _, m := range codeSpan.FindAllStringSubmatch(row[0], -1) {
			methods, path, ok := strings.Cut(m[1], " ")
			if !ok {
				t.Fatalf("route %q: want METHOD /path", m[1])
			}
			path, _, _ = strings.Cut(path, "?")
			path = param.ReplaceAllString(path, ":$1")
			for _, method := range strings.Split(methods, "/") {
				out = append(out, method+" "+path)
			}
		}
	}
	sort.Strings(out)
	return out
}

// The admin UI's own pages (/admin/…) are described in the README's admin section, not in the
// route table; every other route must be in the table, and the table must name no other.
func TestReadmeRouteTableMatchesTheRouter(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	var registered []string
	for _, r := range e.srv.Routes() {
		_, path, _ := strings.Cut(r, " ")
		if path == "/" || path == "/admin" || strings.HasPrefix(path, "/admin/") {
			continue
		}
		registered = append(registered, r)
	}
	sort.Strings(registered)
	registered = slices.Compact(registered)
	documented := readmeRoutes(t)
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("README's route table lacks %s", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(registered, r) {
			t.Errorf("README's route table names %s, which the server does not register", r)
		}
	}
}

// The README's Jobs section names every declared job kind.
func TestReadmeNamesEveryJobKind(t *testing.T) {
	text := strings.Join(readmeSection(t, "Jobs"), "\n")
	for _, k := range store.JobKinds() {
		if !strings.Contains(text, "`"+string(k.Kind)+"`") {
			t.Errorf("README's Jobs section does not name %s", k.Kind)
		}
	}
}
