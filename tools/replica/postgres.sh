#!/usr/bin/env bash
# A private PostgreSQL primary and a streaming hot standby of it, on
# loopback, for the replica-lag suites (GLANCE_TEST_POSTGRES_PRIMARY_URL,
# GLANCE_TEST_POSTGRES_STANDBY_URL; see README, Tests).
#
#   postgres.sh start [DIR]    # fresh servers; prints the primary's URL, then the standby's
#   postgres.sh stop [DIR]
#   postgres.sh status [DIR]   # the primary's pg_stat_replication; exit 1 unless streaming
#   postgres.sh env [DIR]      # export lines for the two test variables
#
# The primary listens on 127.0.0.1:5441 (PG_PRIMARY_PORT), the standby on
# 127.0.0.1:5442 (PG_STANDBY_PORT). Both: trust authentication, user
# postgres, database `test` to create others from
# (postgresql://postgres@127.0.0.1:5441/test). start also writes the URLs
# to DIR/primary_url and DIR/standby_url.
#
# The standby is a pg_basebackup of the primary over loopback (-R, WAL
# streamed, physical replication slot glance_standby), hot_standby on,
# cluster_name glance_standby (the application_name in the primary's
# pg_stat_replication), reporting its positions every second
# (wal_receiver_status_interval=1s) so that replay_lag is fresh.
#
# Lag, made on the standby (as postgres) and undone there:
#   SELECT pg_wal_replay_pause();   WAL is still received but not applied;
#     undo with SELECT pg_wal_replay_resume();
#   ALTER SYSTEM SET recovery_min_apply_delay = '30s'; SELECT pg_reload_conf();
#     each commit is applied 30 s after the primary made it; undo with
#     ALTER SYSTEM RESET recovery_min_apply_delay; SELECT pg_reload_conf();
# While the primary writes, its pg_stat_replication.replay_lag grows (it is
# NULL once the standby has caught up and the primary is idle), and on the
# standby pg_last_wal_receive_lsn() runs ahead of pg_last_wal_replay_lsn().
# Caught up: the standby's pg_last_wal_replay_lsn() has reached the
# primary's pg_current_wal_lsn().
#
# DIR (default $TMPDIR/glance-replica-postgres) holds the data directories
# and logs; start empties it. Run as root (the servers run as postgres) or
# as postgres; needs PostgreSQL's server binaries (postgresql-15, or
# PG_BIN=/usr/lib/postgresql/N/bin).
set -euo pipefail
cmd=${1:-start}
dir=${2:-${TMPDIR:-/tmp}/glance-replica-postgres}
pport=${PG_PRIMARY_PORT:-5441}
sport=${PG_STANDBY_PORT:-5442}
bin=${PG_BIN:-}
if [ -z "$bin" ]; then
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
fi
if [ ! -x "$bin/initdb" ] && [ "$cmd" = start ]; then
  echo "replica/postgres: initdb not found in '${bin}' (install postgresql-15, or set PG_BIN)" >&2
  exit 1
fi

as_pg() { # command...: run as the postgres OS user
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() { # name: the data directory has a live postmaster
  [ -f "$dir/$1/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$dir/$1" status >/dev/null 2>&1
}

pg_start() { # name
  if ! as_pg "$bin/pg_ctl" -D "$dir/$1" -l "$dir/$1.log" -w -t 120 start </dev/null >"$dir/$1.start.log" 2>&1; then
    echo "replica/postgres: the $1 did not start; see $dir/$1.log" >&2
    tail -20 "$dir/$1.log" >&2 || true
    return 1
  fi
}

pg_stop() { # name
  if running "$1"; then
    as_pg "$bin/pg_ctl" -D "$dir/$1" -m fast -w -t 60 stop </dev/null >/dev/null 2>&1 ||
      as_pg "$bin/pg_ctl" -D "$dir/$1" -m immediate -w stop </dev/null >/dev/null 2>&1 || true
  fi
}

psql_at() { # port, statement
  psql -X -h 127.0.0.1 -p "$1" -U postgres -d postgres -Atc "$2"
}

case $cmd in
start)
  pg_stop standby
  pg_stop primary
  rm -rf "$dir"
  # A start that fails stops what it started (the logs stay in DIR).
  trap '[ $? = 0 ] || { pg_stop standby; pg_stop primary; }' EXIT
  mkdir -p "$dir"
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  as_pg "$bin/initdb" -D "$dir/primary" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
    echo "replica/postgres: initdb failed; see $dir/initdb.log" >&2
    exit 1
  }
  # initdb's pg_hba.conf trusts replication connections from 127.0.0.1.
  cat >>"$dir/primary/postgresql.conf" <<CONF

# tools/replica/postgres.sh
listen_addresses = '127.0.0.1'
port = $pport
unix_socket_directories = '$dir'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
shared_buffers = 128MB
CONF
  pg_start primary
  psql_at "$pport" "CREATE DATABASE test" >/dev/null
  as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p "$pport" -U postgres -D "$dir/standby" -X stream -R -C -S glance_standby -c fast >"$dir/basebackup.log" 2>&1 || {
    echo "replica/postgres: pg_basebackup failed; see $dir/basebackup.log" >&2
    exit 1
  }
  cat >>"$dir/standby/postgresql.conf" <<CONF

# the standby
port = $sport
cluster_name = 'glance_standby'
wal_receiver_status_interval = 1s
CONF
  pg_start standby
  for _ in $(seq 1 120); do
    [ "$(psql_at "$pport" "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'glance_standby' AND state = 'streaming'" 2>/dev/null)" = 1 ] && break
    sleep 0.25
  done
  if [ "$(psql_at "$sport" "SELECT pg_is_in_recovery()")" != t ] ||
    [ "$(psql_at "$pport" "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'glance_standby' AND state = 'streaming'")" != 1 ]; then
    echo "replica/postgres: the standby does not stream from the primary; see $dir/standby.log" >&2
    exit 1
  fi
  echo "postgresql://postgres@127.0.0.1:$pport/test" >"$dir/primary_url"
  echo "postgresql://postgres@127.0.0.1:$sport/test" >"$dir/standby_url"
  cat "$dir/primary_url" "$dir/standby_url"
  ;;
stop)
  [ -d "$dir" ] || exit 0
  pg_stop standby
  pg_stop primary
  ;;
status)
  if ! running primary || ! running standby; then
    echo "primary $(running primary && echo up || echo down), standby $(running standby && echo up || echo down)"
    exit 1
  fi
  psql -X -h 127.0.0.1 -p "$pport" -U postgres -d postgres -c "SELECT application_name, state, sent_lsn, replay_lsn, replay_lag FROM pg_stat_replication"
  echo "standby replay paused: $(psql_at "$sport" "SELECT pg_get_wal_replay_pause_state()")"
  [ "$(psql_at "$pport" "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" -ge 1 ]
  ;;
env)
  if [ ! -f "$dir/primary_url" ]; then
    echo "replica/postgres: no servers in $dir (run: $0 start $dir)" >&2
    exit 1
  fi
  printf 'export GLANCE_TEST_POSTGRES_PRIMARY_URL=%s\nexport GLANCE_TEST_POSTGRES_STANDBY_URL=%s\n' "$(cat "$dir/primary_url")" "$(cat "$dir/standby_url")"
  ;;
*)
  echo "usage: $0 start|stop|status|env [DIR]" >&2
  exit 2
  ;;
esac
