#!/usr/bin/env bash
# Proves the Debian package: builds it, installs it with apt into a fresh Debian root made by
# debootstrap (minbase: nothing but what the package declares comes along), and runs
# `ingestd --version`, `ingestd check-config` and `ingestd spool status` inside it with chroot.
# A missing runtime library would fail there. Called by Tests/IntegrationTests/DebianPackageTests.
#
#   scripts/test-deb.sh --binary PATH     package this ingestd (built with --static-swift-stdlib)
#   scripts/test-deb.sh                   let package-deb.sh make a release build first
#
# Needs root, debootstrap, dpkg-dev, fakeroot and the Debian mirror; exits 77 (skip) without them.
# The debootstrap root (minutes to make) is cached as a tarball in INGESTD_DEBOOTSTRAP_CACHE
# (default /var/cache/ingestd-tests), one per suite and architecture; each run unpacks a fresh copy.
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { echo "test-deb.sh: SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot)"
for tool in debootstrap chroot dpkg-deb dpkg-shlibdeps fakeroot; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/install-deps.sh installs it)"
done
. /etc/os-release
suite=${INGESTD_DEBOOTSTRAP_SUITE:-${VERSION_CODENAME:-}}
[ -n "$suite" ] && [ "${ID:-}" = debian ] || skip "not a Debian host: the package is built against this host's libraries"
mirror=${INGESTD_DEBOOTSTRAP_MIRROR:-http://deb.debian.org/debian}
arch=$(dpkg --print-architecture)
cache_dir=${INGESTD_DEBOOTSTRAP_CACHE:-/var/cache/ingestd-tests}
cache="$cache_dir/debootstrap-$suite-$arch-minbase.tar"

binary_args=()
[ $# -ge 2 ] && [ "$1" = --binary ] && binary_args=(--binary "$2")

work=$(mktemp -d "${TMPDIR:-/tmp}/ingestd-debtest.XXXXXX")
root="$work/root"
cleanup() {
  mountpoint -q "$root/proc" 2>/dev/null && umount "$root/proc"
  rm -rf "$work"
}
trap cleanup EXIT

started=$(date +%s)
scripts/package-deb.sh --fast "${binary_args[@]}" --output "$work"
deb=$(ls "$work"/ingestd_*.deb)
version=$(dpkg-deb --field "$deb" Version)
packaged=$(date +%s)

if [ ! -s "$cache" ]; then
  echo "test-deb.sh: debootstrap --variant=minbase $suite (once; cached in $cache)"
  mkdir -p "$cache_dir" "$work/fresh"
  if ! debootstrap --variant=minbase "$suite" "$work/fresh" "$mirror" > "$work/debootstrap.log" 2>&1; then
    tail -n 20 "$work/debootstrap.log"
    echo "test-deb.sh: debootstrap failed (mirror $mirror)" >&2
    exit 1
  fi
  tar -C "$work/fresh" -cf "$cache.tmp.$$" . && mv "$cache.tmp.$$" "$cache"
  rm -rf "$work/fresh"
fi
bootstrapped=$(date +%s)

mkdir -p "$root"
tar -C "$root" -xf "$cache"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
mount -t proc proc "$root/proc"
cp "$deb" "$root/tmp/"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

echo "test-deb.sh: apt-get install ./$(basename "$deb") into a fresh $suite root"
in_root apt-get update -qq
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "/tmp/$(basename "$deb")" > "$work/apt.log" 2>&1 \
  || { cat "$work/apt.log"; echo "test-deb.sh: installing the package failed" >&2; exit 1; }

fail() { echo "test-deb.sh: FAIL: $*" >&2; exit 1; }
echo "--- ldd /usr/bin/ingestd"
in_root ldd /usr/bin/ingestd | tee "$work/ldd"
! grep -q 'not found' "$work/ldd" || fail "a runtime library is missing: the package does not declare it"

echo "--- ingestd --version"
shown=$(in_root /usr/bin/ingestd --version)
echo "$shown"
[ -n "$shown" ] || fail "empty --version"
if [ ${#binary_args[@]} -gt 0 ]; then
  [ "$shown" = "$("${binary_args[1]}" --version)" ] || fail "--version in the root ($shown) is not the packaged binary's"
fi

echo "--- ingestd check-config (as the unit runs it: /etc/default/ingestd and the unit's Environment=)"
in_root /bin/sh -c 'set -a; . /etc/default/ingestd; SPOOL_DIR=/var/lib/ingestd/spool HEALTH_LISTEN=127.0.0.1:9464 REGISTRY_FILE=/etc/ingestd/devices.json /usr/bin/ingestd check-config' > "$work/check" 2>&1 \
  || { cat "$work/check"; fail "check-config exited non-zero"; }
grep -q '^configuration ok$' "$work/check" || { cat "$work/check"; fail "check-config did not say configuration ok"; }
tail -n 3 "$work/check"

echo "--- ingestd spool status (as the user ingestd)"
chroot --userspec=ingestd:ingestd "$root" /usr/bin/env -i PATH=/usr/bin:/bin SPOOL_DIR=/var/lib/ingestd/spool REGISTRY=none \
  /usr/bin/ingestd spool status > "$work/spool" 2>&1 || { cat "$work/spool"; fail "spool status exited non-zero"; }
cat "$work/spool"

echo "--- what the package set up"
[ "$(in_root stat -c '%a %U' /etc/default/ingestd)" = "640 root" ] || fail "/etc/default/ingestd is not 0640 root"
[ "$(in_root stat -c '%U %G %a' /var/lib/ingestd/spool)" = "ingestd ingestd 750" ] || fail "/var/lib/ingestd/spool is not ingestd's, 0750"
in_root getent passwd ingestd | grep -q ':/var/lib/ingestd:/usr/sbin/nologin$' || fail "no system user ingestd"
grep -q '^ExecStart=/usr/bin/ingestd run$' "$root/lib/systemd/system/ingestd.service" || fail "unit's ExecStart"
grep -q '^User=ingestd$' "$root/lib/systemd/system/ingestd.service" || fail "unit's User"
for file in /usr/share/man/man1/ingestd.1.gz /usr/share/bash-completion/completions/ingestd \
            /usr/share/zsh/vendor-completions/_ingestd /usr/share/fish/vendor_completions.d/ingestd.fish; do
  [ -s "$root$file" ] || fail "$file missing"
done
echo "user, /var/lib/ingestd, /etc/default/ingestd, unit, man page, completions: ok"

echo "--- apt-get purge ingestd"
in_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq ingestd > "$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "purge failed"; }
[ ! -e "$root/usr/bin/ingestd" ] && [ ! -e "$root/etc/default/ingestd" ] || fail "purge left files behind"

finished=$(date +%s)
echo "test-deb.sh: ok: ingestd $version installs and runs in a fresh $suite root" \
  "(package $((packaged - started)) s, debootstrap $((bootstrapped - packaged)) s, install and checks $((finished - bootstrapped)) s)"
