#!/bin/sh
# release_test.sh builds a release for amd64 and arm64 with scripts/release.sh
# into a temporary directory and checks it: file set, static binaries, the
# arm64 edged under 15 MB, the SHA256SUMS signature (and that tampering
# breaks it), the .deb metadata and layout; then, as root with dpkg, it
# really installs the amd64 .deb on this machine, checks the installed
# system (binary runs, user, ownership, conffile, unit enabled and accepted
# by systemd-analyze verify), reinstalls over an edited conffile, removes
# and purges it, and checks that nothing is left. It refuses to touch a
# machine where edged is already installed. It ends with "N passed, N failed".
#
#   make release-test   (or: NFPM=path/to/nfpm sh scripts/release_test.sh)
set -u
cd "$(dirname "$0")/.." || exit 1
pass=0
fail=0
tmp=$(mktemp -d)
installed=0
newgroups=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ "$installed" = 1 ]; then
		dpkg -P edged >/dev/null 2>&1
	fi
	for g in $newgroups; do
		getent group "$g" >/dev/null 2>&1 && groupdel "$g"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() {
	pass=$((pass + 1))
	echo "ok   $*"
}
bad() {
	fail=$((fail + 1))
	echo "FAIL $*"
}
# check DESC CMD...: ok if CMD succeeds.
check() {
	d=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$d"; else bad "$d"; fi
}
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit
}

v=0.9.1
dist=$tmp/dist
start=$(date +%s)
if ! out=$(DIST=$dist ARCHES="amd64 arm64" sh scripts/release.sh $v 2>&1); then
	bad "release.sh $v: $out"
	finish
fi
ok "release.sh $v (amd64, arm64) in $(($(date +%s) - start)) s"
for f in edged-linux-amd64 edgectl-linux-amd64 edged-linux-arm64 edgectl-linux-arm64 \
	edged_${v}_amd64.deb edged_${v}_arm64.deb SHA256SUMS SHA256SUMS.sig; do
	check "dist has $f" test -s "$dist/$f"
done
case $out in
*"THROWAWAY key"*) ok "warns about the throwaway key" ;;
*) bad "no throwaway-key warning without RELEASE_KEY" ;;
esac
for f in "$dist"/edged-linux-* "$dist"/edgectl-linux-*; do
	if readelf -d "$f" 2>/dev/null | grep -q NEEDED; then bad "$f is dynamic"; else ok "$(basename "$f") is static"; fi
done
size=$(stat -c %s "$dist/edged-linux-arm64")
# 15 MB read strictly, as 15 000 000 bytes.
limit=15000000
if [ "$size" -lt "$limit" ]; then ok "arm64 edged $size bytes < $limit"; else bad "arm64 edged $size bytes; want < $limit"; fi
got=$("$dist/edged-linux-amd64" --version 2>&1)
if [ "$got" = "edged $v" ]; then ok "edged --version = $got"; else bad "edged --version = $got; want edged $v"; fi

# The signature: good as built, broken by any change to SHA256SUMS or to a
# file it lists, and refused under another root.
go build -o "$tmp/release" ./scripts/release || bad "build scripts/release"
if out=$("$tmp/release" verify -root "$dist/keys/root.pub" "$dist" 2>&1); then ok "verify: $out"; else bad "verify: $out"; fi
cp -r "$dist" "$tmp/t1"
echo "0000000000000000000000000000000000000000000000000000000000000000  extra" >>"$tmp/t1/SHA256SUMS"
if "$tmp/release" verify -root "$dist/keys/root.pub" "$tmp/t1" >/dev/null 2>&1; then bad "verify accepts an edited SHA256SUMS"; else ok "verify refuses an edited SHA256SUMS"; fi
cp -r "$dist" "$tmp/t2"
printf x >>"$tmp/t2/edged_${v}_amd64.deb"
if "$tmp/release" verify -root "$dist/keys/root.pub" "$tmp/t2" >/dev/null 2>&1; then bad "verify accepts a changed .deb"; else ok "verify refuses a changed .deb"; fi
"$tmp/release" keygen "$tmp/other" >/dev/null
if "$tmp/release" verify -root "$tmp/other/root.pub" "$dist" >/dev/null 2>&1; then bad "verify accepts another root"; else ok "verify refuses another root"; fi

# Package metadata and layout.
deb=$dist/edged_${v}_amd64.deb
if ! command -v dpkg-deb >/dev/null 2>&1; then
	echo "skip .deb checks: dpkg-deb not installed"
	finish
fi
info=$(dpkg-deb --info "$deb")
for want in "Package: edged" "Version: $v" "Architecture: amd64" "Depends: passwd"; do
	case $info in *"$want"*) ok "info has $want" ;; *) bad "info lacks $want" ;; esac
done
case $(dpkg-deb --info "$dist/edged_${v}_arm64.deb") in
*"Architecture: arm64"*) ok "arm64 .deb is Architecture: arm64" ;;
*) bad "arm64 .deb architecture" ;;
esac
dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$tmp" 2>/dev/null
check "conffiles lists /etc/edged/edged.yaml" grep -qx /etc/edged/edged.yaml "$tmp/conffiles"
for s in postinst prerm postrm; do
	check "control has $s" cmp -s "$tmp/$s" "packaging/deb/$s"
done
if command -v shellcheck >/dev/null 2>&1; then
	if out=$(shellcheck -s sh packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm \
		scripts/release.sh scripts/release_test.sh 2>&1); then
		ok "shellcheck"
	else
		bad "shellcheck: $out"
	fi
fi
contents=$(dpkg-deb --contents "$deb" | awk '{print $1, $2, $6}')
for want in \
	"-rwxr-xr-x root/root ./opt/edged/bin/edged" \
	"drwxr-x--- root/root ./opt/edged/bin/" \
	"-rwxr-xr-x root/root ./usr/bin/edgectl" \
	"-rw-r--r-- root/root ./lib/systemd/system/edged.service" \
	"-rw-r----- root/root ./etc/edged/edged.yaml"; do
	if printf '%s\n' "$contents" | grep -qxF -- "$want"; then ok "contents: $want"; else bad "contents lack: $want"; fi
done
# The packaged files are the built ones.
for a in amd64 arm64; do
	dpkg-deb --fsys-tarfile "$dist/edged_${v}_$a.deb" | tar -xO ./opt/edged/bin/edged >"$tmp/edged.$a"
	check "$a .deb carries edged-linux-$a" cmp -s "$tmp/edged.$a" "$dist/edged-linux-$a"
done
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./lib/systemd/system/edged.service >"$tmp/unit"
check ".deb carries scripts/edged.service" cmp -s "$tmp/unit" scripts/edged.service
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./etc/edged/edged.yaml >"$tmp/conf"
check ".deb carries packaging/edged.yaml" cmp -s "$tmp/conf" packaging/edged.yaml

# Install on this machine.
if [ "$(id -u)" != 0 ] || ! command -v dpkg >/dev/null 2>&1; then
	echo "skip dpkg -i: needs root and dpkg"
	finish
fi
if dpkg -s edged >/dev/null 2>&1 || getent passwd edged >/dev/null 2>&1 || [ -e /opt/edged ] || [ -e /etc/edged ]; then
	echo "skip dpkg -i: edged (package, user, /opt/edged or /etc/edged) is already on this machine"
	finish
fi
for g in edged i2c gpio plugdev video; do
	getent group "$g" >/dev/null 2>&1 || newgroups="$newgroups $g"
done
installed=1
if out=$(dpkg -i "$deb" 2>&1); then ok "dpkg -i"; else bad "dpkg -i: $out"; fi
check "dpkg -s: installed" sh -c 'dpkg -s edged | grep -qx "Status: install ok installed"'
got=$(/opt/edged/bin/edged --version 2>&1)
if [ "$got" = "edged $v" ]; then ok "installed edged --version = $got"; else bad "installed edged --version = $got"; fi
got=$(runuser -u edged -- /opt/edged/bin/edged --version 2>&1)
if [ "$got" = "edged $v" ]; then ok "runs as user edged"; else bad "as user edged: $got"; fi
check "edgectl in PATH" test -x /usr/bin/edgectl
# The installed configuration works as installed (the bundled demo model).
if out=$(runuser -u edged -- /opt/edged/bin/edged --check --config /etc/edged/edged.yaml 2>&1); then
	ok "edged --check on the installed configuration"
else
	bad "edged --check on the installed configuration: $out"
fi
# shellcheck disable=SC2016 # expanded by the inner sh
check "user edged is a system user" sh -c '[ "$(getent passwd edged | cut -d: -f3)" -lt 1000 ]'
for g in edged i2c gpio plugdev video; do
	check "group $g exists" getent group "$g"
done
for want in "/opt/edged/bin edged:edged 750" "/opt/edged/bin/edged edged:edged 755" \
	"/etc/edged root:edged 750" "/etc/edged/edged.yaml root:edged 640" \
	"/var/lib/edged edged:edged 750" "/lib/systemd/system/edged.service root:root 644"; do
	# shellcheck disable=SC2086 # split into path, owner, mode
	set -- $want
	got=$(stat -c '%U:%G %a' "$1" 2>&1)
	if [ "$got" = "$2 $3" ]; then ok "$1 is $2 $3"; else bad "$1 is $got; want $2 $3"; fi
done
if command -v systemctl >/dev/null 2>&1; then
	check "unit enabled" test -L /etc/systemd/system/multi-user.target.wants/edged.service
fi
if command -v systemd-analyze >/dev/null 2>&1; then
	if out=$(systemd-analyze verify /lib/systemd/system/edged.service 2>&1) && [ -z "$out" ]; then
		ok "systemd-analyze verify (installed unit, real ExecStart)"
	else
		bad "systemd-analyze verify: $out"
	fi
else
	echo "skip systemd-analyze verify: not installed"
fi

# Reinstall: an edited conffile is kept; self-update leftovers are removed
# with the package.
echo "# local edit" >>/etc/edged/edged.yaml
if out=$(dpkg -i "$deb" 2>&1); then ok "dpkg -i again"; else bad "dpkg -i again: $out"; fi
check "edited conffile kept" grep -qx "# local edit" /etc/edged/edged.yaml
# shellcheck disable=SC2016 # expanded by the inner sh
check "owner restored after reinstall" sh -c '[ "$(stat -c %U /opt/edged/bin/edged)" = edged ]'
# What a self-update leaves, written as the agent writes it (user edged,
# ota/selfupdate's names): the old binary, a partial download, its record
# and the temporary file of an interrupted atomic write.
for f in edged.old .edged.new edged-selfupdate.json .edged-selfupdate.json.tmp-123 .edged.tmp-456; do
	runuser -u edged -- sh -c "umask 027; echo x >/opt/edged/bin/$f" || bad "write /opt/edged/bin/$f as edged"
done

if out=$(dpkg -r edged 2>&1); then ok "dpkg -r"; else bad "dpkg -r: $out"; fi
for f in /opt/edged /usr/bin/edgectl /lib/systemd/system/edged.service \
	/etc/systemd/system/multi-user.target.wants/edged.service; do
	if [ -e "$f" ] || [ -L "$f" ]; then bad "$f left after dpkg -r"; else ok "$f gone after dpkg -r"; fi
done
check "conffile kept after dpkg -r" test -f /etc/edged/edged.yaml
check "user kept after dpkg -r" getent passwd edged
check "dpkg -s: config-files" sh -c 'dpkg -s edged | grep -qx "Status: deinstall ok config-files"'

if out=$(dpkg -P edged 2>&1); then ok "dpkg -P"; else bad "dpkg -P: $out"; fi
installed=0
for f in /etc/edged /var/lib/edged /opt/edged; do
	if [ -e "$f" ]; then bad "$f left after dpkg -P"; else ok "$f gone after dpkg -P"; fi
done
if getent passwd edged >/dev/null 2>&1; then bad "user edged left after purge"; else ok "user edged gone after purge"; fi
if getent group edged >/dev/null 2>&1; then bad "group edged left after purge"; else ok "group edged gone after purge"; fi
if dpkg -s edged >/dev/null 2>&1; then bad "dpkg still knows edged"; else ok "dpkg forgot edged"; fi
left=$(find /opt /etc /var/lib /usr/bin /lib/systemd -xdev \( -nouser -o -nogroup \) 2>/dev/null)
if [ -z "$left" ]; then ok "nothing owned by a deleted user or group"; else bad "owned by a deleted user or group: $left"; fi
ok "whole test in $(($(date +%s) - start)) s"
finish
