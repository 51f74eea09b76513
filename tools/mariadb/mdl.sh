#!/usr/bin/env bash
# A private MariaDB server that keeps count of metadata locks, for the
# tests that name the session holding a table's lock (internal/cli
# TestDDLWaitNamesLockHolder): MariaDB's defaults keep no such count, and
# the shared server's settings are not ours to change.
#
#   tools/mariadb/mdl.sh start [DIR]   # prints the URL to test with
#   tools/mariadb/mdl.sh stop [DIR]
#
# It listens on 127.0.0.1:3331 (MDL_PORT moves it) (user root without a password), with the
# METADATA_LOCK_INFO plugin loaded and performance_schema's metadata-lock
# instrument on. Run as root (the server runs as mysql); needs
# mariadb-server. DIR holds the data directory and log (default:
# $TMPDIR/glance-mariadb-mdl).
set -euo pipefail
cmd=${1:-start}
dir=${2:-${TMPDIR:-/tmp}/glance-mariadb-mdl}
port=${MDL_PORT:-3331}

stop() {
  if [ -f "$dir/mysqld.pid" ]; then
    kill "$(cat "$dir/mysqld.pid")" 2>/dev/null || true
    for _ in $(seq 1 60); do [ -f "$dir/mysqld.pid" ] || break; sleep 0.5; done
  fi
}

case $cmd in
start)
  stop
  rm -rf "$dir"
  mkdir -p "$dir/data"
  chmod 755 "$dir"
  cat >"$dir/my.cnf" <<CNF
[mysqld]
user=mysql
datadir=$dir/data
socket=$dir/mysqld.sock
pid-file=$dir/mysqld.pid
log-error=$dir/error.log
port=$port
bind-address=127.0.0.1
innodb_buffer_pool_size=64M
innodb_log_file_size=16M
plugin-load-add=metadata_lock_info
performance_schema=ON
performance-schema-instrument='wait/lock/metadata/sql/mdl=ON'
CNF
  chown -R mysql:mysql "$dir"
  mariadb-install-db --defaults-file="$dir/my.cnf" --auth-root-authentication-method=normal >"$dir/install.log" 2>&1
  mariadbd --defaults-file="$dir/my.cnf" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 120); do
    if ! kill -0 "$pid" 2>/dev/null; then
      break
    fi
    if mariadb --defaults-file=/dev/null -uroot -S "$dir/mysqld.sock" -e "SELECT 1" >/dev/null 2>&1; then
      mariadb --defaults-file=/dev/null -uroot -S "$dir/mysqld.sock" -e \
        "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; CREATE DATABASE IF NOT EXISTS test"
      echo "mysql+pymysql://root@127.0.0.1:$port/test"
      exit 0
    fi
    sleep 0.5
  done
  echo "mariadb: the server did not start; see $dir/error.log" >&2
  tail -20 "$dir/error.log" >&2 || true
  exit 1
  ;;
stop)
  stop
  ;;
*)
  echo "usage: $0 start|stop [DIR]" >&2
  exit 2
  ;;
esac
