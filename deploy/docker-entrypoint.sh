#!/bin/sh
# Container entrypoint: make the data directory the technifold user's, then run the command as
# that user. Fly.io and other hosts mount a fresh volume owned by root, so an image that simply
# said USER technifold could not create its database there.
set -eu
if [ "$(id -u)" = 0 ]; then
  dir=$(dirname "${DATABASE_PATH:-/data/technifold.db}")
  mkdir -p "$dir"
  # Only what is not already ours (the database, its -wal/-shm, Litestream's state directory).
  find "$dir" -xdev ! -user technifold -exec chown technifold:technifold {} +
  exec setpriv --reuid=technifold --regid=technifold --init-groups -- "$@"
fi
exec "$@"
