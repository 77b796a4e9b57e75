#!/bin/sh
# Validation hook for bkp drill: start a scratch PostgreSQL server on the
# restored data directory, run a query, stop it.  Prints counts only.
set -eu
data="$BKP_DRILL_DIR/pgdata"
sock=$(mktemp -d)
trap 'pg_ctl -D "$data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$sock"' EXIT
chmod 0700 "$data"
rm -f "$data/postmaster.pid"
pg_ctl -D "$data" -o "-k $sock -c listen_addresses='' -p 54329" -w -t 300 start >/dev/null
n=$(psql -h "$sock" -p 54329 -d postgres -Atc "select count(*) from pg_database")
echo "databases: $n"
test "$n" -ge 1
