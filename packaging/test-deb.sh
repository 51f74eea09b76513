#!/usr/bin/env bash
# Tests the Debian package on this machine, as root, with Debian's
# glance-common installed: builds it (packaging/build-deb.sh), installs it,
# checks that /usr/bin/glance-manage is ours (db sync and db version on a
# fresh SQLite and, when the server answers, a fresh MariaDB database),
# that the Python tool was diverted to /usr/bin/glance-manage.python and
# that reinstalling glance-common (what an upgrade does) leaves ours in
# place; then removes it, and installs and purges it again, checking each
# time that the Python tool is back and no diversion is left.
#
# The package replaces the reference tool that the interop suites run, so
# each install is kept to a few seconds and always removed again (also
# when a check fails). CI runs this after every test suite.
#
#   packaging/test-deb.sh                 # MariaDB at 127.0.0.1:3306 as root
#   GLANCE_DEB_MYSQL=none packaging/test-deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."

pkg=glance-manage-go
bin=/usr/bin/glance-manage
python_bin=/usr/bin/glance-manage.python
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
# expect DESCRIPTION COMMAND...: the command must succeed.
expect() {
  local what="$1"
  shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}

[ "$(id -u)" = 0 ] || { echo "test-deb.sh: run as root (it installs a package)" >&2; exit 1; }
if ! dpkg-query -W -f='${Status}' glance-common 2>/dev/null | grep -q 'install ok installed'; then
  echo "== installing Debian's glance-common (the Python tool)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends python3-glance glance-common python3-pymysql >/dev/null
fi
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok'; then
  echo "test-deb.sh: $pkg is installed already; remove it first (dpkg -r $pkg)" >&2
  exit 1
fi

tmp="$(mktemp -d)"
mysql_db=""
cleanup() {
  # Never leave the package installed: other tests use the Python tool.
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok\|unpacked\|half'; then
    dpkg --purge "$pkg" >/dev/null 2>&1 || true
  fi
  if [ -n "$mysql_db" ]; then
    mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS \`$mysql_db\`" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "== build"
deb="$(bash packaging/build-deb.sh)"
version="$(dpkg-deb -f "$deb" Version)"
echo "$deb ($version)"
contents="$(dpkg-deb --contents "$deb")"
for f in ./usr/bin/glance-manage ./usr/share/man/man1/glance-manage.1.gz ./usr/share/man/man1/glance-manage-db-sync.1.gz \
  ./usr/share/bash-completion/completions/glance-manage ./usr/share/zsh/vendor-completions/_glance-manage ./usr/share/doc/$pkg/copyright; do
  expect "the package holds $f" grep -q " $f\$" <<<"$contents"
done
dpkg-deb -x "$deb" "$tmp/x"
# A static binary has no program interpreter (no dynamic loader).
expect "the binary is static" bash -c "! LC_ALL=C grep -qa '/ld-linux' '$tmp/x/usr/bin/glance-manage'"
expect "the man page renders" bash -c "zcat '$tmp/x/usr/share/man/man1/glance-manage.1.gz' | grep -qx '.SH EXIT STATUS'"
if command -v lintian >/dev/null; then
  echo "== lintian"
  lintian --no-tag-display-limit "$deb" | tee "$tmp/lintian.txt" || true
  expect "lintian reports no error" bash -c "! grep -q '^E:' '$tmp/lintian.txt'"
fi

echo "== before: Debian's tool"
python_sum="$(md5sum <"$bin")"
python_version="$("$bin" --version 2>&1)"
echo "$bin --version: $python_version"
expect "the Python tool is at $bin" bash -c "head -1 '$bin' | grep -q python"
expect "no diversion of $bin" bash -c "[ -z \"\$(dpkg-divert --list '$bin')\" ]"
# glance-common's package, to reinstall it while ours is installed as an
# upgrade would (fetched now, outside the window).
common_deb=""
if (cd "$tmp" && { apt-get download -qq glance-common 2>/dev/null || { apt-get update -qq && apt-get download -qq glance-common; }; }); then
  common_deb="$(ls "$tmp"/glance-common_*.deb)"
elif [ "${CI:-}" = true ]; then
  bad "glance-common could not be downloaded (to reinstall it beside ours)"
else
  echo "(glance-common could not be downloaded: its reinstall is not tested)"
fi

# Databases and configuration files for the installed tool.
cat >"$tmp/sqlite.conf" <<EOF
[database]
connection = sqlite:///$tmp/glance.sqlite
EOF
confs=("$tmp/sqlite.conf")
if [ "${GLANCE_DEB_MYSQL:-}" != none ] && mysql -uroot -h127.0.0.1 -e 'SELECT 1' >/dev/null 2>&1; then
  mysql_db="glance_deb_$$_$RANDOM"
  mysql -uroot -h127.0.0.1 -e "CREATE DATABASE \`$mysql_db\`"
  cat >"$tmp/mysql.conf" <<EOF
[database]
connection = mysql+pymysql://root@127.0.0.1:3306/$mysql_db
EOF
  confs+=("$tmp/mysql.conf")
elif [ "${CI:-}" = true ] && [ "${GLANCE_DEB_MYSQL:-}" != none ]; then
  bad "MariaDB at 127.0.0.1:3306 does not answer (CI=true; GLANCE_DEB_MYSQL=none skips it)"
fi

# The checks, each a function (expect runs it and counts).
is_ours() { "$bin" --version | head -1 | grep -qx "$version"; }
names_head() { "$bin" --version | grep -q '^Glance schema head: 2024_1_contract01'; }
diverted() {
  [ "$(dpkg-divert --listpackage "$bin")" = "$pkg" ] && [ "$(dpkg-divert --truename "$bin")" = "$python_bin" ]
}
python_kept() { [ "$(md5sum <"$python_bin")" = "$python_sum" ]; }
python_back() { [ "$(md5sum <"$bin")" = "$python_sum" ]; }
no_diversion() { ! dpkg-divert --list | grep -q " by $pkg\$" && [ ! -e "$python_bin" ]; }
not_installed() { ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; }
synced() { # CONF
  "$bin" --config-file "$1" db sync >"$tmp/out" 2>"$tmp/err" && [ "$(tail -1 "$tmp/out")" = 'Database is synced successfully.' ]
}
at_head() { # CONF
  "$bin" --config-file "$1" db version >"$tmp/out" 2>"$tmp/err" &&
    [ "$(cat "$tmp/out")" = 2024_1_contract01 ] && grep -q '^Composite version:' "$tmp/err"
}
completes() { "$bin" __complete db sy 2>/dev/null | cut -f1 | grep -qx sync; }
completion_script() {
  bash -c '
    if [ -r /usr/share/bash-completion/bash_completion ]; then
      . /usr/share/bash-completion/bash_completion
    else # the one function of bash-completion the script needs
      _get_comp_words_by_ref() { cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
    fi
    . /usr/share/bash-completion/completions/glance-manage
    COMP_WORDS=(glance-manage db ver); COMP_CWORD=2; COMP_LINE="glance-manage db ver"; COMP_POINT=${#COMP_LINE}
    __start_glance-manage
    [[ " ${COMPREPLY[*]} " == *" version "* ]]' 2>/dev/null # compopt: not in a real completion
}
reinstall_common() {
  DEBIAN_FRONTEND=noninteractive dpkg -i "$common_deb" >"$tmp/common.log" 2>&1 || { cat "$tmp/common.log"; false; }
}

installed() {
  expect "$pkg installs" dpkg -i "$deb"
  expect "$bin is ours (--version $version)" is_ours
  expect "$bin --version names the schema head" names_head
  expect "$bin is diverted by $pkg to $python_bin" diverted
  expect "the Python tool is kept as $python_bin" python_kept
  expect "the Python tool's man page is kept as glance-manage.python.1.gz" test -f /usr/share/man/man1/glance-manage.python.1.gz
}

removed() {
  local how="$1"
  expect "the Python tool is back at $bin after $how" python_back
  expect "no diversion is left after $how" no_diversion
  expect "$pkg is gone after $how" not_installed
  expect "glance-common's files verify after $how" dpkg --verify glance-common
}

echo "== install, use, remove (window opens)"
started=$(date +%s%N)
installed
for conf in "${confs[@]}"; do
  name="$(basename "$conf" .conf)"
  expect "$name: db sync through $bin" synced "$conf"
  expect "$name: db version through $bin prints our head" at_head "$conf"
done
expect "$bin completes (cobra's __complete)" completes
expect "the bash completion script completes db actions" completion_script
if [ -n "$common_deb" ]; then
  expect "glance-common reinstalls beside ours (as an upgrade would)" reinstall_common
  expect "after glance-common's reinstall $bin is still ours" is_ours
  expect "after glance-common's reinstall its tool is at $python_bin" python_kept
fi
expect "$pkg removes" dpkg -r "$pkg"
echo "(installed for $(( ($(date +%s%N) - started) / 1000000 )) ms)"
removed "dpkg -r"

echo "== install, purge (window opens)"
started=$(date +%s%N)
installed
expect "$pkg purges" dpkg --purge "$pkg"
echo "(installed for $(( ($(date +%s%N) - started) / 1000000 )) ms)"
removed "dpkg --purge"
out="$("$bin" --version 2>&1)"
expect "$bin --version prints the Python tool's version again ($python_version)" test "$out" = "$python_version"

echo
echo "deb: $passed passed, $failed failed"
[ "$failed" = 0 ]
