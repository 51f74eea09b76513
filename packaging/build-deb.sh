#!/usr/bin/env bash
# Builds dist/glance-manage-go_<version>_<arch>.deb: the static binary
# (CGO_ENABLED=0) as /usr/bin/glance-manage, its manual pages and its bash
# and zsh completions (generated from the command tree by tools/mangen).
# Installing the package diverts the Python tool of glance-common to
# /usr/bin/glance-manage.python (and its manual page), so that upgrades of
# glance-common put the Python tool there and never over this one;
# removing or purging the package puts the Python tool back.
#
#   packaging/build-deb.sh            # for this machine's architecture
#   DEB_ARCH=arm64 packaging/build-deb.sh
#
# Needs Go and dpkg-deb; prints the path of the package.
set -euo pipefail
cd "$(dirname "$0")/.."

pkg=glance-manage-go
arch="${DEB_ARCH:-$(dpkg --print-architecture)}"
case "$arch" in
  amd64 | arm64 | riscv64 | ppc64el | s390x) goarch="${arch/ppc64el/ppc64le}" ;;
  i386) goarch=386 ;;
  armhf) goarch=arm ;;
  *) echo "build-deb.sh: no Go architecture known for Debian's $arch" >&2; exit 1 ;;
esac
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
go build -o "$work/mangen" ./tools/mangen
version="$("$work/mangen" -version)"
maintainer="${DEB_MAINTAINER:-glance-manage maintainers <maintainers@glance-manage.invalid>}"
# Reproducible: the pages' and the changelog's date is the last commit's.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH="$(git log -1 --format=%ct 2>/dev/null || date +%s)"
fi
export SOURCE_DATE_EPOCH

root="$work/root"
doc="$root/usr/share/doc/$pkg"
mkdir -p "$root/DEBIAN" "$root/usr/bin" "$doc"

CGO_ENABLED=0 GOOS=linux GOARCH="$goarch" GOARM="${GOARM:-7}" \
  go build -trimpath -buildvcs=false -ldflags '-s -w' -o "$root/usr/bin/glance-manage" ./cmd/glance-manage

"$work/mangen" \
  -man "$root/usr/share/man/man1" \
  -bash "$root/usr/share/bash-completion/completions/glance-manage" \
  -zsh "$root/usr/share/zsh/vendor-completions/_glance-manage"
gzip -9n "$root"/usr/share/man/man1/*.1

date_rfc2822="$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
cat >"$work/changelog" <<EOF
$pkg ($version) unstable; urgency=medium

  * Built from the glance-manage repository, version $version.

 -- $maintainer  $date_rfc2822
EOF
gzip -9n -c "$work/changelog" >"$doc/changelog.gz"
cat >"$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: glance-manage
Comment: A Go re-implementation of OpenStack Glance's glance-manage db. The
 revision ids, messages and exit codes it shares with OpenStack Glance are
 facts about that tool; no Glance code is included.

Files: *
Copyright: $(date -u -d "@$SOURCE_DATE_EPOCH" +%Y) the glance-manage authors
License: none-declared
 The repository this package is built from declares no license.
EOF

# Go builds static binaries; this one is static on purpose (CGO_ENABLED=0).
# Lintian exempts Go binaries only by their source package's
# Build-Depends, which a package built without one cannot show.
mkdir -p "$root/usr/share/lintian/overrides"
cat >"$root/usr/share/lintian/overrides/$pkg" <<EOF
# A Go program, built static on purpose (CGO_ENABLED=0).
$pkg: statically-linked-binary [usr/bin/glance-manage]
EOF

cat >"$root/DEBIAN/control" <<EOF
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Section: admin
Priority: optional
Suggests: mariadb-client, postgresql-client
Enhances: glance-common
Description: OpenStack Glance's glance-manage db, in Go
 A drop-in for the Python glance-manage of glance-common: the same
 configuration files, connection URLs, revision ids, messages and exit
 codes, on SQLite, MySQL/MariaDB and PostgreSQL, faster, and safe for
 rolling upgrades (expand, migrate, contract) on all three.
 .
 It takes the place of /usr/bin/glance-manage: the Python tool is diverted
 to /usr/bin/glance-manage.python while this package is installed, and
 comes back when it is removed.
EOF

# The diversions are made before the files are unpacked (dpkg would refuse
# to overwrite glance-common's files) and removed once ours are gone.
divert() { # ACTION FILE DIVERTED
  printf '\tdpkg-divert --package %s --%s --rename --divert %s %s\n' "$pkg" "$1" "$3" "$2"
}
diversions() {
  divert "$1" /usr/bin/glance-manage /usr/bin/glance-manage.python
  divert "$1" /usr/share/man/man1/glance-manage.1.gz /usr/share/man/man1/glance-manage.python.1.gz
}
cat >"$root/DEBIAN/preinst" <<EOF
#!/bin/sh
set -e
case "\$1" in
install | upgrade)
$(diversions add)
	;;
esac
exit 0
EOF
cat >"$root/DEBIAN/postrm" <<EOF
#!/bin/sh
set -e
case "\$1" in
remove | abort-install | disappear)
$(diversions remove)
	;;
esac
exit 0
EOF
chmod 0755 "$root/DEBIAN/preinst" "$root/DEBIAN/postrm"

(cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
find "$root" -type d -exec chmod 0755 {} +
find "$root/usr" -type f -exec chmod 0644 {} +
chmod 0755 "$root/usr/bin/glance-manage"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

mkdir -p dist
out="dist/${pkg}_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "$out"
