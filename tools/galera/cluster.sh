#!/usr/bin/env bash
# A MariaDB Galera cluster of N nodes on this host (three by default),
# optionally behind HAProxy in the kolla-ansible layout, for the Galera
# suites (GLANCE_TEST_GALERA_URLS, GLANCE_TEST_GALERA_PROXY_URL,
# GLANCE_TEST_GALERA_DIR; see README, Tests).
#
#   cluster.sh [-n N] [--haproxy] start [DIR]  # fresh cluster; prints the node URLs
#   cluster.sh stop [DIR]                      # stops HAProxy and every node
#   cluster.sh kill NODE [DIR]                 # kill -9 node NODE (1..N)
#   cluster.sh restart NODE [DIR]              # start NODE again; it rejoins (IST,
#                                              # or SST) and is waited for until Synced
#                                              # and, behind HAProxy, until HAProxy has it
#                                              # back (a running node is only waited for)
#   cluster.sh status [DIR]                    # each node's state, the cluster's size,
#                                              # HAProxy's view; exit 1 unless all Synced
#   cluster.sh env [DIR]                       # export lines for the test variables
#
# start prints one line on stdout: the node URLs, comma-separated
# (mysql+pymysql://root@127.0.0.1:3311/test,...). It also writes them to
# DIR/urls and, with --haproxy, HAProxy's URL to DIR/proxy_url (and says it
# on stderr). `env` prints the three export lines from those files.
#
# Ports (loopback only): node i (1-based) listens on GALERA_PORT+i-1
# (3311, 3312, 3313, ...), Galera replication on GALERA_GCOMM_PORT+10(i-1)
# (4567, 4577, 4587, ...), IST on the next port (4568, ...) and rsync SST on
# the one after (4569, ...); HAProxy on GALERA_PROXY_PORT (3310). User
# root without a password, database `test` to create others from.
#
# HAProxy follows kolla-ansible's MariaDB listener: node 1 is the only
# active server, the others are `backup`; a TCP check on the MySQL port
# every 2 s (rise 2, fall 5, so a dead node 1 is taken out after about
# 10 s and a restarted one back after about 4 s); client and server
# timeouts 3600 s with TCP keep-alives; option redispatch, retries 3. Its
# admin socket is DIR/haproxy.sock (`echo "show stat" | socat stdio
# unix-connect:DIR/haproxy.sock`), its log DIR/haproxy.log.
#
# Node settings follow kolla-ansible's galera.cnf where they change
# behaviour: binary log on (ROW), innodb_autoinc_lock_mode=2,
# wsrep_slave_threads=4, utf8 (utf8mb3) server character set with
# init_connect 'SET NAMES utf8', innodb_flush_log_at_trx_commit=0; memory
# is kept small (128M buffer pool per node). State transfers use rsync.
# Each node announces its client address (wsrep_node_incoming_address),
# so that wsrep_incoming_addresses lists every node's host:port.
#
# Environment: GALERA_NODES (as -n), GALERA_HAPROXY=1 (as --haproxy),
# GALERA_PORT, GALERA_GCOMM_PORT, GALERA_PROXY_PORT (first ports above).
# The settings given to start are kept in DIR/cluster.env for the other
# subcommands. DIR holds the data directories and logs (default:
# $TMPDIR/glance-galera); start empties it. Run as root (the servers run
# as mysql, HAProxy drops to haproxy); needs mariadb-server, galera-4,
# rsync, and haproxy and socat for --haproxy. restart needs a running node
# to join (with two nodes, the survivor of a kill has no quorum, so no
# Primary component, until the other is back).
set -euo pipefail

usage() {
  echo "usage: $0 [-n N] [--haproxy] start [DIR] | stop [DIR] | kill NODE [DIR] | restart NODE [DIR] | status [DIR] | env [DIR]" >&2
  exit 2
}

nodes=${GALERA_NODES:-3}
haproxy=${GALERA_HAPROXY:-0}
args=()
while [ $# -gt 0 ]; do
  case $1 in
  -n) [ $# -ge 2 ] || usage; nodes=$2; shift 2 ;;
  -n*) nodes=${1#-n}; shift ;;
  --haproxy) haproxy=1; shift ;;
  -h | --help) usage ;;
  *) args+=("$1"); shift ;;
  esac
done
set -- "${args[@]+"${args[@]}"}"
cmd=${1:-start}
[ $# -gt 0 ] && shift
node=""
case $cmd in
kill | restart)
  [ $# -ge 1 ] || usage
  node=$1
  shift
  ;;
esac
[ $# -le 1 ] || usage
dir=${1:-${TMPDIR:-/tmp}/glance-galera}
port=${GALERA_PORT:-3311}
gport=${GALERA_GCOMM_PORT:-4567}
proxy_port=${GALERA_PROXY_PORT:-3310}

# The other subcommands act on the cluster as it was started.
if [ "$cmd" != start ]; then
  if [ ! -f "$dir/cluster.env" ]; then
    [ "$cmd" = stop ] && exit 0
    echo "galera: no cluster in $dir (run: $0 start $dir)" >&2
    exit 1
  fi
  # shellcheck disable=SC1091
  . "$dir/cluster.env"
fi

case $nodes in '' | *[!0-9]* | 0) echo "galera: -n wants a number of nodes, got '$nodes'" >&2; exit 2 ;; esac
if [ -n "$node" ]; then
  case $node in '' | *[!0-9]* | 0) echo "galera: NODE must be 1..$nodes, got '$node'" >&2; exit 2 ;; esac
  if [ "$node" -gt "$nodes" ]; then
    echo "galera: NODE must be 1..$nodes, got $node" >&2
    exit 2
  fi
fi

provider=""
for p in /usr/lib/galera/libgalera_smm.so /usr/lib/galera-4/libgalera_smm.so /usr/lib64/galera-4/libgalera_smm.so; do
  [ -f "$p" ] && provider=$p && break
done

nport() { echo $((port + $1 - 1)); }
ngport() { echo $((gport + 10 * ($1 - 1))); }

conf() { # node
  local n=$1 g addrs="" i
  g=$(ngport "$n")
  for i in $(seq 1 "$nodes"); do
    addrs+="${addrs:+,}127.0.0.1:$(ngport "$i")"
  done
  cat >"$dir/n$n.cnf" <<CNF
[mysqld]
user=mysql
datadir=$dir/n$n/data
socket=$dir/n$n/mysqld.sock
pid-file=$dir/n$n/mysqld.pid
log-error=$dir/n$n/error.log
port=$(nport "$n")
bind-address=127.0.0.1
skip-name-resolve=0
max_connections=1000
innodb_buffer_pool_size=128M
innodb_log_file_size=64M
innodb_flush_log_at_trx_commit=0
log_bin=mysql-bin
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
character_set_server=utf8mb3
collation_server=utf8mb3_general_ci
init_connect='SET NAMES utf8'
wsrep_on=ON
wsrep_provider=$provider
wsrep_cluster_name=glance-manage-test
wsrep_cluster_address=gcomm://$addrs
wsrep_node_name=node$n
wsrep_node_address=127.0.0.1:$g
wsrep_node_incoming_address=127.0.0.1:$(nport "$n")
wsrep_provider_options=gmcast.listen_addr=tcp://127.0.0.1:$g;ist.recv_addr=127.0.0.1:$((g + 1))
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$((g + 2))
wsrep_slave_threads=4
CNF
}

haproxy_conf() {
  local i
  {
    cat <<CFG
# kolla-ansible's layout for MariaDB (haproxy_main.cfg and the mariadb
# service's listener), on loopback.
global
    maxconn 4000
    nbthread 1
    stats socket $dir/haproxy.sock mode 600 level admin
    log stdout format raw local0 info
CFG
    if id haproxy >/dev/null 2>&1; then
      printf '    user haproxy\n    group haproxy\n'
    fi
    cat <<CFG

defaults
    log global
    option redispatch
    retries 3
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout queue 1m
    timeout connect 10s
    timeout client 1m
    timeout server 1m
    timeout check 10s
    balance roundrobin
    maxconn 1000

frontend mariadb_front
    mode tcp
    option tcplog
    option clitcpka
    timeout client 3600s
    bind 127.0.0.1:$proxy_port
    default_backend mariadb_back

backend mariadb_back
    mode tcp
    option srvtcpka
    timeout server 3600s
CFG
    for i in $(seq 1 "$nodes"); do
      printf '    server node%d 127.0.0.1:%d check port %d inter 2000 rise 2 fall 5%s\n' \
        "$i" "$(nport "$i")" "$(nport "$i")" "$([ "$i" -gt 1 ] && echo ' backup')"
    done
  } >"$dir/haproxy.cfg"
}

q() { # node, statement: one value
  mariadb --defaults-file=/dev/null -uroot -S "$dir/n$1/mysqld.sock" -N -B -e "$2" 2>/dev/null
}

status_var() { # node, variable
  q "$1" "SHOW STATUS LIKE '$2'" | awk '{print $2}'
}

pid_of() { # node: the running server's pid, or nothing
  local pid
  pid=$(cat "$dir/n$1/mysqld.pid" 2>/dev/null) || return 0
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    echo "$pid"
  fi
}

wait_synced() { # node, pid, seconds
  local i
  for i in $(seq 1 $(($3 * 2))); do
    if ! kill -0 "$2" 2>/dev/null; then
      break
    fi
    if [ "$(status_var "$1" wsrep_local_state_comment)" = Synced ] && [ "$(status_var "$1" wsrep_ready)" = ON ]; then
      return 0
    fi
    sleep 0.5
  done
  echo "galera: node $1 did not become Synced; see $dir/n$1/error.log" >&2
  tail -20 "$dir/n$1/error.log" >&2 || true
  return 1
}

start_node() { # node, extra mariadbd arguments...
  local n=$1
  shift
  # setsid and no inherited descriptors: the server outlives this script
  # and does not hold a caller's $(...) open.
  setsid mariadbd --defaults-file="$dir/n$n.cnf" "$@" </dev/null >>"$dir/n$n/stdout.log" 2>&1 &
  wait_synced "$n" $! 300
}

stop_nodes() { # signal, nodes...: signals them all, then waits for each
  local sig=$1 n pid pids=()
  shift
  for n in "$@"; do
    pid=$(pid_of "$n")
    [ -n "$pid" ] || continue
    kill "-$sig" "$pid" 2>/dev/null || true
    pids+=("$n:$pid")
  done
  for p in "${pids[@]+"${pids[@]}"}"; do
    n=${p%%:*} pid=${p#*:}
    for _ in $(seq 1 240); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "galera: node $n (pid $pid) did not stop in 60 s; killing it" >&2
      kill -9 "$pid" 2>/dev/null || true
      sleep 1
    fi
    rm -f "$dir/n$n/mysqld.pid"
  done
}

stop_haproxy() {
  local pid
  pid=$(cat "$dir/haproxy.pid" 2>/dev/null) || return 0
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
  rm -f "$dir/haproxy.pid"
}

stop_all() {
  stop_haproxy
  # Every node directory there is.
  # shellcheck disable=SC2046
  stop_nodes TERM $(ls -d "$dir"/n[0-9]*/ 2>/dev/null | sed 's|/$||; s|.*/n||')
}

proxy_state() { # HAProxy's view of its backends: node1=UP node2=UP(backup) ...
  [ -S "$dir/haproxy.sock" ] || return 0
  echo "show stat" | socat stdio "unix-connect:$dir/haproxy.sock" 2>/dev/null |
    awk -F, '$1 == "mariadb_back" && $2 ~ /^node/ { printf "%s%s=%s%s", sep, $2, $18, ($21 == "0" || $21 == "" ? "" : "(backup)"); sep = " " } END { print "" }'
}

proxy_up() { # node: HAProxy's checks pass for it (status UP, not rising or falling)
  [ -S "$dir/haproxy.sock" ] || return 1
  [ "$(echo "show stat" | socat stdio "unix-connect:$dir/haproxy.sock" 2>/dev/null |
    awk -F, -v s="node$1" '$1 == "mariadb_back" && $2 == s { print $18 }')" = UP ]
}

case $cmd in
start)
  if [ -z "$provider" ]; then
    echo "galera: libgalera_smm.so not found (install galera-4)" >&2
    exit 1
  fi
  if [ "$haproxy" = 1 ] && ! command -v haproxy >/dev/null; then
    echo "galera: --haproxy: haproxy not found (apt-get install haproxy)" >&2
    exit 1
  fi
  stop_all
  rm -rf "$dir"
  # A start that fails stops what it started (the logs stay in DIR).
  trap '[ $? = 0 ] || { stop_all; }' EXIT
  mkdir -p "$dir"
  # mariadbd runs as mysql (the state transfer's rsync daemon, started
  # by root, would write as nobody).
  chmod 755 "$dir"
  printf 'nodes=%s\nhaproxy=%s\nport=%s\ngport=%s\nproxy_port=%s\n' "$nodes" "$haproxy" "$port" "$gport" "$proxy_port" >"$dir/cluster.env"
  for n in $(seq 1 "$nodes"); do
    mkdir -p "$dir/n$n/data"
    conf "$n"
    chown -R mysql:mysql "$dir/n$n"
  done
  # Only node 1 needs system tables: the others get everything by state
  # transfer when they join.
  mariadb-install-db --defaults-file="$dir/n1.cnf" --auth-root-authentication-method=normal --skip-test-db >"$dir/n1/install.log" 2>&1
  start_node 1 --wsrep-new-cluster
  q 1 "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; CREATE DATABASE IF NOT EXISTS test" >/dev/null
  for n in $(seq 2 "$nodes"); do
    start_node "$n"
  done
  size=$(status_var 1 wsrep_cluster_size)
  if [ "$size" != "$nodes" ]; then
    echo "galera: cluster size $size, want $nodes" >&2
    exit 1
  fi
  urls=""
  for n in $(seq 1 "$nodes"); do
    urls+="${urls:+,}mysql+pymysql://root@127.0.0.1:$(nport "$n")/test"
  done
  echo "$urls" >"$dir/urls"
  if [ "$haproxy" = 1 ]; then
    haproxy_conf
    haproxy -c -q -f "$dir/haproxy.cfg"
    setsid haproxy -db -f "$dir/haproxy.cfg" </dev/null >>"$dir/haproxy.log" 2>&1 &
    echo $! >"$dir/haproxy.pid"
    # Wait for HAProxy's first passing check of node 1 and a connection
    # through it landing there.
    hpid=$(cat "$dir/haproxy.pid") landed=""
    for _ in $(seq 1 80); do
      kill -0 "$hpid" 2>/dev/null || break
      if proxy_up 1; then
        landed=$(mariadb --defaults-file=/dev/null -uroot -h127.0.0.1 -P"$proxy_port" -N -e "SELECT @@port" 2>/dev/null) || true
        [ "$landed" = "$(nport 1)" ] && break
      fi
      sleep 0.25
    done
    if [ "$landed" != "$(nport 1)" ]; then
      echo "galera: HAProxy on 127.0.0.1:$proxy_port does not lead to node 1; see $dir/haproxy.log" >&2
      tail -5 "$dir/haproxy.log" >&2 || true
      exit 1
    fi
    echo "mysql+pymysql://root@127.0.0.1:$proxy_port/test" >"$dir/proxy_url"
    echo "galera: HAProxy in front: $(cat "$dir/proxy_url") (node 1 active, the others backup)" >&2
  fi
  echo "$urls"
  ;;
stop)
  stop_all
  ;;
kill)
  pid=$(pid_of "$node")
  if [ -z "$pid" ]; then
    echo "galera: node $node is not running" >&2
    exit 1
  fi
  stop_nodes 9 "$node"
  ;;
restart)
  if pid=$(pid_of "$node") && [ -n "$pid" ]; then
    echo "galera: node $node is running; waiting until it is Synced" >&2
    wait_synced "$node" "$pid" 300
  else
    rm -f "$dir/n$node/mysqld.pid" "$dir/n$node/mysqld.sock"
    # As galera_recovery does: read the last committed position from
    # InnoDB (a killed node's grastate.dat says seqno -1), so that the
    # node asks for the missing writesets only (IST) instead of a full
    # copy (SST).
    pos=""
    if mariadbd --defaults-file="$dir/n$node.cnf" --wsrep-recover --log-error="$dir/n$node/recover.log" </dev/null >/dev/null 2>&1; then
      pos=$(sed -n 's/.*WSREP: Recovered position: \([^ ]*\).*/\1/p' "$dir/n$node/recover.log" | tail -1)
    fi
    rm -f "$dir/n$node/recover.log"
    chown -R mysql:mysql "$dir/n$node"
    if [ -n "$pos" ]; then
      start_node "$node" --wsrep_start_position="$pos"
    else
      start_node "$node"
    fi
    sed -n 's/.*\(IST received\|SST received\|State transfer required\|Prepared IST receiver\).*/galera: node '"$node"': \1/p' "$dir/n$node/error.log" | tail -1 >&2 || true
  fi
  # Behind HAProxy: return once its checks take the node back (two
  # passing checks 2 s apart), so that what follows sees the usual layout.
  if [ "$haproxy" = 1 ]; then
    for _ in $(seq 1 120); do
      proxy_up "$node" && break
      sleep 0.25
    done
    if ! proxy_up "$node"; then
      echo "galera: HAProxy does not take node $node back; see $dir/haproxy.log" >&2
      exit 1
    fi
  fi
  ;;
status)
  ok=0
  for n in $(seq 1 "$nodes"); do
    if [ -z "$(pid_of "$n")" ]; then
      echo "node$n 127.0.0.1:$(nport "$n") down"
      ok=1
      continue
    fi
    state=$(status_var "$n" wsrep_local_state_comment)
    echo "node$n 127.0.0.1:$(nport "$n") ${state:-unreachable} size=$(status_var "$n" wsrep_cluster_size) $(status_var "$n" wsrep_cluster_status)"
    [ "$state" = Synced ] && [ "$(status_var "$n" wsrep_cluster_size)" = "$nodes" ] || ok=1
  done
  if [ "$haproxy" = 1 ]; then
    echo "proxy 127.0.0.1:$proxy_port $(proxy_state)"
  fi
  exit $ok
  ;;
env)
  printf 'export GLANCE_TEST_GALERA_URLS=%s\n' "$(cat "$dir/urls")"
  if [ -f "$dir/proxy_url" ]; then
    printf 'export GLANCE_TEST_GALERA_PROXY_URL=%s\n' "$(cat "$dir/proxy_url")"
  fi
  printf 'export GLANCE_TEST_GALERA_DIR=%s\n' "$(cd "$dir" && pwd)"
  ;;
*)
  usage
  ;;
esac
