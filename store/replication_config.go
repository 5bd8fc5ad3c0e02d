package store

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/file"
	"github.com/benbjohnson/litestream/s3"
)

// litestreamConfig is the part of Litestream v0.5's litestream.yml this binary understands:
// dbs[].path with one replica (dbs[].replica, or the deprecated one-element dbs[].replicas),
// replica type/url/path/bucket/endpoint/region/credentials/force-path-style/sync-interval,
// settings inherited from the top level, and snapshot interval/retention. Litestream's own
// config types live in its main package, so they cannot be imported.
type litestreamConfig struct {
	Global   replicaSettings
	Snapshot snapshotSettings
	DBs      []litestreamDB
}

type snapshotSettings struct {
	Interval, Retention time.Duration
}

type litestreamDB struct {
	Path            string
	MonitorInterval time.Duration
	Snapshot        snapshotSettings
	Replica         *replicaSettings
}

// replicaSettings are one replica's fields (or the top-level defaults they inherit).
type replicaSettings struct {
	Type, URL, Path, Bucket, Endpoint, Region string
	AccessKeyID, SecretAccessKey              string
	ForcePathStyle                            *bool
	SyncInterval                              time.Duration
}

// parseLitestreamConfig reads a litestream.yml after expanding $VAR and ${VAR} with getenv,
// as `litestream replicate -config` does.
func parseLitestreamConfig(data []byte, getenv func(string) string) (*litestreamConfig, error) {
	expanded := os.Expand(string(data), getenv)
	root, err := parseYAMLSubset(expanded)
	if err != nil {
		return nil, err
	}
	top, ok := root.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("litestream config: the top level must be a mapping")
	}
	cfg := &litestreamConfig{}
	if err := cfg.Global.decode(top, "top level"); err != nil {
		return nil, err
	}
	if err := cfg.Snapshot.decode(top["snapshot"], "snapshot"); err != nil {
		return nil, err
	}
	dbs, ok := top["dbs"].([]any)
	if !ok || len(dbs) == 0 {
		return nil, fmt.Errorf("litestream config: no dbs entry")
	}
	for i, raw := range dbs {
		m, ok := raw.(map[string]any)
		where := fmt.Sprintf("dbs[%d]", i)
		if !ok {
			return nil, fmt.Errorf("litestream config: %s must be a mapping", where)
		}
		var db litestreamDB
		if db.Path, err = yamlString(m, "path", where); err != nil {
			return nil, err
		}
		if db.Path == "" {
			return nil, fmt.Errorf("litestream config: %s has no path (directory replication is not supported here)", where)
		}
		if db.MonitorInterval, err = yamlDuration(m, "monitor-interval", where); err != nil {
			return nil, err
		}
		if err := db.Snapshot.decode(m["snapshot"], where+".snapshot"); err != nil {
			return nil, err
		}
		var rawReplica any
		switch list, _ := m["replicas"].([]any); {
		case m["replica"] != nil && len(list) > 0:
			return nil, fmt.Errorf("litestream config: %s has both replica and replicas", where)
		case m["replica"] != nil:
			rawReplica = m["replica"]
		case len(list) == 1:
			rawReplica = list[0]
		case len(list) > 1:
			return nil, fmt.Errorf("litestream config: %s has %d replicas; Litestream v0.5 supports one", where, len(list))
		default:
			return nil, fmt.Errorf("litestream config: %s has no replica", where)
		}
		rm, ok := rawReplica.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("litestream config: %s replica must be a mapping", where)
		}
		r := cfg.Global // inherit top-level settings, as litestream does
		r.Type, r.URL, r.Path = "", "", ""
		if err := r.decode(rm, where+".replica"); err != nil {
			return nil, err
		}
		db.Replica = &r
		cfg.DBs = append(cfg.DBs, db)
	}
	return cfg, nil
}

func (s *snapshotSettings) decode(raw any, where string) error {
	if raw == nil {
		return nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return fmt.Errorf("litestream config: %s must be a mapping", where)
	}
	var err error
	if s.Interval, err = yamlDuration(m, "interval", where); err != nil {
		return err
	}
	s.Retention, err = yamlDuration(m, "retention", where)
	return err
}

// decode overwrites the fields present in m.
func (r *replicaSettings) decode(m map[string]any, where string) error {
	for key, dst := range map[string]*string{"type": &r.Type, "url": &r.URL, "path": &r.Path, "bucket": &r.Bucket,
		"endpoint": &r.Endpoint, "region": &r.Region, "access-key-id": &r.AccessKeyID,
		"secret-access-key": &r.SecretAccessKey} {
		if _, ok := m[key]; !ok {
			continue
		}
		v, err := yamlString(m, key, where)
		if err != nil {
			return err
		}
		*dst = v
	}
	if _, ok := m["force-path-style"]; ok {
		s, _ := yamlString(m, "force-path-style", where)
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("litestream config: %s force-path-style must be true or false", where)
		}
		r.ForcePathStyle = &b
	}
	if _, ok := m["sync-interval"]; ok {
		d, err := yamlDuration(m, "sync-interval", where)
		if err != nil {
			return err
		}
		r.SyncInterval = d
	}
	return nil
}

// findDB returns the entry whose path names the same file as dbPath.
func (c *litestreamConfig) findDB(dbPath string) (*litestreamDB, error) {
	want, _ := filepath.Abs(dbPath)
	var have []string
	for i := range c.DBs {
		p, _ := filepath.Abs(expandHome(c.DBs[i].Path))
		if p == want {
			return &c.DBs[i], nil
		}
		have = append(have, c.DBs[i].Path)
	}
	return nil, fmt.Errorf("litestream config has no dbs entry for %s (it has %s); its path must match DATABASE_PATH",
		dbPath, strings.Join(have, ", "))
}

// replicaClient builds the Litestream client a replica entry describes, and a description of
// where it points that is safe to log (no credentials).
func (r *replicaSettings) replicaClient() (litestream.ReplicaClient, string, error) {
	typ := r.Type
	if typ == "" {
		switch {
		case r.URL != "":
			typ = litestream.ReplicaTypeFromURL(r.URL)
		case r.Bucket != "":
			typ = "s3"
		default:
			typ = "file"
		}
	}
	switch typ {
	case "file":
		p := r.Path
		if r.URL != "" {
			_, _, up, err := litestream.ParseReplicaURL(r.URL)
			if err != nil {
				return nil, "", fmt.Errorf("litestream config: replica url: %w", err)
			}
			p = up
		}
		if p == "" {
			return nil, "", fmt.Errorf("litestream config: file replica needs a path")
		}
		p, _ = filepath.Abs(expandHome(p))
		return file.NewReplicaClient(p), "file://" + p, nil
	case "s3":
		raw := r.URL
		if raw == "" {
			if r.Bucket == "" {
				return nil, "", fmt.Errorf("litestream config: s3 replica needs a url or a bucket")
			}
			u := url.URL{Scheme: "s3", Host: r.Bucket, Path: "/" + strings.TrimPrefix(r.Path, "/")}
			raw = u.String()
		}
		u, err := url.Parse(raw)
		if err != nil {
			return nil, "", fmt.Errorf("litestream config: replica url: %w", err)
		}
		q := u.Query()
		if r.Endpoint != "" {
			q.Set("endpoint", r.Endpoint)
		}
		if r.Region != "" {
			q.Set("region", r.Region)
		}
		if r.ForcePathStyle != nil {
			q.Set("force-path-style", strconv.FormatBool(*r.ForcePathStyle))
		}
		u.RawQuery = q.Encode()
		client, desc, err := replicaClientFromURL(u.String())
		if err != nil {
			return nil, "", err
		}
		if sc, ok := client.(*s3.ReplicaClient); ok && r.AccessKeyID != "" {
			sc.AccessKeyID, sc.SecretAccessKey = r.AccessKeyID, r.SecretAccessKey
		}
		return client, desc, nil
	}
	return nil, "", fmt.Errorf("litestream config: replica type %q is not supported (use s3 or file)", typ)
}

// replicaClientFromURL builds a client from REPLICA_URL through Litestream's own URL parsing,
// so provider defaults (Tigris, R2, B2, MinIO…) match the litestream CLI.
func replicaClientFromURL(raw string) (litestream.ReplicaClient, string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return nil, "", fmt.Errorf("replica URL must look like s3://bucket/path?endpoint=… or file:///path")
	}
	switch u.Scheme {
	case "s3", "file":
	default:
		return nil, "", fmt.Errorf("replica URL scheme %q is not supported (use s3:// or file://)", u.Scheme)
	}
	client, err := litestream.NewReplicaClientFromURL(raw)
	if err != nil {
		return nil, "", fmt.Errorf("replica URL: %w", err)
	}
	desc := u.Scheme + "://" + u.Host + u.Path
	if sc, ok := client.(*s3.ReplicaClient); ok && sc.Endpoint != "" {
		if eu, err := url.Parse(sc.Endpoint); err == nil {
			desc += " (endpoint " + eu.Host + ")"
		}
	}
	return client, desc, nil
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}

func yamlString(m map[string]any, key, where string) (string, error) {
	switch v := m[key].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	}
	return "", fmt.Errorf("litestream config: %s.%s must be a single value", where, key)
}

func yamlDuration(m map[string]any, key, where string) (time.Duration, error) {
	s, err := yamlString(m, key, where)
	if err != nil || s == "" {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("litestream config: %s.%s must be a duration like 1s or 24h, got %q", where, key, s)
	}
	return d, nil
}

// parseYAMLSubset parses the block-style YAML litestream.yml files use: nested mappings,
// "- " sequences (of scalars or mappings), plain or quoted scalars and # comments. Anchors,
// flow collections and multi-line scalars are refused with the line number.
func parseYAMLSubset(src string) (any, error) {
	var lines []yamlLine
	for i, raw := range strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n") {
		if strings.HasPrefix(strings.TrimSpace(raw), "---") && len(lines) == 0 {
			continue
		}
		text := stripYAMLComment(raw)
		if strings.TrimSpace(text) == "" {
			continue
		}
		indent := len(text) - len(strings.TrimLeft(text, " "))
		if strings.HasPrefix(text[indent:], "\t") {
			return nil, fmt.Errorf("litestream config line %d: indent with spaces, not tabs", i+1)
		}
		lines = append(lines, yamlLine{no: i + 1, indent: indent, text: strings.TrimRight(text[indent:], " \t")})
	}
	if len(lines) == 0 {
		return map[string]any{}, nil
	}
	p := &yamlParser{lines: lines}
	v, err := p.block(lines[0].indent)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.lines) {
		return nil, fmt.Errorf("litestream config line %d: unexpected indentation", p.lines[p.pos].no)
	}
	return v, nil
}

type yamlLine struct {
	no, indent int
	text       string
}

type yamlParser struct {
	lines []yamlLine
	pos   int
}

// block parses the mapping or sequence whose lines start at exactly indent.
func (p *yamlParser) block(indent int) (any, error) {
	if strings.HasPrefix(p.lines[p.pos].text, "-") && (len(p.lines[p.pos].text) == 1 || p.lines[p.pos].text[1] == ' ') {
		return p.sequence(indent)
	}
	return p.mapping(indent, map[string]any{})
}

func (p *yamlParser) sequence(indent int) (any, error) {
	var out []any
	for p.pos < len(p.lines) {
		ln := p.lines[p.pos]
		if ln.indent < indent {
			break
		}
		if ln.indent > indent || !(ln.text == "-" || strings.HasPrefix(ln.text, "- ")) {
			return nil, fmt.Errorf("litestream config line %d: expected a \"- \" item", ln.no)
		}
		rest := strings.TrimSpace(strings.TrimPrefix(ln.text, "-"))
		switch {
		case rest == "":
			p.pos++
			if p.pos >= len(p.lines) || p.lines[p.pos].indent <= indent {
				out = append(out, nil)
				continue
			}
			v, err := p.block(p.lines[p.pos].indent)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		case isYAMLKey(rest):
			// "- key: value" opens a mapping whose further keys align with "key".
			inner := indent + len(ln.text) - len(rest)
			p.lines[p.pos] = yamlLine{no: ln.no, indent: inner, text: rest}
			v, err := p.mapping(inner, map[string]any{})
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		default:
			s, err := yamlScalar(rest, ln.no)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
			p.pos++
		}
	}
	return out, nil
}

func (p *yamlParser) mapping(indent int, out map[string]any) (any, error) {
	for p.pos < len(p.lines) {
		ln := p.lines[p.pos]
		if ln.indent < indent {
			break
		}
		if ln.indent > indent {
			return nil, fmt.Errorf("litestream config line %d: unexpected indentation", ln.no)
		}
		if !isYAMLKey(ln.text) {
			return nil, fmt.Errorf("litestream config line %d: expected \"key: value\"", ln.no)
		}
		key, rest := splitYAMLKey(ln.text)
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("litestream config line %d: duplicate key %q", ln.no, key)
		}
		p.pos++
		if rest != "" {
			s, err := yamlScalar(rest, ln.no)
			if err != nil {
				return nil, err
			}
			out[key] = s
			continue
		}
		// A nested block is indented further, or is a sequence at the key's own indent.
		if p.pos < len(p.lines) {
			next := p.lines[p.pos]
			if next.indent > indent || (next.indent == indent && strings.HasPrefix(next.text, "- ")) {
				v, err := p.block(next.indent)
				if err != nil {
					return nil, err
				}
				out[key] = v
				continue
			}
		}
		out[key] = nil
	}
	return out, nil
}

func isYAMLKey(s string) bool {
	if strings.HasPrefix(s, "\"") || strings.HasPrefix(s, "'") {
		return false
	}
	i := strings.Index(s, ":")
	return i > 0 && (i == len(s)-1 || s[i+1] == ' ')
}

func splitYAMLKey(s string) (string, string) {
	i := strings.Index(s, ":")
	return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
}

func yamlScalar(s string, line int) (string, error) {
	switch {
	case strings.HasPrefix(s, "\""):
		v, err := strconv.Unquote(s)
		if err != nil {
			return "", fmt.Errorf("litestream config line %d: bad double-quoted string", line)
		}
		return v, nil
	case strings.HasPrefix(s, "'"):
		if len(s) < 2 || !strings.HasSuffix(s, "'") {
			return "", fmt.Errorf("litestream config line %d: bad single-quoted string", line)
		}
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	case strings.ContainsAny(s[:1], "[{&*!|>%@`"):
		return "", fmt.Errorf("litestream config line %d: %q is YAML this parser does not support (write plain values)", line, s[:1])
	case s == "~" || s == "null":
		return "", nil
	}
	return s, nil
}

// stripYAMLComment removes a # comment that starts a line or follows a space, outside quotes.
func stripYAMLComment(s string) string {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' {
				i++
			}
		case c == '"' || c == '\'':
			if i == 0 || s[i-1] == ' ' || s[i-1] == ':' || s[i-1] == '-' {
				quote = c
			}
		case c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			return s[:i]
		}
	}
	return s
}
