#!/bin/sh
# edged.service_test.sh checks scripts/edged.service and scripts/install.sh
# without touching the system: the unit's required settings, `systemd-analyze
# verify` of the unit (when systemd-analyze is installed), shellcheck of the
# installer (when shellcheck is installed) and the installer's --dry-run
# plan. It ends with the line "N passed, N failed".
set -u
cd "$(dirname "$0")" || exit 1
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() {
	pass=$((pass + 1))
	echo "ok   $*"
}
bad() {
	fail=$((fail + 1))
	echo "FAIL $*"
}

# The settings the agent and the issue rely on, each exactly as written.
for want in \
	'Type=notify' 'NotifyAccess=main' 'WatchdogSec=30' 'Restart=on-failure' \
	'ExecStart=/opt/edged/bin/edged --config /etc/edged/edged.yaml' \
	'RestartForceExitStatus=75' 'ReadWritePaths=/opt/edged/bin' \
	'User=edged' 'StateDirectory=edged' 'ConfigurationDirectory=edged' 'ConfigurationDirectoryMode=0750' \
	'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' 'NoNewPrivileges=yes' \
	'ProtectKernelTunables=yes' 'ProtectKernelModules=yes' 'ProtectControlGroups=yes' \
	'LockPersonality=yes' 'MemoryDenyWriteExecute=yes' 'SystemCallArchitectures=native' \
	'CapabilityBoundingSet=' 'SupplementaryGroups=i2c gpio plugdev video' \
	'DevicePolicy=closed' 'DeviceAllow=char-i2c rw' 'DeviceAllow=char-gpiochip rw' \
	'DeviceAllow=char-usb_device rw' 'DeviceAllow=char-apex rw' 'DeviceAllow=char-nvhost-* rw'; do
	if grep -qxF "$want" edged.service; then ok "unit has $want"; else bad "unit lacks $want"; fi
done
if grep -q '^PrivateDevices=yes' edged.service; then bad "PrivateDevices=yes hides the accelerators"; else ok "no PrivateDevices"; fi

if command -v systemd-analyze >/dev/null 2>&1; then
	# verify also checks that ExecStart exists; point it at a binary that does.
	sed 's|^ExecStart=/opt/edged/bin/edged|ExecStart=/bin/true|' edged.service >"$tmp/edged.service"
	if out=$(systemd-analyze verify "$tmp/edged.service" 2>&1) && [ -z "$out" ]; then
		ok "systemd-analyze verify"
	else
		bad "systemd-analyze verify: $out"
	fi
else
	echo "skip systemd-analyze verify: systemd-analyze not installed (apt-get install systemd)"
fi

if command -v shellcheck >/dev/null 2>&1; then
	if out=$(shellcheck install.sh edged.service_test.sh 2>&1); then ok "shellcheck"; else bad "shellcheck: $out"; fi
else
	echo "skip shellcheck: not installed (apt-get install shellcheck)"
fi

# --dry-run plan.
printf '#!/bin/sh\n' >"$tmp/edged"
chmod +x "$tmp/edged"
plan=$(sh install.sh --dry-run --prefix /opt/e "$tmp/edged" 2>&1)
rc=$?
if [ $rc = 0 ]; then ok "dry run exits 0"; else bad "dry run exit $rc: $plan"; fi
for want in \
	"+ install -m 0755 -o edged -g edged $tmp/edged /opt/e/bin/edged" \
	"(ExecStart=/opt/e/bin/edged)" \
	"+ systemctl daemon-reload" \
	"+ systemctl enable edged.service" \
	"+ runuser -u edged -- /opt/e/bin/edged --check --config /etc/edged/edged.yaml" \
	"+ systemctl restart edged.service" \
	"dry run: nothing was changed"; do
	case $plan in
	*"$want"*) ok "dry run plans: $want" ;;
	*) bad "dry run does not plan: $want" ;;
	esac
done
plan=$(sh install.sh --dry-run --no-start "$tmp/edged" 2>&1)
case $plan in
*"systemctl restart"*) bad "--no-start still restarts" ;;
*"(ExecStart=/opt/edged/bin/edged)"*) ok "--no-start does not restart; default prefix /opt/edged" ;;
*) bad "--no-start plan: $plan" ;;
esac

sh install.sh --dry-run --bogus "$tmp/edged" >/dev/null 2>&1
rc=$?
if [ $rc = 2 ]; then ok "unknown flag exits 2"; else bad "unknown flag exit $rc; want 2"; fi
sh install.sh --dry-run "$tmp/missing" >/dev/null 2>&1
rc=$?
if [ $rc = 1 ]; then ok "missing binary exits 1"; else bad "missing binary exit $rc; want 1"; fi
sh install.sh --dry-run --prefix relative "$tmp/edged" >/dev/null 2>&1
rc=$?
if [ $rc = 2 ]; then ok "relative prefix exits 2"; else bad "relative prefix exit $rc; want 2"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
