#!/usr/bin/env bash
# Makes the golden store of testdata/golden-store/ (see README there). Run as
# root with the logship binary of the release whose format is to be frozen:
#   testdata/golden-store/make.sh /path/to/logship OUTDIR
# It starts a throwaway PostgreSQL cluster (initdb --wal-segsize=1, as the
# postgres OS user, on a free port with its own socket directory), archives
# it with that binary into OUTDIR, takes a backup, writes probe rows and two
# marks, and stops. Nothing outside a temporary directory and OUTDIR is
# touched.
set -euo pipefail
bin=$(readlink -f "$1")
out=$(readlink -f "$2")
pgbin=${PGBIN:-/usr/lib/postgresql/15/bin}
source=golden

work=$(mktemp -d /tmp/logship-golden.XXXXXX)
chmod 755 "$work"
mkdir -p "$out"
chown postgres: "$work" "$out"
data=$work/data
as_pg() { runuser -u postgres -- "$@"; }
stop() { as_pg "$pgbin/pg_ctl" -D "$data" stop -m fast -w >/dev/null 2>&1 || true; }
trap 'stop; rm -rf "$work"' EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cd "$work"
as_pg "$pgbin/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C --no-instructions --wal-segsize=1 >/dev/null
cat >>"$data/postgresql.conf" <<CONF
# golden store
listen_addresses = ''
unix_socket_directories = '$work'
port = $port
shared_buffers = 1MB
max_connections = 10
wal_level = replica
max_wal_senders = 2
min_wal_size = 2MB
max_wal_size = 32MB
archive_mode = on
archive_command = '$bin --store file://$out --source $source wal-push %p'
CONF
as_pg "$pgbin/pg_ctl" -D "$data" -l "$work/server.log" -w start >/dev/null

pgflags=(--store "file://$out" --source "$source" --pg "host=$work port=$port user=postgres dbname=postgres")
sql() { as_pg "$pgbin/psql" -h "$work" -p "$port" -U postgres -d postgres -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
archived() { # wait until segment $1 is archived
  for _ in $(seq 600); do
    [[ "$(sql "SELECT coalesce(last_archived_wal, '') >= '$1' FROM pg_stat_archiver")" == t ]] && return 0
    sleep 0.1
  done
  echo "segment $1 not archived" >&2; exit 1
}

sql "CREATE TABLE probe (n int PRIMARY KEY)"
archived "$(sql "SELECT pg_walfile_name(pg_switch_wal())")"
"$bin" "${pgflags[@]}" backup --fast --label golden >/dev/null
sql "INSERT INTO probe VALUES (1), (2), (3)"
"$bin" "${pgflags[@]}" mark m1 >/dev/null
sql "INSERT INTO probe VALUES (4), (5)"
"$bin" "${pgflags[@]}" mark m2 >/dev/null
sql "INSERT INTO probe VALUES (6)"
archived "$(sql "SELECT pg_walfile_name(pg_switch_wal())")"
stop
echo "golden store in $out (source $source)"
