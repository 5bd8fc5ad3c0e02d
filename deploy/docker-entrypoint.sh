#!/bin/sh
# Container entrypoint. The image runs as uid:gid 10001:10001 (USER in the Dockerfile) and this
# only execs the command. Started as root (docker run --user 0, for a bind mount or an old volume
# owned by root), it first gives the data directory to 10001 and then runs the command as 10001.
set -eu
uid=10001
gid=10001
dir=$(dirname "${DATABASE_PATH:-/data/technifold.db}")
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$dir"
  # Only what is not already ours (the database, its -wal/-shm, Litestream's state directory).
  find "$dir" -xdev \( ! -user "$uid" -o ! -group "$gid" \) -exec chown "$uid:$gid" {} +
  exec setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$@"
fi
if [ -d "$dir" ] && [ ! -w "$dir" ]; then
  echo "docker-entrypoint: $dir is not writable by uid $(id -u): chown -R $uid:$gid it on the host," \
    "or start the container once with --user 0 so this entrypoint does it" >&2
fi
exec "$@"
