#!/usr/bin/env bash
# Set up Hỏi Xã on a Debian machine (Debian 12 / Raspberry Pi OS bookworm).
#
#   ./install.sh --dev     development machine: system packages, ./.venv, editable install
#
# Idempotent: a second run finds everything in place, changes nothing and succeeds.
# Roles for a real box (--device) and the central server (--server) are added with the
# provisioning work; they will share the helpers below.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"

# System packages each role needs (Debian names).
DEV_APT_PACKAGES=(python3-venv python3-dev git build-essential portaudio19-dev libasound2-plugins espeak-ng sox mosquitto mosquitto-clients postgresql chromium shellcheck)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Install the Debian packages that are missing; do nothing when all are there.
ensure_apt_packages() {
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

# Create the virtual environment and install the package into it, unless the same
# pyproject.toml was already installed there for the same extras.
ensure_venv() {
  local venv="$1" extras="$2" editable="$3"
  local stamp="$venv/.hoixa-install-stamp"
  local want
  want="$(sha256sum "$HERE/pyproject.toml" | cut -d' ' -f1) $extras $editable"
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
    "$venv/bin/python" -m pip install --quiet -e "$HERE[$extras]"
  else
    "$venv/bin/python" -m pip install --quiet "$HERE[$extras]"
  fi
  echo "$want" > "$stamp"
}

install_dev() {
  ensure_apt_packages "${DEV_APT_PACKAGES[@]}"
  check_python
  ensure_venv "$HERE/.venv" "dev" editable
  "$HERE/.venv/bin/hoixa" catalogue validate "$("$HERE/.venv/bin/python" -c \
    'from hoixa.contract.catalogue import default_catalogue_path as p; print(p())')" >/dev/null
  say "ready: run the tests with  .venv/bin/python -m pytest"
}

main() {
  [ "$#" -eq 1 ] || usage 2
  case "$1" in
    --dev) install_dev ;;
    -h|--help) usage 0 ;;
    *) printf 'install.sh: unknown role %s\n' "$1" >&2; usage 2 ;;
  esac
}

main "$@"
