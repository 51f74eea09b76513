#!/usr/bin/env bash
# A two-node MariaDB Galera cluster on this host, for the migration-lock
# tests across cluster nodes (internal/cli/galera_test.go).
#
#   tools/galera/cluster.sh start [DIR]   # prints the URLs to test with
#   tools/galera/cluster.sh stop [DIR]
#
# Node 1 listens on 127.0.0.1:3311 and node 2 on 127.0.0.1:3312 (Galera
# replication on 4567 and 4577); user root without a password. Run as
# root (the servers run as mysql); needs mariadb-server, galera-4 and
# rsync (state transfer). DIR holds the data directories and logs
# (default: $TMPDIR/glance-galera).
set -euo pipefail
cmd=${1:-start}
dir=${2:-${TMPDIR:-/tmp}/glance-galera}
provider=""
for p in /usr/lib/galera/libgalera_smm.so /usr/lib/galera-4/libgalera_smm.so /usr/lib64/galera-4/libgalera_smm.so; do
  [ -f "$p" ] && provider=$p && break
done

ports=(3311 3312)
gports=(4567 4577)

conf() { # node index
  local i=$1 n=$(($1 + 1)) g=${gports[$1]}
  cat >"$dir/n$n.cnf" <<CNF
[mysqld]
user=mysql
datadir=$dir/n$n/data
socket=$dir/n$n/mysqld.sock
pid-file=$dir/n$n/mysqld.pid
log-error=$dir/n$n/error.log
port=${ports[$i]}
bind-address=127.0.0.1
skip-name-resolve=0
innodb_buffer_pool_size=64M
innodb_log_file_size=16M
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
wsrep_on=ON
wsrep_provider=$provider
wsrep_cluster_name=glance-manage-test
wsrep_cluster_address=gcomm://127.0.0.1:${gports[0]},127.0.0.1:${gports[1]}
wsrep_node_name=node$n
wsrep_node_address=127.0.0.1:$g
wsrep_provider_options=gmcast.listen_addr=tcp://127.0.0.1:$g;ist.recv_addr=127.0.0.1:$((g + 1))
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$((g + 2))
CNF
}

sql() { # node, statement
  mariadb --defaults-file=/dev/null -uroot -S "$dir/n$1/mysqld.sock" -e "$2"
}

wait_ready() { # node, pid
  for _ in $(seq 1 120); do
    if ! kill -0 "$2" 2>/dev/null; then
      break
    fi
    if [ "$(mariadb --defaults-file=/dev/null -uroot -S "$dir/n$1/mysqld.sock" -N -e "SHOW STATUS LIKE 'wsrep_ready'" 2>/dev/null | awk '{print $2}')" = ON ]; then
      return 0
    fi
    sleep 1
  done
  echo "galera node $1 did not become ready; see $dir/n$1/error.log" >&2
  tail -20 "$dir/n$1/error.log" >&2 || true
  return 1
}

stop() {
  for n in 2 1; do
    if [ -f "$dir/n$n/mysqld.pid" ]; then
      kill "$(cat "$dir/n$n/mysqld.pid")" 2>/dev/null || true
      for _ in $(seq 1 60); do [ -f "$dir/n$n/mysqld.pid" ] || break; sleep 0.5; done
    fi
  done
}

case $cmd in
start)
  if [ -z "$provider" ]; then
    echo "galera: libgalera_smm.so not found (install galera-4)" >&2
    exit 1
  fi
  stop
  rm -rf "$dir"
  mkdir -p "$dir"
  # mariadbd runs as mysql (the state transfer's rsync daemon, started
  # by root, would write as nobody).
  chmod 755 "$dir"
  for i in 0 1; do
    n=$((i + 1))
    mkdir -p "$dir/n$n/data"
    conf "$i"
    chown -R mysql:mysql "$dir/n$n"
    mariadb-install-db --defaults-file="$dir/n$n.cnf" --auth-root-authentication-method=normal >"$dir/n$n/install.log" 2>&1
  done
  mariadbd --defaults-file="$dir/n1.cnf" --wsrep-new-cluster >/dev/null 2>&1 &
  wait_ready 1 $!
  sql 1 "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; CREATE DATABASE IF NOT EXISTS test"
  mariadbd --defaults-file="$dir/n2.cnf" >/dev/null 2>&1 &
  wait_ready 2 $!
  size=$(mariadb --defaults-file=/dev/null -uroot -S "$dir/n2/mysqld.sock" -N -e "SHOW STATUS LIKE 'wsrep_cluster_size'" | awk '{print $2}')
  if [ "$size" != 2 ]; then
    echo "galera: cluster size $size, want 2" >&2
    exit 1
  fi
  echo "mysql+pymysql://root@127.0.0.1:${ports[0]}/test,mysql+pymysql://root@127.0.0.1:${ports[1]}/test"
  ;;
stop)
  stop
  ;;
*)
  echo "usage: $0 start|stop [DIR]" >&2
  exit 2
  ;;
esac
