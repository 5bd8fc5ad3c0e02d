#!/usr/bin/env bash
# Times `technifold restore` against the Litestream CLI's `litestream restore` (v0.5.18, the
# version in go.mod) on the same replica, side by side, and `technifold backup verify`.
#
#   scripts/restore-compare.sh [SIZE_MB] [RUNS]      (defaults: 250 MB, 5 runs of each)
#
# It builds technifold, installs the litestream CLI through the Go module proxy when it is not
# on the PATH, writes a SIZE_MB database with sqlite3 (events with JSON payloads: compresses
# about 2:1, like real data), replicates it to a file:// replica with `technifold serve`, adds
# the demo data set on top (so the restore applies increments after the snapshot),
# then restores it RUNS times with each tool, alternating, and prints the medians of wall time
# and CPU time (user+sys). CPU time is the steadier figure on a shared machine. The restored
# files must be byte-identical. WORK=dir keeps the files there (default: a temporary dir);
# REUSE=1 with the same WORK skips making the database and replica again.
set -euo pipefail

size_mb=${1:-250}
runs=${2:-5}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
cleanup() {
  if [ -n "${serve_pid:-}" ]; then kill "$serve_pid" 2>/dev/null || true; fi
  if [ -z "${WORK:-}" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

command -v sqlite3 >/dev/null || { echo "restore-compare: needs sqlite3 (apt-get install sqlite3)" >&2; exit 1; }
echo "building technifold…" >&2
(cd "$repo" && CGO_ENABLED=0 go build -o "$work/technifold" .)
litestream=$(command -v litestream || true)
if [ -z "$litestream" ]; then
  echo "installing the litestream CLI v0.5.18…" >&2
  GOBIN="$work" CGO_ENABLED=0 go install github.com/benbjohnson/litestream/cmd/litestream@v0.5.18
  litestream="$work/litestream"
fi
"$litestream" version >&2

db="$work/data/technifold.db"
replica="$work/replica"
if [ "${REUSE:-}" = 1 ] && [ -d "$replica" ] && [ -f "$db" ]; then
  echo "reusing $db and $replica" >&2
else
rm -rf "$work/data" "$replica"
mkdir -p "$work/data"
rows=$((size_mb * 3900))
echo "writing a ${size_mb} MB database ($rows rows)…" >&2
sqlite3 "$db" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
CREATE TABLE bulk_events (id INTEGER PRIMARY KEY, company_id TEXT NOT NULL, kind TEXT NOT NULL,
  occurred_at TEXT NOT NULL, payload TEXT NOT NULL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < $rows)
INSERT INTO bulk_events (company_id, kind, occurred_at, payload)
SELECT printf('C%06d', abs(random()) % 50000),
       CASE abs(random()) % 4 WHEN 0 THEN 'offer_view' WHEN 1 THEN 'checkout_started' WHEN 2 THEN 'order_paid' ELSE 'email_sent' END,
       strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('-%d seconds', abs(random()) % 30000000)),
       printf('{"order":"O%08d","amount":%d,"currency":"gbp","note":"%s","ref":"%s"}', i, abs(random()) % 100000,
              substr('lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore', 1 + abs(random()) % 60, 40),
              hex(randomblob(24)))
FROM n;
CREATE INDEX bulk_events_company ON bulk_events(company_id, occurred_at);
PRAGMA wal_checkpoint(TRUNCATE);
SQL

echo "replicating it to file://$replica with technifold serve…" >&2
DATABASE_PATH="$db" REPLICA_URL="file://$replica" ADDR=127.0.0.1:0 LOG_FORMAT=text \
  "$work/technifold" serve >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 600); do grep -q "snapshot complete" "$work/serve.log" && break; sleep 0.5; done
grep -q "snapshot complete" "$work/serve.log" || { cat "$work/serve.log" >&2; echo "no snapshot" >&2; exit 1; }
# Transactions after the snapshot: the demo data set, written by a second process.
DATABASE_PATH="$db" "$work/technifold" demo >/dev/null 2>&1
sleep 3
kill -TERM "$serve_pid"; wait "$serve_pid" || true; serve_pid=
fi
echo "database $(du -m "$db" | cut -f1) MB, replica $(du -sm "$replica" | cut -f1) MB" >&2

TIMEFORMAT='%R %U %S'
timed() { # label command… → appends "wall cpu" to $work/label.times
  local label=$1; shift
  local t
  t=$( { time "$@" >/dev/null 2>"$work/$label.err"; } 2>&1 ) || { cat "$work/$label.err" >&2; exit 1; }
  echo "$t" | awk '{printf "%.2f %.2f\n", $1, $2 + $3}' >>"$work/$label.times"
}
rm -f "$work"/*.times
for i in $(seq 1 "$runs"); do
  rm -f "$work/t.db" "$work/l.db"
  if [ $((i % 2)) = 1 ]; then
    timed litestream "$litestream" restore -o "$work/l.db" "file://$replica"
    timed technifold env DATABASE_PATH="$db" REPLICA_URL="file://$replica" "$work/technifold" restore --output "$work/t.db"
  else
    timed technifold env DATABASE_PATH="$db" REPLICA_URL="file://$replica" "$work/technifold" restore --output "$work/t.db"
    timed litestream "$litestream" restore -o "$work/l.db" "file://$replica"
  fi
  cmp -s "$work/t.db" "$work/l.db" || { echo "the restored files differ" >&2; exit 1; }
done
timed verify env DATABASE_PATH="$db" REPLICA_URL="file://$replica" "$work/technifold" backup verify --grace 0s

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
lw=$(cut -d' ' -f1 "$work/litestream.times" | median); lc=$(cut -d' ' -f2 "$work/litestream.times" | median)
tw=$(cut -d' ' -f1 "$work/technifold.times" | median); tc=$(cut -d' ' -f2 "$work/technifold.times" | median)
vw=$(cut -d' ' -f1 "$work/verify.times" | median); vc=$(cut -d' ' -f2 "$work/verify.times" | median)
plan=$(grep -m1 "^restoring" "$work/technifold.err" | sed 's/.*: //')
echo
echo "replica: $plan"
printf "%-28s %10s %10s   (%d runs, medians)\n" "" "wall s" "cpu s" "$runs"
printf "%-28s %10s %10s\n" "litestream restore" "$lw" "$lc"
printf "%-28s %10s %10s\n" "technifold restore" "$tw" "$tc"
printf "%-28s %10s %10s\n" "technifold backup verify" "$vw" "$vc"
awk -v t="$tw" -v l="$lw" -v tc="$tc" -v lc="$lc" 'BEGIN {
  printf "technifold / litestream: wall %.2f, cpu %.2f (target: within 1.10)\n", t/l, tc/lc }'
