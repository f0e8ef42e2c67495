#!/bin/sh
# Adds a device to the broker's password file and ACL (see acl): a random
# password, printed once for the device's fleet.password_file, and read
# access to the commands of each GROUP. Reload mosquitto afterwards
# (systemctl reload mosquitto, or SIGHUP).
# Usage: add-device.sh PASSWORD_FILE ACL_FILE DEVICE_ID [GROUP...]
set -eu
if [ $# -lt 3 ]; then
  echo "usage: add-device.sh PASSWORD_FILE ACL_FILE DEVICE_ID [GROUP...]" >&2
  exit 2
fi
passwd=$1
acl=$2
id=$3
shift 3
# Ids are MQTT topic levels; the operator's name is reserved.
valid() {
  case $1 in
    '' | *[!A-Za-z0-9._-]*) return 1 ;;
  esac
  [ ${#1} -le 128 ]
}
if ! valid "$id" || [ "$id" = operator ]; then
  echo "add-device.sh: device id \"$id\": want 1-128 of A-Z a-z 0-9 . _ - (not \"operator\")" >&2
  exit 2
fi
for g in "$@"; do
  if ! valid "$g"; then
    echo "add-device.sh: group \"$g\": want 1-128 of A-Z a-z 0-9 . _ -" >&2
    exit 2
  fi
done
if grep -q "^user $id\$" "$acl" 2>/dev/null || grep -q "^$id:" "$passwd" 2>/dev/null; then
  echo "add-device.sh: device $id is already in $acl or $passwd" >&2
  exit 1
fi
pw=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
if [ -e "$passwd" ]; then
  mosquitto_passwd -b "$passwd" "$id" "$pw"
else
  (umask 077 && mosquitto_passwd -c -b "$passwd" "$id" "$pw")
fi
{
  echo
  echo "user $id"
  for g in "$@"; do
    echo "topic read edged/v1/group/$g/cmd/+/+"
  done
} >>"$acl"
echo "$pw"
