#!/usr/bin/env bash
# A private MariaDB primary with binary logging on and an asynchronous
# replica of it (GTID replication), on loopback, for the replica-lag and
# privilege suites (GLANCE_TEST_MYSQL_PRIMARY_URL,
# GLANCE_TEST_MYSQL_REPLICA_URL; see README, Tests).
#
#   mariadb.sh start [DIR]    # fresh servers; prints the primary's URL, then the replica's
#   mariadb.sh stop [DIR]
#   mariadb.sh status [DIR]   # the replica's threads, delay and lag; exit 1 unless replicating
#   mariadb.sh env [DIR]      # export lines for the two test variables
#
# The primary listens on 127.0.0.1:3321 (MARIADB_PRIMARY_PORT), the
# replica on 127.0.0.1:3322 (MARIADB_REPLICA_PORT). Both: user root
# without a password, database `test` to create others from
# (mysql+pymysql://root@127.0.0.1:3321/test). start also writes the URLs
# to DIR/primary_url and DIR/replica_url.
#
# The primary: log_bin on, binlog_format=ROW, server_id 1, and
# log_bin_trust_function_creators OFF, so that a user without SUPER cannot
# create a trigger (error 1419), as on any server with binary logging. The
# user glance (password glance-pw) has ALL PRIVILEGES on `glance%`.* and on
# `gmt\_%`.* (the test databases) and nothing global: no SUPER.
# The replica: server_id 2, read_only, log_slave_updates, replicating
# from the primary as user repl with MASTER_USE_GTID=slave_pos. Users and
# databases made on the primary replicate to it.
#
# Lag, made on the replica (as root) and undone there:
#   STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=30; START SLAVE;
#     each event is applied 30 s after the primary ran it;
#     Seconds_Behind_Master in SHOW SLAVE STATUS grows while events wait
#     (it is 0 when the primary is idle); undo with
#   STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=0; START SLAVE;
#   STOP SLAVE SQL_THREAD;  nothing is applied (events are still received);
#     Seconds_Behind_Master is NULL; undo with START SLAVE SQL_THREAD;
# and on the replica SELECT MASTER_GTID_WAIT('<primary's @@gtid_binlog_pos>', 60)
# waits until it has applied everything (0, or -1 on timeout).
#
# DIR (default $TMPDIR/glance-replica-mariadb) holds the data directories
# and logs; start empties it. Run as root; the servers run as mysql.
set -euo pipefail
cmd=${1:-start}
dir=${2:-${TMPDIR:-/tmp}/glance-replica-mariadb}
pport=${MARIADB_PRIMARY_PORT:-3321}
rport=${MARIADB_REPLICA_PORT:-3322}

conf() { # name, port, server id, extra settings
  cat >"$dir/$1.cnf" <<CNF
[mysqld]
user=mysql
datadir=$dir/$1/data
socket=$dir/$1/mysqld.sock
pid-file=$dir/$1/mysqld.pid
log-error=$dir/$1/error.log
port=$2
bind-address=127.0.0.1
skip-name-resolve=0
server_id=$3
log_bin=mysql-bin
binlog_format=ROW
innodb_buffer_pool_size=128M
innodb_log_file_size=64M
max_connections=500
$4
CNF
}

sql() { # name, statements; prints the result without headers
  mariadb --defaults-file=/dev/null -uroot -S "$dir/$1/mysqld.sock" -N -B -e "$2"
}

pid_of() { # name
  local pid
  pid=$(cat "$dir/$1/mysqld.pid" 2>/dev/null) || return 0
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    echo "$pid"
  fi
}

wait_up() { # name, pid
  for _ in $(seq 1 240); do
    kill -0 "$2" 2>/dev/null || break
    if sql "$1" "SELECT 1" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.25
  done
  echo "replica/mariadb: the $1 did not start; see $dir/$1/error.log" >&2
  tail -20 "$dir/$1/error.log" >&2 || true
  return 1
}

stop_all() {
  local name pid pids=()
  for name in replica primary; do
    pid=$(pid_of "$name")
    [ -n "$pid" ] || continue
    kill "$pid" 2>/dev/null || true
    pids+=("$pid")
  done
  for pid in "${pids[@]+"${pids[@]}"}"; do
    for _ in $(seq 1 240); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -f "$dir"/*/mysqld.pid
}

slave_field() { # SHOW SLAVE STATUS field
  mariadb --defaults-file=/dev/null -uroot -S "$dir/replica/mysqld.sock" -e "SHOW SLAVE STATUS\G" 2>/dev/null |
    sed -n "s/^ *$1: //p"
}

case $cmd in
start)
  stop_all
  rm -rf "$dir"
  # A start that fails stops what it started (the logs stay in DIR).
  trap '[ $? = 0 ] || { stop_all; }' EXIT
  mkdir -p "$dir/primary/data" "$dir/replica/data"
  chmod 755 "$dir"
  conf primary "$pport" 1 "log_bin_trust_function_creators=OFF"
  conf replica "$rport" 2 "$(printf 'relay_log=relay-bin\nlog_slave_updates=ON\nread_only=ON\nskip_slave_start=ON')"
  chown -R mysql:mysql "$dir/primary" "$dir/replica"
  for name in primary replica; do
    mariadb-install-db --defaults-file="$dir/$name.cnf" --auth-root-authentication-method=normal --skip-test-db >"$dir/$name/install.log" 2>&1 &
  done
  wait
  declare -A pids
  for name in primary replica; do
    setsid mariadbd --defaults-file="$dir/$name.cnf" </dev/null >>"$dir/$name/stdout.log" 2>&1 &
    pids[$name]=$!
  done
  for name in primary replica; do
    wait_up "$name" "${pids[$name]}"
  done
  # Everything from here on is in the primary's binary log, and the
  # replica (identical after mariadb-install-db) replays it from the start.
  sql primary "
    CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
    CREATE USER 'repl'@'127.0.0.1'; GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';
    CREATE USER 'glance'@'127.0.0.1' IDENTIFIED BY 'glance-pw'; CREATE USER 'glance'@'localhost' IDENTIFIED BY 'glance-pw';
    GRANT ALL PRIVILEGES ON \`glance%\`.* TO 'glance'@'127.0.0.1', 'glance'@'localhost';
    GRANT ALL PRIVILEGES ON \`gmt\\_%\`.* TO 'glance'@'127.0.0.1', 'glance'@'localhost';
    CREATE DATABASE test"
  sql replica "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$pport, MASTER_USER='repl', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE"
  pos=$(sql primary "SELECT @@gtid_binlog_pos")
  if [ "$(sql replica "SELECT MASTER_GTID_WAIT('$pos', 60)")" != 0 ]; then
    echo "replica/mariadb: the replica did not catch up with the primary ($pos); see $dir/replica/error.log" >&2
    mariadb --defaults-file=/dev/null -uroot -S "$dir/replica/mysqld.sock" -e "SHOW SLAVE STATUS\G" >&2 || true
    exit 1
  fi
  echo "mysql+pymysql://root@127.0.0.1:$pport/test" >"$dir/primary_url"
  echo "mysql+pymysql://root@127.0.0.1:$rport/test" >"$dir/replica_url"
  cat "$dir/primary_url" "$dir/replica_url"
  ;;
stop)
  stop_all
  ;;
status)
  if [ -z "$(pid_of primary)" ] || [ -z "$(pid_of replica)" ]; then
    echo "primary $(if [ -n "$(pid_of primary)" ]; then echo up; else echo down; fi), replica $(if [ -n "$(pid_of replica)" ]; then echo up; else echo down; fi)"
    exit 1
  fi
  io=$(slave_field Slave_IO_Running) sqlt=$(slave_field Slave_SQL_Running)
  echo "replica io=$io sql=$sqlt delay=$(slave_field SQL_Delay) seconds_behind=$(slave_field Seconds_Behind_Master) gtid=$(slave_field Gtid_IO_Pos) primary_gtid=$(sql primary "SELECT @@gtid_binlog_pos")"
  [ "$io" = Yes ] && [ "$sqlt" = Yes ]
  ;;
env)
  if [ ! -f "$dir/primary_url" ]; then
    echo "replica/mariadb: no servers in $dir (run: $0 start $dir)" >&2
    exit 1
  fi
  printf 'export GLANCE_TEST_MYSQL_PRIMARY_URL=%s\nexport GLANCE_TEST_MYSQL_REPLICA_URL=%s\n' "$(cat "$dir/primary_url")" "$(cat "$dir/replica_url")"
  ;;
*)
  echo "usage: $0 start|stop|status|env [DIR]" >&2
  exit 2
  ;;
esac
