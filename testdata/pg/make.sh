#!/usr/bin/env bash
# Makes the PostgreSQL samples of testdata/pg/<major>/; run as root:
#   testdata/pg/make.sh /usr/lib/postgresql/15/bin testdata/pg/15
#   testdata/pg/make.sh /tmp/pg18/18/bin testdata/pg/18   # ../shared/pg tarball
# A throwaway cluster (initdb --wal-segsize=1, as the postgres OS user) gives:
# backup_manifest (pg_basebackup -Fp --manifest-checksums=CRC32C; version 1
# up to PostgreSQL 16, version 2 from 17), 00000002.history and
# 00000003.history (two recoveries without a target, each ending on a new
# timeline), and VERSION (postgres --version).
set -euo pipefail
pgbin=$1; out=$2
work=$(mktemp -d /tmp/logship-samples.XXXXXX); chmod 755 "$work"; chown postgres: "$work"
as_pg() { runuser -u postgres -- "$@"; }
cd "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg "$pgbin/initdb" -D "$work/data" -A trust -U postgres -E UTF8 --locale=C --no-instructions --wal-segsize=1 >/dev/null
cat >>"$work/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$work'
port = $port
shared_buffers = 1MB
max_wal_senders = 2
min_wal_size = 2MB
CONF
as_pg "$pgbin/pg_ctl" -D "$work/data" -l "$work/log" -w start >/dev/null
as_pg "$pgbin/pg_basebackup" -h "$work" -p "$port" -U postgres -D "$work/bb" -Fp -X none --manifest-checksums=CRC32C -c fast
as_pg "$pgbin/pg_ctl" -D "$work/data" -w stop -m fast >/dev/null
# Recovery with nothing to fetch replays pg_wal and ends on a new timeline.
echo "restore_command = 'false'" >>"$work/data/postgresql.conf"
as_pg touch "$work/data/recovery.signal"
as_pg "$pgbin/pg_ctl" -D "$work/data" -l "$work/log" -w start >/dev/null
for _ in $(seq 100); do [ -f "$work/data/pg_wal/00000002.history" ] && break; sleep 0.1; done
as_pg "$pgbin/pg_ctl" -D "$work/data" -w stop -m fast >/dev/null
# Once more: timeline 3, whose history names both switches.
as_pg touch "$work/data/recovery.signal"
as_pg "$pgbin/pg_ctl" -D "$work/data" -l "$work/log" -w start >/dev/null
for _ in $(seq 100); do [ -f "$work/data/pg_wal/00000003.history" ] && break; sleep 0.1; done
as_pg "$pgbin/pg_ctl" -D "$work/data" -w stop -m fast >/dev/null
mkdir -p "$out"
cp "$work/data/pg_wal/00000003.history" "$out/00000003.history"
cp "$work/bb/backup_manifest" "$out/backup_manifest"
cp "$work/data/pg_wal/00000002.history" "$out/00000002.history"
"$pgbin/postgres" --version > "$out/VERSION"
rm -rf "$work"
