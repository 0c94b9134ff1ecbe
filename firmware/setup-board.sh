#!/usr/bin/env bash
# Prepare a Raspberry Pi 4 / Pi 5 running Raspberry Pi OS Lite 64-bit (bookworm) as a Hỏi Xã box:
# sound hardware, hardware watchdog, logs in RAM, the data partition, the read-only root.
#
#   sudo firmware/setup-board.sh [--audio usb|respeaker-v1|respeaker-v2] [options]
#
#   --audio KIND          the sound hardware (default usb: a USB speakerphone)
#   --format-data DEVICE  make DEVICE the data partition (ext4, label HOIXA-DATA). Only a device
#                         with nothing on it, or one already labelled HOIXA-DATA, is accepted.
#                         Without this option nothing is ever formatted.
#   --no-overlay          everything except the read-only root (bench and test boxes)
#   --dry-run             print what would change, change nothing
#   --root DIR            work on the system mounted at DIR instead of this one (an SD card
#                         prepared on another machine; the tests). Live-only steps are skipped.
#   --force               run on a machine that is not a Raspberry Pi 4 or 5
#
# Idempotent: a second run changes nothing and says "nothing to do". Run it after
# "install.sh --device"; the read-only root is switched on last, and only once the sound card is
# present (its volume is stored first). Every choice is explained in firmware/README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA_LABEL="HOIXA-DATA"
DATA_DIR="/var/lib/hoixa"
# Units that write to the card (or to the RAM overlay) for nothing on a box: the swap file, apt's
# daily downloads (updates happen in maintenance mode), the man page index, and the Bluetooth
# modem setup (Bluetooth is switched off in hoixa.txt).
UNITS_TO_DISABLE=(dphys-swapfile.service apt-daily.timer apt-daily-upgrade.timer man-db.timer
  hciuart.service)
UNITS_TO_ENABLE=(var-lib-hoixa.mount tmp.mount)

ROOT="/"
AUDIO="usb"
FORMAT_DEVICE=""
OVERLAY=1
DRY_RUN=0
FORCE=0

CHANGES=0
SYSTEMD_CHANGED=0
NOTES=()

say() { printf '%s\n' "$*"; }
note() { NOTES+=("$*"); }
die() {
  printf 'setup-board.sh: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

# A path on the system being prepared.
at() { printf '%s%s' "${ROOT%/}" "$1"; }

is_live() { [[ "$ROOT" == "/" ]]; }

# Make one change, or only say it under --dry-run. Every change goes through here, so the
# count in the summary is exactly what was (or would be) done.
change() {
  local what="$1"
  shift
  CHANGES=$((CHANGES + 1))
  if ((DRY_RUN)); then
    say "would: $what"
  else
    say "doing: $what"
    "$@"
  fi
}

systemctl_here() {
  if is_live; then systemctl "$@"; else systemctl --root="$ROOT" "$@"; fi
}

parse_args() {
  while (($#)); do
    case "$1" in
      --audio)
        [[ $# -ge 2 ]] || die "--audio needs a value"
        AUDIO="$2"
        shift 2
        ;;
      --format-data)
        [[ $# -ge 2 ]] || die "--format-data needs a device"
        FORMAT_DEVICE="$2"
        shift 2
        ;;
      --root)
        [[ $# -ge 2 ]] || die "--root needs a directory"
        [[ -d "$2" ]] || die "--root $2: no such directory"
        ROOT="$(cd "$2" && pwd -P)"
        shift 2
        ;;
      --no-overlay) OVERLAY=0; shift ;;
      --dry-run) DRY_RUN=1; shift ;;
      --force) FORCE=1; shift ;;
      -h | --help) usage 0 ;;
      *) printf 'setup-board.sh: unknown option %s\n' "$1" >&2; usage 2 ;;
    esac
  done
  case "$AUDIO" in
    usb | respeaker-v1 | respeaker-v2) ;;
    *) die "--audio must be usb, respeaker-v1 or respeaker-v2, not '$AUDIO'" ;;
  esac
}

# ---------------------------------------------------------------- checks before any change

check_board() {
  local model=""
  if [[ -r /proc/device-tree/model ]]; then
    model="$(tr -d '\0' </proc/device-tree/model)"
  fi
  if [[ "$model" =~ Raspberry\ Pi\ (4|5|400|500|Compute\ Module\ (4|5)) ]]; then
    say "board: $model"
    return
  fi
  if ((FORCE)); then
    say "board: ${model:-not a Raspberry Pi} (going on because of --force)"
    return
  fi
  die "this is not a Raspberry Pi 4 or 5 (${model:-no /proc/device-tree/model}); nothing was changed. Use --force to go on anyway (with --root DIR to prepare another system)."
}

check_privileges() {
  if is_live && ((!DRY_RUN)) && [[ "$(id -u)" -ne 0 ]]; then
    die "run as root (sudo), or with --dry-run to only look"
  fi
}

BOOT=""
find_boot() {
  if [[ -f "$(at /boot/firmware/config.txt)" ]]; then
    BOOT="/boot/firmware" # bookworm
  elif [[ -f "$(at /boot/config.txt)" ]]; then
    BOOT="/boot" # bullseye and older
  else
    die "no config.txt in $(at /boot/firmware) or $(at /boot): is this Raspberry Pi OS?"
  fi
  [[ -f "$(at "$BOOT/cmdline.txt")" ]] || die "no $(at "$BOOT/cmdline.txt")"
}

# While the read-only root is active, every write lands in RAM and is gone after a reboot.
check_not_in_overlay() {
  is_live || return 0
  local fstype
  fstype="$(findmnt -n -o FSTYPE / || true)"
  [[ "$fstype" == "overlay" ]] || return 0
  if ((DRY_RUN)); then
    note "the read-only root is active now: real changes would be lost at the next reboot"
    return 0
  fi
  die "the read-only root is active, changes would be lost at the next reboot. Maintenance mode first: sudo raspi-config nonint disable_overlayfs && sudo reboot (or look with --dry-run)"
}

check_audio_overlay() {
  [[ "$AUDIO" == "respeaker-v2" ]] || return 0
  local dtbo
  dtbo="$(at "$BOOT/overlays/respeaker-2mic-v2_0.dtbo")"
  [[ -f "$dtbo" ]] && return 0
  die "the ReSpeaker v2.0 overlay is missing: $dtbo. Raspberry Pi OS does not ship it; build it from Seeed's seeed-linux-dtoverlays (firmware/README.md, 'ReSpeaker v2.0') and run again."
}

MISSING_PACKAGES=()
package_installed() {
  local status
  if is_live; then
    status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)"
  else
    status="$(dpkg-query --admindir="$(at /var/lib/dpkg)" -W -f='${Status}' "$1" 2>/dev/null || true)"
  fi
  [[ "$status" == "install ok installed" ]]
}

check_packages() {
  # alsa-utils: aplay, arecord, alsamixer and alsactl (mixer levels restored at boot).
  # overlayroot: the read-only root; installed here, while the network is surely up, because
  # raspi-config would otherwise try to download it in the middle of switching the root.
  local wanted=(alsa-utils) pkg
  ((OVERLAY)) && wanted+=(overlayroot)
  for pkg in "${wanted[@]}"; do
    package_installed "$pkg" || MISSING_PACKAGES+=("$pkg")
  done
  ((${#MISSING_PACKAGES[@]})) || return 0
  is_live && return 0
  if ((OVERLAY)) && [[ " ${MISSING_PACKAGES[*]} " == *" overlayroot "* ]]; then
    die "overlayroot is not installed in $ROOT; install it there first (or use --no-overlay): switching the root to read-only without it would do nothing"
  fi
  note "not installed in $ROOT: ${MISSING_PACKAGES[*]} (install them with apt in that system)"
}

DATA_DEVICE=""
FORMAT_NEEDED=0
check_data_partition() {
  if [[ -n "$FORMAT_DEVICE" ]]; then
    check_format_device
    return
  fi
  if ! is_live; then
    note "partitions cannot be checked from --root: the card must have an ext4 partition labelled $DATA_LABEL (firmware/README.md)"
    return
  fi
  DATA_DEVICE="$(blkid -L "$DATA_LABEL" 2>/dev/null || true)"
  [[ -n "$DATA_DEVICE" ]] || die "no partition labelled $DATA_LABEL. Create one (firmware/README.md, 'The data partition') and run again with --format-data /dev/<partition>"
  local fstype
  fstype="$(blkid -s TYPE -o value "$DATA_DEVICE" || true)"
  [[ "$fstype" == "ext4" ]] || die "$DATA_DEVICE is labelled $DATA_LABEL but holds ${fstype:-no} file system, not ext4"
  say "data partition: $DATA_DEVICE"
}

# The one place that can destroy data, so it refuses everything but the two safe cases.
check_format_device() {
  local dev="$FORMAT_DEVICE" label fstype pttype
  if [[ -b "$dev" ]]; then
    if is_live; then refuse_system_disk "$dev"; fi
  elif [[ -f "$dev" ]] && ! is_live; then
    : # a disk image file, for preparing an image elsewhere (and for the tests)
  else
    die "--format-data $dev: not a block device"
  fi
  label="$(blkid -p -s LABEL -o value "$dev" 2>/dev/null || true)"
  fstype="$(blkid -p -s TYPE -o value "$dev" 2>/dev/null || true)"
  pttype="$(blkid -p -s PTTYPE -o value "$dev" 2>/dev/null || true)"
  if [[ "$label" == "$DATA_LABEL" && "$fstype" == "ext4" ]]; then
    say "data partition: $dev (already $DATA_LABEL)"
  elif [[ -z "$label$fstype$pttype" ]]; then
    FORMAT_NEEDED=1
    say "data partition: $dev (empty, will be formatted)"
  else
    die "$dev is not empty (${fstype:-${pttype:+partition table }}${pttype}${label:+, label $label}); it was NOT formatted. Check it is the right device (lsblk -f); if it is, wipe it yourself: sudo wipefs -a $dev"
  fi
  DATA_DEVICE="$dev"
}

refuse_system_disk() {
  local dev="$1" mountpoint source disk
  for mountpoint in / /boot/firmware /boot; do
    source="$(findmnt -n -o SOURCE "$mountpoint" 2>/dev/null || true)"
    [[ -n "$source" ]] || continue
    [[ "$(readlink -f "$source")" != "$(readlink -f "$dev")" ]] ||
      die "$dev is mounted on $mountpoint; refusing to format it"
    disk="/dev/$(lsblk -n -o PKNAME "$source" 2>/dev/null | head -n 1)"
    [[ "$(readlink -f "$disk")" != "$(readlink -f "$dev")" ]] ||
      die "$dev is the whole disk holding $mountpoint; give the data partition, e.g. ${disk}p3"
  done
  if findmnt -n -S "$dev" >/dev/null 2>&1; then
    die "$dev is mounted ($(findmnt -n -o TARGET -S "$dev" | head -n 1)); refusing to format it"
  fi
}

# ---------------------------------------------------------------- changes

install_packages() {
  ((${#MISSING_PACKAGES[@]})) || return 0
  is_live || return 0
  change "install ${MISSING_PACKAGES[*]}" apt_install "${MISSING_PACKAGES[@]}"
}

apt_install() {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# Keep a system file as FILE.hoixa-orig before changing it the first time (not one of ours: they
# all name setup-board.sh), so every change can be undone by hand.
keep_original() {
  local target="$1"
  [[ -f "$target" && ! -e "$target.hoixa-orig" ]] || return 0
  grep -q 'setup-board\.sh' "$target" || cp -p "$target" "$target.hoixa-orig"
}

# Put SRC at DEST (a path on the prepared system) unless it is already there. The first time an
# existing, different file is replaced, it is kept as DEST.hoixa-orig (to undo by hand).
install_file() {
  local src="$1" dest="$2" mode="$3" target
  target="$(at "$dest")"
  if [[ -f "$target" ]] && cmp -s "$src" "$target"; then
    return 0
  fi
  [[ "$dest" != /etc/systemd/* ]] || SYSTEMD_CHANGED=1
  change "install $dest" copy_with_backup "$src" "$target" "$mode"
}

copy_with_backup() {
  local src="$1" target="$2" mode="$3"
  keep_original "$target"
  mkdir -p "$(dirname "$target")"
  install -m "$mode" "$src" "$target.hoixa-new"
  mv "$target.hoixa-new" "$target"
}

remove_file() {
  local dest="$1"
  [[ -e "$(at "$dest")" ]] || return 0
  change "remove $dest (not used with --audio $AUDIO)" rm -f "$(at "$dest")"
}

setup_boot_config() {
  local generated config
  generated="$(cat "$HERE/boot/hoixa-base.txt" "$HERE/boot/hoixa-$AUDIO.txt")"
  install_content "$generated" "$BOOT/hoixa.txt"
  config="$(at "$BOOT/config.txt")"
  if ! grep -qx '[[:space:]]*include[[:space:]]\+hoixa.txt[[:space:]]*' "$config"; then
    change "add 'include hoixa.txt' at the end of $BOOT/config.txt" append_include "$config"
  fi
}

install_content() {
  local content="$1" dest="$2" scratch
  scratch="$(at "$dest").hoixa-generated"
  if [[ -f "$(at "$dest")" ]] && [[ "$(cat "$(at "$dest")")" == "$content" ]]; then
    return 0
  fi
  if ((DRY_RUN)); then
    change "install $dest" true
    return 0
  fi
  printf '%s\n' "$content" >"$scratch"
  install_file "$scratch" "$dest" 0644
  rm -f "$scratch"
}

append_include() {
  local config="$1"
  keep_original "$config"
  # "[all]" first: the stock file may end inside a [cm4] or [cm5] section.
  printf '\n# Hỏi Xã board settings (firmware/setup-board.sh, firmware/README.md)\n[all]\ninclude hoixa.txt\n' >>"$config"
}

setup_sound() {
  install_file "$HERE/alsa/asound-${AUDIO%-v[12]}.conf" /etc/asound.conf 0644
  if [[ "$AUDIO" == "usb" ]]; then
    install_file "$HERE/modprobe/hoixa-usb-audio.conf" /etc/modprobe.d/hoixa-usb-audio.conf 0644
  else
    remove_file /etc/modprobe.d/hoixa-usb-audio.conf
  fi
}

setup_systemd() {
  local file rel
  install_file "$HERE/systemd/system.conf.d/hoixa-watchdog.conf" \
    /etc/systemd/system.conf.d/hoixa-watchdog.conf 0644
  install_file "$HERE/systemd/journald.conf.d/hoixa-volatile.conf" \
    /etc/systemd/journald.conf.d/hoixa-volatile.conf 0644
  while IFS= read -r file; do
    rel="${file#"$HERE/systemd/system/"}"
    install_file "$file" "/etc/systemd/system/$rel" 0644
  done < <(find "$HERE/systemd/system" -type f | sort)
}

setup_units() {
  local unit state
  for unit in "${UNITS_TO_ENABLE[@]}"; do
    state="$(unit_state "$unit")"
    [[ "$state" == "enabled" ]] || change "enable $unit" systemctl_here enable --quiet "$unit"
  done
  for unit in "${UNITS_TO_DISABLE[@]}"; do
    state="$(unit_state "$unit")"
    [[ "$state" != "enabled" ]] || change "disable $unit" systemctl_here disable --quiet "$unit"
  done
}

# "enabled", "disabled", ... or "absent" (also for a unit only a --dry-run would have installed).
unit_state() {
  local state
  state="$(systemctl_here is-enabled "$1" 2>/dev/null)" || true
  printf '%s' "${state:-absent}"
}

setup_data_partition() {
  if ((FORMAT_NEEDED)); then
    change "format $DATA_DEVICE as ext4 labelled $DATA_LABEL" format_data "$DATA_DEVICE"
  fi
  [[ -n "$DATA_DEVICE" ]] || return 0
  if ! is_live; then
    note "$DATA_DIR is mounted from $DATA_LABEL at the next boot of that system"
    return 0
  fi
  local mounted
  mounted="$(findmnt -n -o SOURCE "$DATA_DIR" 2>/dev/null || true)"
  if [[ -n "$mounted" && "$(readlink -f "$mounted")" == "$(readlink -f "$DATA_DEVICE")" ]]; then
    return 0
  fi
  change "move $DATA_DIR onto $DATA_DEVICE and mount it there" move_data_to_partition
}

format_data() {
  # -m 1: keep 1 % (not 5 %) for root, the partition holds only the box's data.
  mkfs.ext4 -q -F -L "$DATA_LABEL" -m 1 "$1"
}

# Copy what the box already has in /var/lib/hoixa (on the root) onto the empty partition, with
# the service stopped so nothing is written meanwhile, then mount the partition there.
move_data_to_partition() {
  local scratch="/run/hoixa-data-setup" was_active=0
  if systemctl is-active --quiet hoixa-device.service; then
    was_active=1
    systemctl stop hoixa-device.service
  fi
  mkdir -p "$scratch" "$DATA_DIR"
  mount -t ext4 "$DATA_DEVICE" "$scratch"
  if [[ -z "$(find "$scratch" -mindepth 1 -maxdepth 1 ! -name lost+found -print -quit)" ]]; then
    cp -a "$DATA_DIR/." "$scratch/"
  else
    say "  $DATA_DEVICE already holds data: kept it, $DATA_DIR on the root was not copied"
  fi
  umount "$scratch"
  rmdir "$scratch"
  udevadm settle # /dev/disk/by-label/HOIXA-DATA appears after a fresh mkfs
  systemctl daemon-reload
  systemctl start var-lib-hoixa.mount
  if ((was_active)); then systemctl start hoixa-device.service; fi
}

reload_systemd() {
  is_live && ((SYSTEMD_CHANGED)) || return 0
  change "reload systemd's configuration" systemctl daemon-reload
}

# Last step: from the next boot on, the root is read-only with a RAM overlay. Only the data
# partition keeps what is written.
setup_overlay() {
  ((OVERLAY)) || return 0
  local cmdline
  cmdline="$(at "$BOOT/cmdline.txt")"
  if grep -q '\boverlayroot=' "$cmdline"; then
    return 0
  fi
  if ! is_live; then
    change "switch on the read-only root (overlayroot=tmpfs in $BOOT/cmdline.txt)" \
      prepend_overlayroot "$cmdline"
    return 0
  fi
  local card
  card="$(sound_card_name)"
  if [[ ! -e "/proc/asound/$card" ]]; then
    note "the read-only root is NOT switched on yet: sound card '$card' is not present. Reboot, check the sound (firmware/README.md), then run setup-board.sh again."
    return 0
  fi
  change "store the current mixer levels (restored at every boot)" alsactl store "$card"
  change "switch on the read-only root (raspi-config nonint enable_overlayfs)" enable_overlay "$cmdline"
}

# What raspi-config's enable_overlayfs writes (and its disable_overlayfs removes, so maintenance
# mode works the same on a card prepared with --root).
prepend_overlayroot() {
  keep_original "$1"
  sed -i -e '1s/^/overlayroot=tmpfs /' "$1"
}

sound_card_name() {
  grep -o 'hw:CARD=[A-Za-z0-9_]*' "$HERE/alsa/asound-${AUDIO%-v[12]}.conf" | head -n 1 | cut -d= -f2
}

enable_overlay() {
  raspi-config nonint enable_overlayfs
  # Trust the file, not the exit code: raspi-config can report success and change nothing.
  grep -q '\boverlayroot=' "$1" || die "raspi-config did not add overlayroot= to $1; the root is NOT protected"
}

summary() {
  local item
  say ""
  say "Hỏi Xã board setup$( ((DRY_RUN)) && printf ' (dry run: nothing was changed)')"
  say "  system:     $ROOT"
  say "  sound:      $AUDIO -> in /etc/hoixa/device.toml: [audio] input_device = \"hoixa_mic\", output_device = \"hoixa_speaker\""
  say "  data:       ${DATA_DEVICE:-partition labelled $DATA_LABEL} on $DATA_DIR"
  say "  read-only root: $( ((OVERLAY)) && printf 'yes (maintenance: sudo raspi-config nonint disable_overlayfs, reboot)' || printf 'no (--no-overlay)')"
  for item in "${NOTES[@]}"; do
    say "  note: $item"
  done
  if ((CHANGES == 0)); then
    say "nothing to do: the board is already set up"
  elif ((DRY_RUN)); then
    say "$CHANGES change(s) would be made"
  else
    say "$CHANGES change(s) made$(is_live && printf '; reboot to apply them: sudo reboot')"
  fi
}

main() {
  parse_args "$@"
  check_board
  check_privileges
  find_boot
  check_not_in_overlay
  check_audio_overlay
  check_packages
  check_data_partition

  install_packages
  setup_boot_config
  setup_sound
  setup_systemd
  reload_systemd
  setup_units
  setup_data_partition
  setup_overlay
  summary
}

main "$@"
