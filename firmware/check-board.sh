#!/usr/bin/env bash
# Check, on a running Hỏi Xã box, that the board layer is what firmware/setup-board.sh set up.
# Changes nothing. Prints one line per check, "ok" or "PROBLEM", and exits 1 if any failed.
#
#   firmware/check-board.sh        (sudo is not needed; a few lines say more with it)
#
# For the technician after a reboot, and before leaving the commune office.
set -euo pipefail

DATA_LABEL="HOIXA-DATA"
DATA_DIR="/var/lib/hoixa"
PROBLEMS=0

ok() { printf 'ok       %s\n' "$*"; }
problem() {
  printf 'PROBLEM  %s\n' "$*"
  PROBLEMS=$((PROBLEMS + 1))
}

check_model() {
  local model=""
  [[ -r /proc/device-tree/model ]] && model="$(tr -d '\0' </proc/device-tree/model)"
  if [[ "$model" =~ Raspberry\ Pi\ (4|5|400|500|Compute\ Module\ (4|5)) ]]; then
    ok "board: $model"
  else
    problem "board: ${model:-not a Raspberry Pi} (Hỏi Xã boxes are Raspberry Pi 4 or 5)"
  fi
}

check_watchdog() {
  local timeout
  if [[ -e /dev/watchdog0 || -e /dev/watchdog ]]; then
    ok "hardware watchdog device present"
  else
    problem "no /dev/watchdog: is dtparam=watchdog=on in /boot/firmware/hoixa.txt?"
  fi
  timeout="$(systemctl show -P RuntimeWatchdogUSec 2>/dev/null || true)"
  if [[ -n "$timeout" && "$timeout" != "0" && "$timeout" != "infinity" ]]; then
    ok "systemd pets the hardware watchdog every $timeout / 2"
  else
    problem "systemd does not use the hardware watchdog (RuntimeWatchdogSec, /etc/systemd/system.conf.d/hoixa-watchdog.conf)"
  fi
}

check_root() {
  local fstype
  fstype="$(findmnt -n -o FSTYPE / || true)"
  if [[ "$fstype" == "overlay" ]]; then
    ok "root is read-only with a RAM overlay"
  else
    problem "root is writable ($fstype): maintenance mode? Switch back: sudo raspi-config nonint enable_overlayfs && sudo reboot"
  fi
}

check_data() {
  local source fstype options device
  source="$(findmnt -n -o SOURCE "$DATA_DIR" 2>/dev/null || true)"
  fstype="$(findmnt -n -o FSTYPE "$DATA_DIR" 2>/dev/null || true)"
  options="$(findmnt -n -o OPTIONS "$DATA_DIR" 2>/dev/null || true)"
  if [[ -z "$source" ]]; then
    problem "$DATA_DIR is not a mount point: the data partition is not mounted (systemctl status var-lib-hoixa.mount)"
    return
  fi
  device="$(findfs "LABEL=$DATA_LABEL" 2>/dev/null || true)"
  if [[ "$fstype" != "ext4" ]]; then
    problem "$DATA_DIR is $fstype from $source, not the ext4 partition $DATA_LABEL"
  elif [[ ",$options," != *",rw,"* ]]; then
    problem "$DATA_DIR is mounted read-only ($options): the card reported errors? (journalctl -k | grep EXT4)"
  elif [[ -n "$device" && "$(readlink -f "$device")" != "$(readlink -f "$source")" ]]; then
    problem "$DATA_DIR comes from $source, but $DATA_LABEL is $device"
  else
    ok "$DATA_DIR: ext4 $source, read-write"
  fi
}

check_logs() {
  if [[ -d /run/log/journal && ! -d /var/log/journal ]]; then
    ok "logs are kept in RAM (/run/log/journal)"
  else
    problem "logs are not (only) in RAM: /var/log/journal exists or /run/log/journal does not"
  fi
  if [[ "$(findmnt -n -o FSTYPE /tmp || true)" == "tmpfs" ]]; then
    ok "/tmp is in RAM"
  else
    problem "/tmp is not a tmpfs (systemctl status tmp.mount)"
  fi
}

check_sound() {
  local conf=/etc/asound.conf card name
  if [[ ! -f "$conf" ]]; then
    problem "no $conf: run firmware/setup-board.sh"
    return
  fi
  card="$(grep -o 'hw:CARD=[A-Za-z0-9_]*' "$conf" | head -n 1 | cut -d= -f2)"
  if [[ -n "$card" && -e "/proc/asound/$card" ]]; then
    ok "sound card '$card' present"
  else
    problem "sound card '${card:-?}' not found (aplay -l): unplugged, or the wrong --audio"
  fi
  for name in hoixa_mic hoixa_speaker; do
    if grep -q "^pcm\.$name " "$conf"; then
      ok "$conf defines $name"
    else
      problem "$conf does not define $name"
    fi
  done
}

check_service() {
  if systemctl is-active --quiet hoixa-device.service 2>/dev/null; then
    ok "hoixa-device is running"
  else
    problem "hoixa-device is not running (journalctl -u hoixa-device -b)"
  fi
}

main() {
  check_model
  check_watchdog
  check_root
  check_data
  check_logs
  check_sound
  check_service
  if ((PROBLEMS)); then
    printf '%d problem(s); firmware/README.md says what each means.\n' "$PROBLEMS"
    exit 1
  fi
  printf 'all good\n'
}

main "$@"
