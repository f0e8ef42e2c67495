#!/bin/sh
# install.sh installs an edged binary as a systemd service:
#
#   sudo scripts/install.sh [--prefix DIR] [--no-start] [--dry-run] path/to/edged
#
# It copies the binary to PREFIX/bin/edged (PREFIX defaults to /opt/edged;
# PREFIX/bin is owned by edged so that signed self-updates can swap it), creates
# the edged system user and the device groups the unit names, installs the
# demo model in /usr/share/edged/models, writes /etc/edged/edged.yaml from
# packaging/edged.yaml unless it exists (it serves the demo model as
# installed), puts examples/edged.yaml (every key) in /usr/share/doc/edged,
# installs scripts/edged.service, reloads systemd, enables the service and
# (re)starts it once `edged --check` accepts the configuration. Running it
# again upgrades the binary, the model and the unit and keeps the
# configuration.
#
#   --prefix DIR   install the binary as DIR/bin/edged (the unit follows)
#   --no-start     enable the service but do not (re)start it
#   --dry-run      print what would be done, change nothing (no root needed)
set -eu

usage() {
	sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

prefix=/opt/edged
start=1
dry=0
bin=
while [ $# -gt 0 ]; do
	case $1 in
	--prefix)
		[ $# -ge 2 ] || usage
		prefix=$2
		shift 2
		;;
	--prefix=*)
		prefix=${1#--prefix=}
		shift
		;;
	--no-start)
		start=0
		shift
		;;
	--dry-run)
		dry=1
		shift
		;;
	-h | --help) usage ;;
	-*)
		echo "install.sh: unknown flag $1" >&2
		usage
		;;
	*)
		[ -z "$bin" ] || usage
		bin=$1
		shift
		;;
	esac
done
[ -n "$bin" ] || usage
case $prefix in
/*) ;;
*)
	echo "install.sh: --prefix $prefix: want an absolute path" >&2
	exit 2
	;;
esac

here=$(cd "$(dirname "$0")" && pwd)
unit_src=$here/edged.service
example=$here/../packaging/edged.yaml
reference=$here/../examples/edged.yaml
model=$here/../testdata/models/person_detect.tflite
labels=$here/../examples/person_detect_labels.txt
share=/usr/share/edged/models
target=$prefix/bin/edged
unit=/etc/systemd/system/edged.service
confdir=/etc/edged
conf=$confdir/edged.yaml
groups="i2c gpio plugdev video"

die() {
	echo "install.sh: $*" >&2
	exit 1
}

# run runs a command, or prints it under --dry-run.
run() {
	if [ "$dry" = 1 ]; then
		printf '+ %s\n' "$*"
	else
		"$@"
	fi
}

[ -f "$bin" ] || die "$bin: no such file"
[ -x "$bin" ] || die "$bin: not executable"
[ -f "$unit_src" ] || die "$unit_src: missing"
if [ "$dry" = 0 ] && [ "$(id -u)" != 0 ]; then
	die "must run as root (or try --dry-run)"
fi
if [ "$dry" = 0 ] && ! command -v systemctl >/dev/null 2>&1; then
	die "systemctl not found: this installer is for systemd hosts"
fi

# Groups first: the unit's SupplementaryGroups= fails the start if one is
# missing, and boards differ (a Jetson has no gpio group, a PC no i2c).
for g in edged $groups; do
	getent group "$g" >/dev/null 2>&1 || run groupadd --system "$g"
done
if ! getent passwd edged >/dev/null 2>&1; then
	nologin=/usr/sbin/nologin
	[ -x "$nologin" ] || nologin=/sbin/nologin
	run useradd --system --gid edged --home-dir /var/lib/edged --no-create-home \
		--shell "$nologin" --comment "edged inference agent" edged
fi

# The agent replaces its own binary on a signed update (write beside,
# rename over, keep edged.old): the directory and the file are edged's.
run install -d -m 0750 -o edged -g edged "$prefix/bin"
run install -m 0755 -o edged -g edged "$bin" "$target"

# The demo model the installed configuration serves, and the reference of
# every configuration key.
run install -d -m 0755 "$share" /usr/share/doc/edged
for f in "$model" "$labels"; do
	[ -f "$f" ] || die "$f: missing"
	run install -m 0644 "$f" "$share/"
done
[ -f "$reference" ] && run install -m 0644 "$reference" /usr/share/doc/edged/edged.example.yaml

# The config may hold MQTT passwords and tokens: root writes, edged reads.
run install -d -m 0750 -o root -g edged "$confdir"
if [ -e "$conf" ]; then
	echo "keeping $conf"
else
	[ -f "$example" ] || die "$example: missing, and $conf does not exist"
	run install -m 0640 -o root -g edged "$example" "$conf"
fi

if [ "$dry" = 1 ]; then
	printf '+ install -m 0644 %s %s (ExecStart=%s)\n' "$unit_src" "$unit" "$target"
else
	tmp=$(mktemp)
	trap 'rm -f "$tmp"' EXIT
	sed -e "s|^ExecStart=/opt/edged/bin/edged |ExecStart=$target |" \
		-e "s|^ReadWritePaths=/opt/edged/bin\$|ReadWritePaths=$prefix/bin|" "$unit_src" >"$tmp"
	install -m 0644 "$tmp" "$unit"
fi
run systemctl daemon-reload
run systemctl enable edged.service

if [ "$start" = 0 ]; then
	echo "edged is enabled; start it with: systemctl start edged"
	[ "$dry" = 0 ] || echo "dry run: nothing was changed"
	exit 0
fi
# Refuse to start a configuration that cannot load (an edited one that names
# a missing model): a failed start would only restart-loop until systemd
# gives up.
if [ "$dry" = 1 ]; then
	run runuser -u edged -- "$target" --check --config "$conf"
elif ! runuser -u edged -- "$target" --check --config "$conf"; then
	die "$conf does not load (see above); edit it, then: systemctl restart edged"
fi
run systemctl restart edged.service
if [ "$dry" = 1 ]; then
	echo "dry run: nothing was changed"
else
	echo "edged is running: systemctl status edged; journalctl -u edged -f"
fi
