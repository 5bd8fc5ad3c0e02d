package app

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"gopkg.in/yaml.v3"
)

// repoFile reads a file of the repository (the tests run in app/).
func repoFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var placeholder = regexp.MustCompile(`<[^<>\s]+>`)

// fly.toml deploys as written: no value to fill in, replication from the `fly storage create`
// secrets, Fly's metrics scrape on the server's /metrics, the volume where the database is.
func TestFlyTomlDeploysUnedited(t *testing.T) {
	var fly struct {
		App         string            `toml:"app"`
		KillTimeout string            `toml:"kill_timeout"`
		Env         map[string]string `toml:"env"`
		Metrics     *struct {
			Port int    `toml:"port"`
			Path string `toml:"path"`
		} `toml:"metrics"`
		Mounts []struct {
			Source      string `toml:"source"`
			Destination string `toml:"destination"`
		} `toml:"mounts"`
		HTTPService struct {
			InternalPort int `toml:"internal_port"`
			Checks       []struct {
				Path string `toml:"path"`
			} `toml:"checks"`
		} `toml:"http_service"`
	}
	raw := repoFile(t, "fly.toml")
	md, err := toml.Decode(string(raw), &fly)
	if err != nil {
		t.Fatalf("fly.toml does not parse: %v", err)
	}
	var all map[string]any
	if _, err := toml.Decode(string(raw), &all); err != nil {
		t.Fatal(err)
	}
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch v := v.(type) {
		case string:
			if placeholder.MatchString(v) {
				t.Errorf("fly.toml %s = %q holds a placeholder to edit", key, v)
			}
		case map[string]any:
			for k, x := range v {
				walk(key+"."+k, x)
			}
		case []map[string]any:
			for i, x := range v {
				walk(key+"["+strconv.Itoa(i)+"]", x)
			}
		case []any:
			for i, x := range v {
				walk(key+"["+strconv.Itoa(i)+"]", x)
			}
		}
	}
	walk("", all)
	if fly.App == "" {
		t.Error("fly.toml has no app name")
	}
	if fly.Metrics == nil {
		t.Fatal("fly.toml has no [metrics] section")
	}
	if !md.IsDefined("metrics", "port") || fly.Metrics.Port != fly.HTTPService.InternalPort || fly.Metrics.Path != "/metrics" {
		t.Errorf("[metrics] = %+v; want port %d (the server's) and path /metrics", *fly.Metrics, fly.HTTPService.InternalPort)
	}
	if addr := fly.Env["ADDR"]; !strings.HasSuffix(addr, ":"+strconv.Itoa(fly.HTTPService.InternalPort)) {
		t.Errorf("ADDR %q does not listen on internal_port %d", addr, fly.HTTPService.InternalPort)
	}
	if len(fly.Mounts) != 1 || path.Dir(fly.Env["DATABASE_PATH"]) != fly.Mounts[0].Destination {
		t.Errorf("the database %q is not on the mounted volume %+v", fly.Env["DATABASE_PATH"], fly.Mounts)
	}
	if len(fly.HTTPService.Checks) == 0 || fly.HTTPService.Checks[0].Path != "/healthz" {
		t.Errorf("http checks %+v; want /healthz", fly.HTTPService.Checks)
	}

	// With fly.toml's [env] and the secrets `fly storage create` sets, replication is on.
	secrets := map[string]string{"BUCKET_NAME": "technifold-backups", "AWS_ENDPOINT_URL_S3": "https://fly.storage.tigris.dev",
		"AWS_REGION": "auto", "AWS_ACCESS_KEY_ID": "tid", "AWS_SECRET_ACCESS_KEY": "tsec"}
	cfg, err := LoadConfig(func(k string) string {
		if v, ok := fly.Env[k]; ok {
			return v
		}
		return secrets[k]
	})
	if err != nil {
		t.Fatalf("fly.toml's [env] does not load: %v", err)
	}
	if f := cfg.Feature(FeatureReplication); !f.On() {
		t.Fatalf("replication is off on Fly: %s", f.Why())
	}
	if got := cfg.replicaURL(); !strings.HasPrefix(got, "s3://technifold-backups/technifold?") || !strings.Contains(got, "fly.storage.tigris.dev") {
		t.Errorf("replica on Fly = %q", got)
	}
}

// The image (built from source, or by GoReleaser from its binaries) runs as a numeric
// non-root user that owns the volume, and the commands the image runs are real CLI verbs.
func TestDockerfileRunsAsNumericNonRootUser(t *testing.T) {
	for _, name := range []string{"Dockerfile", "deploy/Dockerfile.release"} {
		t.Run(name, func(t *testing.T) { checkDockerfile(t, name) })
	}
}

func checkDockerfile(t *testing.T, name string) {
	raw := string(repoFile(t, name))
	// Join continuation lines, keep only the final (runtime) stage.
	joined := strings.ReplaceAll(raw, "\\\n", " ")
	var stage []string
	sc := bufio.NewScanner(strings.NewReader(joined))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(strings.ToUpper(line), "FROM ") {
			stage = nil
		}
		stage = append(stage, line)
	}
	var user, entrypoint, cmd, health string
	var runs []string
	for _, line := range stage {
		instr, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(instr) {
		case "USER":
			user = strings.TrimSpace(rest)
		case "ENTRYPOINT":
			entrypoint = rest
		case "CMD":
			cmd = rest
		case "HEALTHCHECK":
			health = rest
		case "RUN":
			runs = append(runs, rest)
		}
	}
	m := regexp.MustCompile(`^(\d+):(\d+)$`).FindStringSubmatch(user)
	if m == nil {
		t.Fatalf("runtime stage USER %q; want numeric uid:gid", user)
	}
	if m[1] == "0" || m[2] == "0" {
		t.Fatalf("USER %s is root", user)
	}
	if !strings.Contains(strings.Join(runs, "\n"), "chown "+m[1]+":"+m[2]+" /data") {
		t.Errorf("/data is not given to %s in the image (the volume would not be writable)", user)
	}
	if !strings.Contains(strings.Join(stage, "\n"), "VOLUME /data") {
		t.Error("no VOLUME /data")
	}

	verbs := map[string]bool{}
	for _, c := range commands() {
		verbs[c.name] = true
	}
	execForm := func(what, s string) []string {
		var args []string
		if err := json.Unmarshal([]byte(strings.TrimSpace(s)), &args); err != nil {
			t.Fatalf("%s %q is not in exec form: %v", what, s, err)
		}
		return args
	}
	for what, s := range map[string]string{"CMD": cmd, "HEALTHCHECK": health[strings.Index(health, "CMD ")+4:]} {
		args := execForm(what, s)
		if len(args) < 2 || args[0] != "technifold" || !verbs[args[1]] {
			t.Errorf("%s runs %v, which is not a technifold verb", what, args)
		}
	}
	// The entrypoint script is shipped, parses, and uses the same ids as USER.
	ep := execForm("ENTRYPOINT", entrypoint)
	if len(ep) != 1 || !strings.Contains(raw, "COPY deploy/docker-entrypoint.sh /usr/local/bin/"+ep[0]) {
		t.Fatalf("ENTRYPOINT %v is not the copied deploy/docker-entrypoint.sh", ep)
	}
	script := string(repoFile(t, "deploy/docker-entrypoint.sh"))
	if !strings.Contains(script, "uid="+m[1]) || !strings.Contains(script, "gid="+m[2]) {
		t.Errorf("docker-entrypoint.sh does not drop to %s", user)
	}
	if out, err := exec.Command("sh", "-n", filepath.Join("..", "deploy", "docker-entrypoint.sh")).CombinedOutput(); err != nil {
		t.Errorf("docker-entrypoint.sh does not parse: %v %s", err, out)
	}
}

var metricRef = regexp.MustCompile(`\b(?:technifold|litestream|go|process)_[a-zA-Z0-9_]+`)

// metricsIn returns the metric names a PromQL expression reads.
func metricsIn(expr string) []string {
	// Label matchers' values ("…") may hold route paths, never metric names.
	expr = regexp.MustCompile(`"[^"]*"`).ReplaceAllString(expr, `""`)
	return metricRef.FindAllString(expr, -1)
}

// deploy/prometheus-alerts.yml and deploy/grafana-dashboard.json parse, cover what an operator
// must hear about, and read only series a running server exports.
func TestDeployAlertsAndDashboardUseExportedMetrics(t *testing.T) {
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(repoFile(t, "deploy/prometheus-alerts.yml"))))
	dec.KnownFields(true)
	if err := dec.Decode(&rules); err != nil {
		t.Fatalf("prometheus-alerts.yml: %v", err)
	}
	exprs := map[string]string{} // where → PromQL
	seen := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || strings.TrimSpace(r.Expr) == "" || r.Annotations["summary"] == "" || r.Labels["severity"] == "" {
				t.Errorf("rule %+v lacks alert, expr, severity or summary", r)
			}
			if seen[r.Alert] {
				t.Errorf("alert %s defined twice", r.Alert)
			}
			seen[r.Alert] = true
			exprs["alert "+r.Alert] = r.Expr
		}
	}
	// What the operator must hear about, by the series each alert reads.
	mustWatch := map[string]string{
		"webhook refusals":              "technifold_http_requests_total",
		"failed or dead jobs":           "technifold_outbox_jobs_processed_total",
		"dead jobs waiting":             "technifold_outbox_jobs",
		"replication lag":               "technifold_replication_lag_seconds",
		"backup verification failing":   "technifold_backup_verify_ok",
		"writer saturation":             "technifold_db_writer_busy_seconds_total",
		"replication stopped":           "technifold_replication_running",
		"no upload to the replica":      "technifold_replication_last_sync_timestamp_seconds",
		"backup verification too old":   "technifold_backup_verify_timestamp_seconds",
		"outbox backlog":                "technifold_outbox_due_lag_seconds",
		"webhook refusals are by route": `/api/stripe/webhook`,
	}
	var allRules strings.Builder
	for _, e := range exprs {
		allRules.WriteString(e + "\n")
	}
	for what, series := range mustWatch {
		if !regexp.MustCompile(regexp.QuoteMeta(series) + `\b`).MatchString(allRules.String()) {
			t.Errorf("no alert for %s (%s)", what, series)
		}
	}

	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(repoFile(t, "deploy/grafana-dashboard.json"), &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if dash.Title == "" || dash.UID == "" {
		t.Error("dashboard without title or uid")
	}
	graphs := 0
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		graphs++
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for i, tg := range p.Targets {
			exprs["panel "+p.Title+" #"+strconv.Itoa(i)] = tg.Expr
		}
	}
	if graphs < 10 {
		t.Errorf("dashboard has %d panels", graphs)
	}

	exported := exportedNames(liveMetrics(t))
	used := map[string]bool{}
	for where, e := range exprs {
		names := metricsIn(e)
		if len(names) == 0 {
			t.Errorf("%s reads no metric: %s", where, e)
		}
		for _, n := range names {
			used[n] = true
			if !exported[n] {
				t.Errorf("%s reads %s, which /metrics does not export", where, n)
			}
		}
	}
	// Every technifold_* family shows somewhere on the dashboard or in an alert.
	var unused []string
	for n := range exported {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")
		if strings.HasPrefix(n, "technifold_") && !used[n] && !used[base] && !used[base+"_bucket"] && !used[base+"_sum"] {
			unused = append(unused, n)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("exported but on no panel or alert: %v", unused)
	}
}

// .goreleaser.yaml builds what a release promises: static binaries for linux and darwin on
// amd64 and arm64, the version stamped into the variable `technifold version` prints,
// checksums, and the image from deploy/Dockerfile.release. (`goreleaser check` validates the
// schema; it is not needed here.)
func TestGoReleaserConfig(t *testing.T) {
	var gr struct {
		Version int `yaml:"version"`
		Builds  []struct {
			ID      string   `yaml:"id"`
			Main    string   `yaml:"main"`
			Env     []string `yaml:"env"`
			Goos    []string `yaml:"goos"`
			Goarch  []string `yaml:"goarch"`
			Ldflags []string `yaml:"ldflags"`
		} `yaml:"builds"`
		Checksum struct {
			Algorithm string `yaml:"algorithm"`
		} `yaml:"checksum"`
		Dockers []struct {
			Dockerfile string   `yaml:"dockerfile"`
			IDs        []string `yaml:"ids"`
			Platforms  []string `yaml:"platforms"`
			ExtraFiles []string `yaml:"extra_files"`
		} `yaml:"dockers_v2"`
	}
	if err := yaml.Unmarshal(repoFile(t, ".goreleaser.yaml"), &gr); err != nil {
		t.Fatalf(".goreleaser.yaml: %v", err)
	}
	if gr.Version != 2 || len(gr.Builds) != 1 {
		t.Fatalf("want a version 2 config with one build: %+v", gr)
	}
	b := gr.Builds[0]
	sort.Strings(b.Goos)
	sort.Strings(b.Goarch)
	if strings.Join(b.Goos, ",") != "darwin,linux" || strings.Join(b.Goarch, ",") != "amd64,arm64" {
		t.Errorf("targets %v × %v; want linux and darwin on amd64 and arm64", b.Goos, b.Goarch)
	}
	if !slicesContain(b.Env, "CGO_ENABLED=0") {
		t.Errorf("build env %v is not static (CGO_ENABLED=0)", b.Env)
	}
	// The -X target must be this package's Version, which `technifold version` prints.
	mod := string(repoFile(t, "go.mod"))
	module := strings.Fields(strings.SplitN(mod, "\n", 2)[0])[1]
	want := "-X " + module + "/app.Version={{ .Version }}"
	if !strings.Contains(strings.Join(b.Ldflags, " "), want) {
		t.Errorf("ldflags %v do not stamp %q", b.Ldflags, want)
	}
	old := Version
	Version = "9.9.9-test"
	code, stdout, _ := runCLI(t, nil, "version")
	Version = old
	if code != 0 || !strings.Contains(stdout, "9.9.9-test") {
		t.Errorf("technifold version does not print app.Version: %q", stdout)
	}
	if gr.Checksum.Algorithm != "sha256" {
		t.Errorf("checksum algorithm %q", gr.Checksum.Algorithm)
	}
	if len(gr.Dockers) != 1 || gr.Dockers[0].Dockerfile != "deploy/Dockerfile.release" ||
		!slicesContain(gr.Dockers[0].IDs, b.ID) || len(gr.Dockers[0].Platforms) < 2 {
		t.Fatalf("dockers_v2 %+v", gr.Dockers)
	}
	for _, f := range gr.Dockers[0].ExtraFiles {
		repoFile(t, f)
		if !strings.Contains(string(repoFile(t, "deploy/Dockerfile.release")), "COPY "+f+" ") {
			t.Errorf("extra file %s is not copied into the image", f)
		}
	}
}

func slicesContain(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
