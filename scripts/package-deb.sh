#!/usr/bin/env bash
# Builds the Debian package ingestd_<version>_<arch>.deb (README "Install").
#
#   scripts/package-deb.sh                       release build (Swift runtime linked statically), then the package
#   scripts/package-deb.sh --binary PATH         package an ingestd already built with --static-swift-stdlib
#   scripts/package-deb.sh --output DIR          where the .deb goes (default: the repository root)
#   scripts/package-deb.sh --fast                gzip -1 instead of xz (the test suite's packages)
#
# What goes in: /usr/bin/ingestd; the systemd unit (deploy/systemd/ingestd.service adapted: /usr/bin,
# /etc/default/ingestd, the system user `ingestd` instead of DynamicUser); sysusers.d and tmpfiles.d
# entries (the user, /var/lib/ingestd); /etc/default/ingestd (0640) with every setting commented,
# made from `ingestd check-config --defaults` and README's Settings table; an empty registry
# /etc/ingestd/devices.json; the man page and bash/zsh/fish completions, generated from the argument
# parser. Depends is computed from the binary by dpkg-shlibdeps. lintian runs when installed and
# must report no error. Needs: dpkg-dev, python3; for the man page, swift (builds
# swift-argument-parser's generate-manual once, into .build/tools).
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$(pwd)

binary=""
output_dir="$root_dir"
compression=(-Zxz)
while [ $# -gt 0 ]; do
  case $1 in
    --binary) binary=$2; shift 2 ;;
    --output) output_dir=$2; shift 2 ;;
    --fast) compression=(-Zgzip -z1); shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "package-deb.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
  esac
done

for tool in dpkg-deb dpkg-shlibdeps python3 fakeroot; do
  command -v "$tool" >/dev/null || { echo "package-deb.sh: $tool is missing (apt-get install dpkg-dev fakeroot python3)" >&2; exit 1; }
done

if [ -z "$binary" ]; then
  echo "package-deb.sh: swift build -c release --product ingestd --static-swift-stdlib"
  swift build -c release --product ingestd --static-swift-stdlib
  binary="$(swift build -c release --show-bin-path)/ingestd"
fi
[ -x "$binary" ] || { echo "package-deb.sh: no executable at $binary" >&2; exit 1; }
# The package carries no Swift runtime: the binary must have it linked in.
if ldd "$binary" | grep -q 'libswift\|libFoundation\|lib_Foundation'; then
  echo "package-deb.sh: $binary links the Swift runtime dynamically; build it with --static-swift-stdlib" >&2
  exit 1
fi

version=$(scripts/version.sh --debian)
# Maintainer: DEBFULLNAME/DEBEMAIL (Debian's convention), else the git identity of this checkout.
maintainer_name=${DEBFULLNAME:-$(git config user.name 2>/dev/null || true)}
maintainer_email=${DEBEMAIL:-$(git config user.email 2>/dev/null || true)}
maintainer="${maintainer_name:-ingestd maintainers} <${maintainer_email:-maintainers@ingestd.invalid}>"
arch=$(dpkg --print-architecture)
binary_version=$("$binary" --version)
echo "package-deb.sh: ingestd $binary_version as Debian version $version ($arch)"

work=$(mktemp -d "${TMPDIR:-/tmp}/ingestd-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
pkg="$work/ingestd"
mkdir -p "$pkg/DEBIAN"

# --- the binary --------------------------------------------------------------------------------
install -D -m 0755 "$binary" "$pkg/usr/bin/ingestd"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$pkg/usr/bin/ingestd"

# --- systemd: the unit, the user, the state directory --------------------------------------------
unit="$pkg/lib/systemd/system/ingestd.service"
install -D -m 0644 deploy/systemd/ingestd.service "$unit"
# Each edit must apply: a changed unit in deploy/ must not yield a package that silently differs.
edit_unit() {
  local pattern=$1 replacement=$2
  grep -q -- "$pattern" "$unit" || { echo "package-deb.sh: deploy/systemd/ingestd.service has no line matching '$pattern'" >&2; exit 1; }
  sed -i -e "s|$pattern|$replacement|" "$unit"
}
edit_unit '^# ingestd as a systemd service.*' '# ingestd as a systemd service, from the Debian package (settings: /etc/default/ingestd).'
edit_unit '^ExecStart=/usr/local/bin/ingestd' 'ExecStart=/usr/bin/ingestd'
edit_unit '^EnvironmentFile=.*' 'EnvironmentFile=/etc/default/ingestd'
# A system user (sysusers.d) rather than DynamicUser: operators run `ingestd spool status` as it, and
# the spool keeps one owner across upgrades.
edit_unit '^DynamicUser=yes' 'User=ingestd\nGroup=ingestd'
edit_unit '^# /var/lib/ingestd (the spool), owned by the dynamic user.*' '# /var/lib/ingestd (the spool), owned by ingestd and kept across restarts and upgrades.'

install -D -m 0644 /dev/stdin "$pkg/usr/lib/sysusers.d/ingestd.conf" <<'CONF'
# The system user ingestd runs as (ingestd.service: User=ingestd).
u ingestd - "ingestd daemon" /var/lib/ingestd /usr/sbin/nologin
CONF
install -D -m 0644 /dev/stdin "$pkg/usr/lib/tmpfiles.d/ingestd.conf" <<'CONF'
# ingestd's state: the spool, dead letters, crash journal and instance lock (SPOOL_DIR).
d /var/lib/ingestd 0750 ingestd ingestd -
d /var/lib/ingestd/spool 0750 ingestd ingestd -
CONF

# --- configuration ---------------------------------------------------------------------------
"$binary" check-config --defaults > "$work/defaults"
install -d -m 0755 "$pkg/etc/default"
python3 scripts/lib/env_template.py "$work/defaults" README.md > "$pkg/etc/default/ingestd"
chmod 0640 "$pkg/etc/default/ingestd"
# An empty registry: every device is refused until its record is added (REGISTRY_FILE, README "Registry").
install -d -m 0755 "$pkg/etc/ingestd"
printf '[]\n' > "$pkg/etc/ingestd/devices.json"
chmod 0644 "$pkg/etc/ingestd/devices.json"
printf '/etc/default/ingestd\n/etc/ingestd/devices.json\n' > "$pkg/DEBIAN/conffiles"
# 0640 on purpose: the file holds INFLUXDB_TOKEN and the other secrets (systemd reads it as root).
install -D -m 0644 /dev/stdin "$pkg/usr/share/lintian/overrides/ingestd" <<'OVERRIDES'
# /etc/default/ingestd holds secrets (INFLUXDB_TOKEN, MQTT_PASSWORD, PG_PASS): not world-readable.
ingestd: non-standard-file-perm 0640 != 0644 [etc/default/ingestd]
# Yams (the MAPPING_FILE reader) builds its own copy of libyaml into the binary, as every Swift
# package is linked statically; it reads the rule file once at start and on SIGHUP, never input from
# devices (README "Dependencies, and why each is there").
ingestd: embedded-library libyaml [usr/bin/ingestd]
OVERRIDES

# --- man page and completions, from the argument parser -----------------------------------------
tools="$root_dir/.build/tools"
generate_manual="$tools/release/generate-manual"
if [ ! -x "$generate_manual" ]; then
  parser=$(find "$root_dir/.build/checkouts" -maxdepth 1 -name 'swift-argument-parser' | head -n 1)
  [ -n "$parser" ] || swift package resolve
  parser="$root_dir/.build/checkouts/swift-argument-parser"
  echo "package-deb.sh: building generate-manual (swift-argument-parser) once, into .build/tools"
  swift build -c release --package-path "$parser" --scratch-path "$tools" --product generate-manual
fi
mkdir -p "$work/man"
# The page's date: the commit's, so the same commit makes the same page.
page_date=$(date -u -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)" +%Y-%m-%d)
"$generate_manual" "$binary" --output-directory "$work/man" --date "$page_date" --section 1 >/dev/null
man_page=$(find "$work/man" -name 'ingestd.1' | head -n 1)
[ -n "$man_page" ] || { echo "package-deb.sh: generate-manual wrote no ingestd.1" >&2; exit 1; }
install -D -m 0644 "$man_page" "$pkg/usr/share/man/man1/ingestd.1"
gzip -9n "$pkg/usr/share/man/man1/ingestd.1"
# Completions are sourced, not run: no "#!" line (lintian: bash-completion-with-hashbang).
"$binary" --generate-completion-script bash | sed '1{/^#!/d}' > "$work/bash"
"$binary" --generate-completion-script zsh > "$work/zsh"
"$binary" --generate-completion-script fish > "$work/fish"
install -D -m 0644 "$work/bash" "$pkg/usr/share/bash-completion/completions/ingestd"
install -D -m 0644 "$work/zsh" "$pkg/usr/share/zsh/vendor-completions/_ingestd"
install -D -m 0644 "$work/fish" "$pkg/usr/share/fish/vendor_completions.d/ingestd.fish"

# --- documentation -----------------------------------------------------------------------------
doc="$pkg/usr/share/doc/ingestd"
install -d -m 0755 "$doc"
cat > "$doc/copyright" <<'COPYRIGHT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ingestd

Files: *
Copyright: 2026 the ingestd authors
License: Apache-2.0

License: Apache-2.0
 Licensed under the Apache License, Version 2.0 (the "License"); you may not
 use this file except in compliance with the License. You may obtain a copy of
 the License at http://www.apache.org/licenses/LICENSE-2.0
 .
 Unless required by applicable law or agreed to in writing, software
 distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
 WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
 License for the specific language governing permissions and limitations under
 the License.
 .
 On Debian systems, the full text of the Apache License, Version 2.0 can be
 found in the file `/usr/share/common-licenses/Apache-2.0'.
 .
 The binary links the Swift runtime and the Swift packages listed in README.md
 ("Dependencies") statically; they are Apache-2.0 (Swift: with Runtime Library
 Exception), except swift-crypto's BoringSSL (OpenSSL/ISC licences).
COPYRIGHT
chmod 0644 "$doc/copyright"
{
  echo "ingestd ($version) unstable; urgency=medium"
  echo
  echo "  * Built by scripts/package-deb.sh from ingestd $binary_version."
  echo
  echo " -- $maintainer  $(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")"
} | gzip -9n > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

# --- maintainer scripts ------------------------------------------------------------------------
cat > "$pkg/DEBIAN/postinst" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    # The user and /var/lib/ingestd: systemd-sysusers/-tmpfiles where systemd is installed, else by hand.
    if command -v systemd-sysusers >/dev/null 2>&1; then
        systemd-sysusers ingestd.conf
    elif ! getent passwd ingestd >/dev/null; then
        useradd --system --user-group --home-dir /var/lib/ingestd --no-create-home \
            --shell /usr/sbin/nologin --comment "ingestd daemon" ingestd
    fi
    if command -v systemd-tmpfiles >/dev/null 2>&1; then
        systemd-tmpfiles --create ingestd.conf
    else
        install -d -o ingestd -g ingestd -m 0750 /var/lib/ingestd /var/lib/ingestd/spool
    fi
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload >/dev/null || true
        # An upgrade restarts a running ingestd (SIGTERM drains it first); a first install starts
        # nothing: edit /etc/default/ingestd, then `systemctl enable --now ingestd`.
        if [ -n "$2" ] && command -v deb-systemd-invoke >/dev/null 2>&1; then
            deb-systemd-invoke try-restart ingestd.service >/dev/null || true
        fi
    fi
fi
exit 0
SCRIPT
cat > "$pkg/DEBIAN/prerm" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ] && command -v deb-systemd-invoke >/dev/null 2>&1; then
    # SIGTERM: ingestd drains its buffers (or spools them) before it exits.
    deb-systemd-invoke stop ingestd.service >/dev/null || true
fi
exit 0
SCRIPT
cat > "$pkg/DEBIAN/postrm" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = purge ]; then
    # The spool may still hold data nothing else has: /var/lib/ingestd goes only when it is empty.
    rmdir --ignore-fail-on-non-empty /var/lib/ingestd/spool /var/lib/ingestd 2>/dev/null || true
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null || true
fi
exit 0
SCRIPT
chmod 0755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/prerm" "$pkg/DEBIAN/postrm"

# --- control -----------------------------------------------------------------------------------
mkdir -p "$work/debian"
printf 'Source: ingestd\n\nPackage: ingestd\nArchitecture: any\n' > "$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O -e"$pkg/usr/bin/ingestd" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "package-deb.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
installed_size=$(du -k -s --exclude=DEBIAN "$pkg" | cut -f1)
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: ingestd
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: $depends, passwd
Recommends: ca-certificates
Suggests: mosquitto, influxdb
Section: net
Priority: optional
Homepage: https://github.com/ingestd/ingestd
Description: MQTT device telemetry into InfluxDB, losing nothing it accepted
 ingestd subscribes to an MQTT broker, checks every device against a
 registry (a JSON file or PostgreSQL) through a bounded cache, turns each
 JSON message into InfluxDB line protocol and writes it in batches. What
 InfluxDB does not take in time goes to a disk spool and is replayed;
 refused messages get a reason and a counter. It runs as a systemd
 notify service with a watchdog, and serves health checks and Prometheus
 metrics.
CONTROL
(cd "$pkg" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/conffiles" "$pkg/DEBIAN/md5sums"

mkdir -p "$output_dir"
deb="$output_dir/ingestd_${version}_${arch}.deb"
fakeroot dpkg-deb "${compression[@]}" --build "$pkg" "$deb" >/dev/null
echo "package-deb.sh: $deb"
echo "  Depends: $depends, passwd"

if command -v lintian >/dev/null; then
  # Errors fail the build; warnings are printed for whoever packages next.
  lintian --fail-on error "$deb" || { echo "package-deb.sh: lintian reports errors" >&2; exit 1; }
else
  echo "package-deb.sh: lintian not installed, not checked (apt-get install lintian)"
fi
