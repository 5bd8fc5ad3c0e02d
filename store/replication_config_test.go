package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/litestream/file"
	"github.com/benbjohnson/litestream/s3"
)

func TestParseLitestreamConfig(t *testing.T) {
	env := map[string]string{"BUCKET": "shop-db", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s3cr3t", "DATA": "/data"}
	getenv := func(k string) string { return env[k] }

	t.Run("replica with ${VAR} expansion and inherited settings", func(t *testing.T) {
		cfg, err := parseLitestreamConfig([]byte(`# litestream.yml
access-key-id: ${AWS_ACCESS_KEY_ID}
secret-access-key: "${AWS_SECRET_ACCESS_KEY}"
snapshot:
  interval: 12h
  retention: 72h
dbs:
  - path: ${DATA}/technifold.db   # the app's DATABASE_PATH
    monitor-interval: 2s
    replica:
      type: s3
      bucket: $BUCKET
      path: technifold
      endpoint: https://fly.storage.tigris.dev
      region: auto
      force-path-style: false
      sync-interval: 10s
`), getenv)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Snapshot.Interval != 12*time.Hour || cfg.Snapshot.Retention != 72*time.Hour {
			t.Errorf("snapshot = %+v", cfg.Snapshot)
		}
		db, err := cfg.findDB("/data/technifold.db")
		if err != nil {
			t.Fatal(err)
		}
		r := db.Replica
		if db.MonitorInterval != 2*time.Second || r.Bucket != "shop-db" || r.Path != "technifold" || r.Region != "auto" ||
			r.AccessKeyID != "AKID" || r.SecretAccessKey != "s3cr3t" || r.SyncInterval != 10*time.Second ||
			r.ForcePathStyle == nil || *r.ForcePathStyle {
			t.Fatalf("replica = %+v", r)
		}
		client, desc, err := r.replicaClient()
		if err != nil {
			t.Fatal(err)
		}
		sc := client.(*s3.ReplicaClient)
		if sc.Bucket != "shop-db" || sc.Path != "technifold" || sc.Endpoint != "https://fly.storage.tigris.dev" ||
			sc.Region != "auto" || sc.AccessKeyID != "AKID" || sc.ForcePathStyle || sc.RequireContentMD5 {
			t.Fatalf("s3 client = bucket %q path %q endpoint %q region %q key %q path-style %v md5 %v",
				sc.Bucket, sc.Path, sc.Endpoint, sc.Region, sc.AccessKeyID, sc.ForcePathStyle, sc.RequireContentMD5)
		}
		if strings.Contains(desc, "s3cr3t") || strings.Contains(desc, "AKID") {
			t.Fatalf("description shows credentials: %s", desc)
		}
	})

	t.Run("deprecated replicas list with a url", func(t *testing.T) {
		cfg, err := parseLitestreamConfig([]byte(`dbs:
- path: /data/technifold.db
  replicas:
  - url: s3://shop-db/technifold?endpoint=http://127.0.0.1:9000&force-path-style=true
`), getenv)
		if err != nil {
			t.Fatal(err)
		}
		client, _, err := cfg.DBs[0].Replica.replicaClient()
		if err != nil {
			t.Fatal(err)
		}
		if sc := client.(*s3.ReplicaClient); sc.Bucket != "shop-db" || sc.Endpoint != "http://127.0.0.1:9000" || !sc.ForcePathStyle {
			t.Fatalf("s3 client = %+v", sc)
		}
	})

	t.Run("file replica", func(t *testing.T) {
		cfg, err := parseLitestreamConfig([]byte("dbs:\n  - path: /data/technifold.db\n    replica:\n      path: '/backups/technifold'\n"), getenv)
		if err != nil {
			t.Fatal(err)
		}
		client, desc, err := cfg.DBs[0].Replica.replicaClient()
		if err != nil {
			t.Fatal(err)
		}
		if fc := client.(*file.ReplicaClient); fc.Path() != "/backups/technifold" || desc != "file:///backups/technifold" {
			t.Fatalf("file client path %q, desc %q", fc.Path(), desc)
		}
	})

	for _, tc := range []struct{ name, src, want string }{
		{"no dbs", "addr: :9090\n", "no dbs"},
		{"two replicas", "dbs:\n  - path: /a.db\n    replicas:\n      - path: /x\n      - path: /y\n", "supports one"},
		{"no replica", "dbs:\n  - path: /a.db\n", "no replica"},
		{"directory", "dbs:\n  - dir: /data\n    replica:\n      path: /x\n", "no path"},
		{"anchor", "dbs:\n  - path: /a.db\n    replica: &r\n      path: /x\n", "does not support"},
		{"flow", "dbs: [ ]\n", "does not support"},
		{"bad indent", "dbs:\n  - path: /a.db\n      replica:\n", "indentation"},
		{"tab", "dbs:\n\t- path: /a.db\n", "tabs"},
		{"bad duration", "dbs:\n  - path: /a.db\n    replica:\n      path: /x\n      sync-interval: soon\n", "duration"},
		{"duplicate", "dbs:\n  - path: /a.db\n    path: /b.db\n", "duplicate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseLitestreamConfig([]byte(tc.src), getenv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestNewReplicatorFromLitestreamConfig(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "technifold.db")
	cfgPath := filepath.Join(dir, "litestream.yml")
	src := "dbs:\n  - path: ${DB}\n    replica:\n      type: file\n      path: ${REPLICA}\n      sync-interval: 3s\n"
	if err := os.WriteFile(cfgPath, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DB": dbPath, "REPLICA": filepath.Join(dir, "replica")}
	r, err := NewReplicator(dbPath, ReplicationConfig{ConfigPath: cfgPath, Getenv: func(k string) string { return env[k] }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.syncEvery != 3*time.Second || r.Location() != "file://"+filepath.Join(dir, "replica") {
		t.Fatalf("sync every %s, location %s", r.syncEvery, r.Location())
	}
	_, err = NewReplicator(filepath.Join(dir, "other.db"), ReplicationConfig{ConfigPath: cfgPath, Getenv: func(k string) string { return env[k] }}, nil)
	if err == nil || !strings.Contains(err.Error(), "no dbs entry for") {
		t.Fatalf("mismatched path: %v", err)
	}
}

func FuzzParseYAMLSubset(f *testing.F) {
	for _, seed := range []string{
		"dbs:\n  - path: /a.db\n    replica:\n      url: s3://b/p\n",
		"a:\n- b\n- c: d\n  e: 'f''g'\n",
		"x: \"esc\\\"aped\" # c\n",
		"- \n  -\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		_, _ = parseYAMLSubset(src) // must not panic or loop
	})
}

// The repository's litestream.yml is read by this parser with Fly's Tigris variables.
func TestRepositoryLitestreamYML(t *testing.T) {
	data, err := os.ReadFile("../litestream.yml")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_PATH": "/data/technifold.db", "BUCKET_NAME": "technifold-backups",
		"AWS_ENDPOINT_URL_S3": "https://fly.storage.tigris.dev", "AWS_REGION": "auto",
		"AWS_ACCESS_KEY_ID": "tid_x", "AWS_SECRET_ACCESS_KEY": "tsec_y"}
	cfg, err := parseLitestreamConfig(data, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	db, err := cfg.findDB("/data/technifold.db")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Snapshot.Retention != 72*time.Hour || db.Replica.SyncInterval != time.Second {
		t.Errorf("snapshot %+v, sync interval %s", cfg.Snapshot, db.Replica.SyncInterval)
	}
	client, desc, err := db.Replica.replicaClient()
	if err != nil {
		t.Fatal(err)
	}
	sc := client.(*s3.ReplicaClient)
	if sc.Bucket != "technifold-backups" || sc.Path != "technifold" || sc.Region != "auto" || sc.AccessKeyID != "tid_x" ||
		sc.Endpoint != "https://fly.storage.tigris.dev" || desc != "s3://technifold-backups/technifold (endpoint fly.storage.tigris.dev)" {
		t.Fatalf("client: bucket %q path %q region %q endpoint %q; desc %q", sc.Bucket, sc.Path, sc.Region, sc.Endpoint, desc)
	}
}

func TestReplicaURLForms(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", "")
	for _, tc := range []struct{ url, endpoint, location string }{
		{"s3://shop/technifold?endpoint=https://fly.storage.tigris.dev&region=auto", "https://fly.storage.tigris.dev",
			"s3://shop/technifold (endpoint fly.storage.tigris.dev)"},
		{"s3://shop/technifold?endpoint=https://acct.r2.cloudflarestorage.com&region=auto", "https://acct.r2.cloudflarestorage.com",
			"s3://shop/technifold (endpoint acct.r2.cloudflarestorage.com)"},
		{"s3://shop/technifold?endpoint=s3.eu-central-003.backblazeb2.com&region=eu-central-003", "https://s3.eu-central-003.backblazeb2.com",
			"s3://shop/technifold (endpoint s3.eu-central-003.backblazeb2.com)"},
		{"s3://shop/technifold?endpoint=http://127.0.0.1:9000&region=us-east-1&force-path-style=true", "http://127.0.0.1:9000",
			"s3://shop/technifold (endpoint 127.0.0.1:9000)"},
		{"s3://shop/technifold?region=eu-west-2", "", "s3://shop/technifold"},
		{"file:///var/backups/technifold", "", "file:///var/backups/technifold"},
	} {
		r, err := NewReplicator(filepath.Join(t.TempDir(), "x.db"), ReplicationConfig{ReplicaURL: tc.url}, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if r.Location() != tc.location {
			t.Errorf("%s: location %q; want %q", tc.url, r.Location(), tc.location)
		}
		if sc, ok := r.client.(*s3.ReplicaClient); ok && (sc.Endpoint != tc.endpoint || sc.Bucket != "shop" || sc.Path != "technifold") {
			t.Errorf("%s: endpoint %q bucket %q path %q", tc.url, sc.Endpoint, sc.Bucket, sc.Path)
		}
	}
}
