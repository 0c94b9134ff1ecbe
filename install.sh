#!/usr/bin/env bash
# Set up Hỏi Xã on a Debian machine (Debian 12 / Raspberry Pi OS bookworm).
#
#   ./install.sh --dev                          development machine: ./.venv, editable, tests
#   ./install.sh --device [--models-from DIR] [--bundle DIR]
#                                               a box: /opt/hoixa, user hoixa, hoixa-device unit
#   ./install.sh --server [--public-host NAME]  the central server: /opt/hoixa, Mosquitto,
#                                               keys and accounts, hoixa-server unit
#
# Idempotent: a second run finds everything in place, changes nothing and succeeds.
# --models-from DIR  install the Vietnamese speech models from a folder (USB stick)
# --bundle DIR       apply an enrolment bundle made by `hoixa provision enrol`
# --public-host NAME the name boxes use to reach this server (needed the first time)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"

# Where things go. The defaults are the real layout; tests point them at a temporary folder.
PREFIX="${HOIXA_PREFIX:-/opt/hoixa}"
ETC="${HOIXA_ETC:-/etc/hoixa}"
SYSTEMD_DIR="${HOIXA_SYSTEMD_DIR:-/etc/systemd/system}"
MOSQUITTO_DIR="${HOIXA_MOSQUITTO_DIR:-/etc/mosquitto}"
DEVICE_DATA="${HOIXA_DEVICE_DATA:-/var/lib/hoixa}"
SERVER_DATA="${HOIXA_SERVER_DATA:-/var/lib/hoixa-server}"
SERVICE_USER="${HOIXA_USER:-hoixa}"  # "-": do not create a user (tests without root)
SKIP_APT="${HOIXA_SKIP_APT:-0}"
USE_SYSTEMCTL="${HOIXA_SYSTEMCTL:-auto}"  # auto: only when systemd runs this machine

# System packages each role needs (Debian names).
DEV_APT_PACKAGES=(python3-venv python3-dev git build-essential portaudio19-dev libasound2-plugins espeak-ng sox mosquitto mosquitto-clients postgresql chromium shellcheck)
DEVICE_APT_PACKAGES=(python3-venv python3-dev build-essential portaudio19-dev libasound2-plugins alsa-utils espeak-ng)
SERVER_APT_PACKAGES=(python3-venv python3-dev build-essential mosquitto mosquitto-clients)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Install the Debian packages that are missing; do nothing when all are there.
ensure_apt_packages() {
  if [ "$SKIP_APT" = 1 ]; then
    say "system packages: skipped (HOIXA_SKIP_APT=1)"
    return
  fi
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    say "system packages already installed"
    return
  fi
  command -v apt-get >/dev/null || die "apt-get not found; install by hand: ${missing[*]}"
  say "installing system packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
}

check_python() {
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found (set PYTHON=/path/to/python3.11)"
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "Python 3.11 or newer is needed; $PYTHON is $("$PYTHON" -V 2>&1)"
}

# A fingerprint of what gets installed (its content, not its timestamps): a non-editable
# install is redone only when that changed.
source_fingerprint() {
  (cd "$HERE" && find pyproject.toml README.md hoixa contract device server provisioning \
      -name __pycache__ -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) \
    | sha256sum | cut -d' ' -f1
}

# Create the virtual environment and install the package into it, unless the same
# source was already installed there for the same extras.
ensure_venv() {
  local venv="$1" extras="$2" editable="$3"
  local stamp="$venv/.hoixa-install-stamp"
  local want
  if [ "$editable" = editable ]; then
    want="$(sha256sum "$HERE/pyproject.toml" | cut -d' ' -f1) $extras $editable"
  else
    want="$(source_fingerprint) $extras $editable"
  fi
  if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    say "virtual environment $venv is up to date"
    return
  fi
  if [ ! -x "$venv/bin/python" ]; then
    say "creating virtual environment $venv"
    "$PYTHON" -m venv "$venv"
  fi
  say "installing hoixa[$extras] into $venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
  if [ "$editable" = editable ]; then
    "$venv/bin/python" -m pip install --quiet -e "${HERE}[${extras}]"
  else
    # Built in a temporary copy so the source folder stays clean (no build/ left behind).
    local tree
    tree="$(mktemp -d)"
    (cd "$HERE" && tar --exclude=./.venv --exclude=./.git --exclude=./build -cf - .) \
      | tar -C "$tree" -xf -
    "$venv/bin/python" -m pip install --quiet "${tree}[${extras}]"
    rm -rf "$tree"
  fi
  echo "$want" > "$stamp"
}

# The unprivileged account the services run as, with only the groups it needs.
ensure_service_user() {
  local groups=("$@")
  if [ "$SERVICE_USER" = "-" ]; then
    say "service user: skipped (HOIXA_USER=-)"
    return
  fi
  if ! id "$SERVICE_USER" >/dev/null 2>&1; then
    say "creating system user $SERVICE_USER"
    as_root useradd --system --user-group --home-dir "$DEVICE_DATA" --no-create-home \
      --shell /usr/sbin/nologin "$SERVICE_USER"
  fi
  local group
  for group in "${groups[@]}"; do
    if ! getent group "$group" >/dev/null; then
      say "group $group does not exist on this machine: not added (fine off a Raspberry Pi)"
    elif ! id -nG "$SERVICE_USER" | tr ' ' '\n' | grep -qx "$group"; then
      say "adding $SERVICE_USER to group $group"
      as_root usermod -aG "$group" "$SERVICE_USER"
    fi
  done
}

# Install a file only when its content differs; prints what changed. $3: mode.
install_file() {
  local source="$1" target="$2" mode="$3"
  if [ -f "$target" ] && cmp -s "$source" "$target"; then
    return 1
  fi
  as_root install -D -m "$mode" "$source" "$target"
  say "installed $target"
}

# Unit files with the real paths of this installation.
install_units() {
  local changed=0 unit rendered user
  user="$(run_as_user)"
  rendered="$(mktemp -d)"
  for unit in "$@"; do
    sed -e "s#/opt/hoixa#$PREFIX#g" -e "s#/etc/hoixa#$ETC#g" \
      -e "s#^User=hoixa#User=$user#" -e "s#^Group=hoixa#Group=$user#" \
      "$HERE/systemd/$unit" > "$rendered/$unit"
    if install_file "$rendered/$unit" "$SYSTEMD_DIR/$unit" 0644; then changed=1; fi
  done
  rm -rf "$rendered"
  if [ "$changed" = 1 ] && systemd_running; then as_root systemctl daemon-reload; fi
}

# The account the units name ("hoixa" unless HOIXA_USER says otherwise).
run_as_user() {
  if [ "$SERVICE_USER" = "-" ]; then echo hoixa; else echo "$SERVICE_USER"; fi
}

systemd_running() {
  case "$USE_SYSTEMCTL" in
    0|no) return 1 ;;
    1|yes) return 0 ;;
  esac
  [ -d /run/systemd/system ] && command -v systemctl >/dev/null
}

enable_unit() {
  local unit="$1"
  if ! systemd_running; then
    say "systemd is not running here: enable $unit yourself (systemctl enable --now $unit)"
  elif ! systemctl is-enabled --quiet "$unit" 2>/dev/null; then
    say "enabling $unit"
    as_root systemctl enable --now "$unit"
  fi
}

# The configuration folder: root owns it, the service's group may read it.
ensure_etc() {
  as_root mkdir -p "$ETC"
  as_root chmod 0750 "$ETC"
  if [ "$SERVICE_USER" != "-" ] && [ "$(id -u)" -eq 0 ]; then
    chgrp "$SERVICE_USER" "$ETC"
  fi
}

install_dev() {
  ensure_apt_packages "${DEV_APT_PACKAGES[@]}"
  check_python
  ensure_venv "$HERE/.venv" "dev" editable
  "$HERE/.venv/bin/hoixa" catalogue validate "$("$HERE/.venv/bin/python" -c \
    'from hoixa.contract.catalogue import default_catalogue_path as p; print(p())')" >/dev/null
  say "ready: run the tests with  .venv/bin/python -m pytest"
}

install_device() {
  local models_from="$1" bundle="$2"
  ensure_apt_packages "${DEVICE_APT_PACKAGES[@]}"
  check_python
  ensure_service_user audio gpio
  ensure_venv "$PREFIX/venv" "device" copy
  ensure_etc
  install_file "$HERE/device/device.toml.example" "$ETC/device.toml.example" 0644 || true
  if [ ! -f "$ETC/device.toml" ]; then
    # Not enrolled yet: the embedded defaults (no server link) until a bundle is applied.
    install_file "$HERE/device/device.toml.example" "$ETC/device.toml" 0640 || true
  fi
  as_root mkdir -p "$DEVICE_DATA"
  if [ -n "$bundle" ]; then
    say "applying the enrolment bundle $bundle"
    as_root "$PREFIX/venv/bin/hoixa" provision apply "$bundle" --etc "$ETC"
  fi
  if [ -n "$models_from" ]; then
    local model
    for model in vosk-vi piper-vi; do
      say "installing the speech model $model from $models_from"
      as_root "$PREFIX/venv/bin/hoixa" models install "$model" --from "$models_from" \
        --dest "$DEVICE_DATA/models" \
        || say "model $model not installed (see above); the box keeps viet-asr and espeak-ng"
    done
  fi
  if [ "$SERVICE_USER" != "-" ] && [ "$(id -u)" -eq 0 ]; then
    chgrp "$SERVICE_USER" "$ETC/device.toml" && chmod 0640 "$ETC/device.toml"
    chown -R "$SERVICE_USER:$SERVICE_USER" "$DEVICE_DATA"
  fi
  "$PREFIX/venv/bin/hoixa" catalogue validate "$("$PREFIX/venv/bin/python" -P -c \
    'from hoixa.contract.catalogue import default_catalogue_path as p; print(p())')" >/dev/null
  install_units hoixa-device.service
  enable_unit hoixa-device.service
  say "box ready. Check it with: sudo -u $(run_as_user) $PREFIX/venv/bin/hoixa device selftest --config $ETC/device.toml"
  say "board set-up (read-only root, watchdog, audio): see firmware/README.md"
}

install_server() {
  local public_host="$1"
  ensure_apt_packages "${SERVER_APT_PACKAGES[@]}"
  check_python
  ensure_service_user
  ensure_venv "$PREFIX/venv" "server" copy
  ensure_etc
  local dropin="$MOSQUITTO_DIR/conf.d/hoixa.conf" before=""
  [ -f "$dropin" ] && before="$(sha256sum "$dropin")"
  local init=("$PREFIX/venv/bin/hoixa" server init --config "$ETC/server.toml" --etc-dir "$ETC"
    --mosquitto-dir "$MOSQUITTO_DIR" --data-dir "$SERVER_DATA")
  [ -n "$public_host" ] && init+=(--public-host "$public_host")
  [ -n "${HOIXA_LOCAL_PORT:-}" ] && init+=(--local-port "$HOIXA_LOCAL_PORT")
  [ -n "${HOIXA_PUBLIC_PORT:-}" ] && init+=(--public-port "$HOIXA_PUBLIC_PORT")
  [ -n "${HOIXA_RELOAD:-}" ] && init+=(--reload "$HOIXA_RELOAD")
  as_root "${init[@]}"
  as_root mkdir -p "$SERVER_DATA"
  if [ "$SERVICE_USER" != "-" ] && [ "$(id -u)" -eq 0 ]; then
    chown -R "$SERVICE_USER:$SERVICE_USER" "$SERVER_DATA"
  fi
  install_units hoixa-server.service hoixa-ingest@.service
  if systemd_running && [ "$before" != "$(sha256sum "$dropin")" ]; then
    say "restarting Mosquitto (its listeners changed)"
    as_root systemctl restart mosquitto
  fi
  enable_unit hoixa-server.service
  say "server ready. Add the first console account with:"
  say "  sudo -u $(run_as_user) $PREFIX/venv/bin/hoixa server add-user admin --role central --config $ETC/server.toml"
}

main() {
  local role="" models_from="" bundle="" public_host=""
  while [ "$#" -gt 0 ]; do
    case "$1" in
      --dev|--device|--server)
        [ -z "$role" ] || die "one role at a time ($role and $1)"
        role="$1" ;;
      --models-from) [ "$#" -ge 2 ] || usage 2; models_from="$2"; shift ;;
      --bundle) [ "$#" -ge 2 ] || usage 2; bundle="$2"; shift ;;
      --public-host) [ "$#" -ge 2 ] || usage 2; public_host="$2"; shift ;;
      -h|--help) usage 0 ;;
      *) printf 'install.sh: unknown option %s\n' "$1" >&2; usage 2 ;;
    esac
    shift
  done
  case "$role" in
    --dev) install_dev ;;
    --device) install_device "$models_from" "$bundle" ;;
    --server) install_server "$public_host" ;;
    *) usage 2 ;;
  esac
}

main "$@"
