package app

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/technifold/technifold/store"
)

// The replica comes from REPLICA_URL, else LITESTREAM_CONFIG, else the secrets `fly storage
// create` sets (BUCKET_NAME, AWS_ENDPOINT_URL_S3, AWS_REGION).
func TestReplicaURLPrecedence(t *testing.T) {
	fly := map[string]string{"BUCKET_NAME": "technifold-backups", "AWS_ENDPOINT_URL_S3": "https://fly.storage.tigris.dev",
		"AWS_REGION": "auto", "AWS_ACCESS_KEY_ID": "tid_x", "AWS_SECRET_ACCESS_KEY": "tsec_x"}
	with := func(extra map[string]string) func(string) string {
		return func(k string) string {
			if v, ok := extra[k]; ok {
				return v
			}
			return fly[k]
		}
	}
	cases := []struct {
		name       string
		env        map[string]string
		wantURL    string
		wantConfig string
	}{
		{"bucket secrets only", nil,
			"s3://technifold-backups/technifold?endpoint=https%3A%2F%2Ffly.storage.tigris.dev&region=auto", ""},
		{"REPLICA_URL wins", map[string]string{"REPLICA_URL": "file:///var/backups/t"}, "file:///var/backups/t", ""},
		{"LITESTREAM_CONFIG wins over the bucket", map[string]string{"LITESTREAM_CONFIG": "/etc/technifold/litestream.yml"},
			"", "/etc/technifold/litestream.yml"},
		{"no bucket: off", map[string]string{"BUCKET_NAME": ""}, "", ""},
		{"bucket without endpoint or region (AWS)", map[string]string{"AWS_ENDPOINT_URL_S3": "", "AWS_REGION": ""},
			"s3://technifold-backups/technifold", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := LoadConfig(with(tc.env))
			if err != nil {
				t.Fatalf("config: %v", err)
			}
			if got := cfg.replicaURL(); got != tc.wantURL {
				t.Errorf("replica URL %q; want %q", got, tc.wantURL)
			}
			if cfg.LitestreamConfig != tc.wantConfig {
				t.Errorf("LITESTREAM_CONFIG %q; want %q", cfg.LitestreamConfig, tc.wantConfig)
			}
			on := tc.wantURL != "" || tc.wantConfig != ""
			if f := cfg.Feature(FeatureReplication); f.On() != on {
				t.Errorf("replication on = %v; want %v (%s)", f.On(), on, f.Why())
			}
			if strings.Contains(cfg.replicaURL(), "tsec_x") || strings.Contains(cfg.replicaURL(), "tid_x") {
				t.Error("credentials in the replica URL")
			}
		})
	}
}

// With only the Fly storage secrets set, the server replicates into the bucket and `restore`
// brings the database back: the documented `fly storage create` + `fly deploy` works unedited.
func TestBucketSecretsReplicateAndRestore(t *testing.T) {
	const bucket = "technifold-backups"
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	defer srv.Close()
	// Litestream's S3 client reads the keys from the process environment, as on Fly.
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_PROFILE": "", "AWS_CA_BUNDLE": ""} {
		t.Setenv(k, v)
	}
	os.Unsetenv("AWS_CA_BUNDLE")
	dir := t.TempDir()
	env := map[string]string{"DATABASE_PATH": filepath.Join(dir, "technifold.db"), "BUCKET_NAME": bucket,
		"AWS_ENDPOINT_URL_S3": srv.URL, "AWS_REGION": "us-east-1", "LOG_FORMAT": "text"}
	getenv := func(k string) string { return env[k] }
	cfg, err := LoadConfig(getenv)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, cfg.DatabasePath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	repl, err := newReplicator(cfg, getenv, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || repl == nil {
		t.Fatalf("replicator from the bucket secrets: %v, %v", repl, err)
	}
	if err := repl.Open(ctx); err != nil {
		t.Fatal(err)
	}
	addCompanies(t, db, 0, 7)
	if err := repl.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	if err := repl.Close(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()

	list, err := backend.ListBucket(bucket, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) == 0 {
		t.Fatal("nothing uploaded to the bucket")
	}
	for _, obj := range list.Contents {
		if !strings.HasPrefix(obj.Key, BucketReplicaPath+"/") {
			t.Errorf("object %q outside %s/", obj.Key, BucketReplicaPath)
		}
	}

	out := filepath.Join(dir, "restored.db")
	code, stdout, stderr := runCLI(t, env, "restore", "--output", out)
	if code != 0 {
		t.Fatalf("restore: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "s3://"+bucket+"/"+BucketReplicaPath) {
		t.Errorf("restore did not name the bucket replica: %s", stdout)
	}
	if n := countCompanies(t, out); n != 7 {
		t.Fatalf("restored %d companies; want 7", n)
	}
}
