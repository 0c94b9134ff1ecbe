"""The board layer (firmware/) is valid for the tools that will read it, and setup-board.sh is safe.

What can be checked on a development machine without a Raspberry Pi, for real:
- every shell script passes shellcheck (firmware/*.sh and install.sh);
- the systemd units and drop-ins pass `systemd-analyze verify` (systemd 252, as on bookworm),
  and the manager/journald drop-ins use only keys this systemd documents in its own templates;
- the ALSA files are parsed by the real libasound (1.2.8, as on bookworm); opening the named
  devices gets as far as the missing sound card; with the card replaced by files, the box's own
  Microphone and Speaker find "hoixa_mic"/"hoixa_speaker" through PortAudio and carry audio;
- the config.txt fragments use only the keys, overlays and parameters documented for them;
- setup-board.sh refuses on a non-Pi without --force, changes nothing with --dry-run, writes
  nothing outside --root (checked in a mount namespace where everything else is read-only), is
  idempotent, and never formats a device that holds something.
What needs the real board (the overlays loading, the watchdog resetting, overlayroot) is listed
in firmware/README.md, "What was not tested on real hardware".
"""

from __future__ import annotations

import configparser
import ctypes
import ctypes.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT

FIRMWARE = ROOT / "firmware"
SETUP = FIRMWARE / "setup-board.sh"
SCRIPTS = [*sorted(FIRMWARE.rglob("*.sh")), ROOT / "install.sh"]
SYSTEMD = FIRMWARE / "systemd"
ALSA_FILES = sorted((FIRMWARE / "alsa").glob("asound-*.conf"))
BOOT_FRAGMENTS = sorted((FIRMWARE / "boot").glob("hoixa-*.txt"))
AUDIO_KINDS = ["usb", "respeaker-v1", "respeaker-v2"]
DATA_DIR = "/var/lib/hoixa"
DATA_LABEL = "HOIXA-DATA"

skip_if = pytest.mark.skipif


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kwargs)


def is_raspberry_pi() -> bool:
    model = Path("/proc/device-tree/model")
    return model.exists() and "Raspberry Pi" in model.read_text(errors="replace")


# ---------------------------------------------------------------- shell scripts


@skip_if(not shutil.which("shellcheck"), reason="shellcheck not installed")
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_script_passes_shellcheck(script):
    proc = run(["shellcheck", "--external-sources", str(script)], cwd=script.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("script", sorted(FIRMWARE.rglob("*.sh")), ids=lambda p: p.name)
def test_firmware_script_is_strict_bash_and_executable(script):
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert os.access(script, os.X_OK)


# ---------------------------------------------------------------- systemd


def systemd_files() -> list[Path]:
    return sorted(p for p in SYSTEMD.rglob("*") if p.is_file())


def test_every_systemd_file_says_what_it_is_and_where_it_goes():
    for path in systemd_files():
        text = path.read_text()
        assert text.startswith("#"), path
        assert "setup-board.sh" in text, f"{path} does not say what installs it"


@skip_if(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
@pytest.mark.parametrize("unit", sorted((SYSTEMD / "system").glob("*.mount")), ids=lambda p: p.name)
def test_mount_unit_verifies(tmp_path, unit):
    shutil.copy(unit, tmp_path / unit.name)
    proc = run(["systemd-analyze", "verify", str(tmp_path / unit.name)])
    problems = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert proc.returncode == 0 and problems == [], problems


@skip_if(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_service_drop_in_verifies_with_the_real_service_unit(tmp_path):
    # systemd-analyze reads "<unit>.d/" next to the unit, so a wrong key in the drop-in shows.
    service = (ROOT / "systemd/hoixa-device.service").read_text()
    (tmp_path / "hoixa-device.service").write_text(
        service.replace("/opt/hoixa/venv/bin/hoixa", sys.executable)
    )
    shutil.copytree(SYSTEMD / "system/hoixa-device.service.d", tmp_path / "hoixa-device.service.d")
    shutil.copy(SYSTEMD / "system/var-lib-hoixa.mount", tmp_path)
    proc = run(["systemd-analyze", "verify", str(tmp_path / "hoixa-device.service")])
    problems = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert proc.returncode == 0 and problems == [], problems


def read_unit(path: Path) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # systemd keys are case-sensitive
    unit.read(path)
    return unit


def test_data_mount_is_where_the_service_keeps_its_data_and_is_checked_first():
    mount = read_unit(SYSTEMD / "system/var-lib-hoixa.mount")
    service = read_unit(ROOT / "systemd/hoixa-device.service")["Service"]
    assert mount["Mount"]["Where"] == DATA_DIR == "/var/lib/" + service["StateDirectory"]
    assert f"HOIXA_DATA_DIR={DATA_DIR}" in service["Environment"]
    assert mount["Mount"]["What"] == f"/dev/disk/by-label/{DATA_LABEL}"
    assert mount["Mount"]["Type"] == "ext4"
    options = mount["Mount"]["Options"].split(",")
    assert {"noatime", "nofail", "errors=remount-ro"} <= set(options)
    assert "sync" not in options and "data=journal" not in options  # README says why
    drop_in = read_unit(SYSTEMD / "system/hoixa-device.service.d/data-partition.conf")
    assert drop_in["Unit"]["RequiresMountsFor"] == DATA_DIR
    # fsck before mounting, for exactly the device mounted (systemd's own escaping).
    if shutil.which("systemd-escape"):
        escaped = run(["systemd-escape", "--path", mount["Mount"]["What"]]).stdout.strip()
        fsck = f"systemd-fsck@{escaped}.service"
        assert mount["Unit"]["Requires"] == fsck and mount["Unit"]["After"] == fsck
    assert f'DATA_LABEL="{DATA_LABEL}"' in SETUP.read_text()
    assert f'DATA_DIR="{DATA_DIR}"' in SETUP.read_text()


def documented_keys(template: Path) -> dict[str, set[str]]:
    """Section -> keys, from a stock systemd file that lists every key commented out."""
    keys: dict[str, set[str]] = {}
    section = ""
    for line in template.read_text().splitlines():
        if re.fullmatch(r"\[\w+\]", line.strip()):
            section = line.strip()[1:-1]
        elif m := re.fullmatch(r"#?(\w+)=.*", line.strip()):
            keys.setdefault(section, set()).add(m.group(1))
    return keys


@pytest.mark.parametrize(
    ("drop_in", "template"),
    [
        ("system.conf.d/hoixa-watchdog.conf", "/etc/systemd/system.conf"),
        ("journald.conf.d/hoixa-volatile.conf", "/etc/systemd/journald.conf"),
    ],
)
def test_manager_and_journald_drop_ins_use_only_keys_this_systemd_knows(drop_in, template):
    if not Path(template).is_file():
        pytest.skip(f"{template} (the stock systemd template) not found")
    known = documented_keys(Path(template))
    parsed = read_unit(SYSTEMD / drop_in)
    assert parsed.sections(), "no section"
    for section in parsed.sections():
        assert section in known, f"[{section}] is not a section of {template}"
        unknown = set(parsed[section]) - known[section]
        assert not unknown, f"unknown keys in [{section}]: {unknown}"


def timespan_seconds(value: str) -> float:
    """Seconds, as systemd itself parses the time span (so '2min' and '14' both work)."""
    proc = run(["systemd-analyze", "timespan", value])
    assert proc.returncode == 0, proc.stderr
    return int(re.search(r"μs: (\d+)", proc.stdout).group(1)) / 1e6


@skip_if(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_watchdog_timeout_fits_the_raspberry_pi_hardware_watchdog():
    manager = read_unit(SYSTEMD / "system.conf.d/hoixa-watchdog.conf")["Manager"]
    runtime = timespan_seconds(manager["RuntimeWatchdogSec"])
    # The BCM2835/2711/2712 watchdog counts at most ~15.9 s; the driver refuses more.
    assert 0 < runtime <= 15
    assert timespan_seconds(manager["RebootWatchdogSec"]) > runtime


def test_journal_is_kept_in_ram_with_a_cap():
    journal = read_unit(SYSTEMD / "journald.conf.d/hoixa-volatile.conf")["Journal"]
    assert journal["Storage"] == "volatile"
    cap = journal["RuntimeMaxUse"]
    assert re.fullmatch(r"\d+[KMG]", cap)
    megabytes = int(cap[:-1]) * {"K": 1 / 1024, "M": 1, "G": 1024}[cap[-1]]
    assert 4 <= megabytes <= 64  # a 1 GB Pi must keep its RAM for the recogniser
    assert journal["ForwardToSyslog"] == "no"


# ---------------------------------------------------------------- ALSA


class AlsaConfig:
    """A configuration file loaded by the real libasound parser (not a re-implementation)."""

    TYPE_INTEGER, TYPE_STRING, TYPE_COMPOUND = 0, 3, 1024

    def __init__(self, path: Path) -> None:
        name = ctypes.util.find_library("asound")
        if not name:
            pytest.skip("libasound not installed")
        lib = self.lib = ctypes.CDLL(name)
        for fn in ("first", "next", "end", "entry"):
            getattr(lib, f"snd_config_iterator_{fn}").restype = ctypes.c_void_p
            getattr(lib, f"snd_config_iterator_{fn}").argtypes = [ctypes.c_void_p]
        lib.snd_config_get_type.argtypes = [ctypes.c_void_p]
        self.top = ctypes.c_void_p()
        assert lib.snd_config_top(ctypes.byref(self.top)) == 0
        source = ctypes.c_void_p()
        assert lib.snd_input_stdio_open(ctypes.byref(source), str(path).encode(), b"r") == 0
        self.load_error = lib.snd_config_load(self.top, source)
        lib.snd_input_close(source)

    def node(self, key: str) -> ctypes.c_void_p | None:
        found = ctypes.c_void_p()
        hit = self.lib.snd_config_search(self.top, key.encode(), ctypes.byref(found))
        return found if hit == 0 else None

    def get(self, key: str) -> str | int | None:
        found = self.node(key)
        if found is None:
            return None
        kind = self.lib.snd_config_get_type(found)
        if kind == self.TYPE_STRING:
            text = ctypes.c_char_p()
            self.lib.snd_config_get_string(found, ctypes.byref(text))
            return text.value.decode()
        if kind == self.TYPE_INTEGER:
            number = ctypes.c_long()
            self.lib.snd_config_get_integer(found, ctypes.byref(number))
            return number.value
        raise AssertionError(f"{key} is neither a string nor an integer")

    def keys(self, key: str) -> set[str]:
        compound = self.node(key)
        assert compound is not None, key
        assert self.lib.snd_config_get_type(compound) == self.TYPE_COMPOUND, key
        names, it = set(), self.lib.snd_config_iterator_first(compound)
        while it != self.lib.snd_config_iterator_end(compound):
            entry, ident = self.lib.snd_config_iterator_entry(it), ctypes.c_char_p()
            self.lib.snd_config_get_id(ctypes.c_void_p(entry), ctypes.byref(ident))
            names.add(ident.value.decode())
            it = self.lib.snd_config_iterator_next(it)
        return names


# The keys a dmix/dsnoop "slave { }" block may hold (snd_pcm_slave_conf in pcm_direct.c). ALSA
# only reads this block after it has found the card, so on a machine without the card a typo
# here would go unnoticed until the box is in the field: checked against this list instead.
DIRECT_SLAVE_KEYS = {
    "pcm", "format", "channels", "rate", "period_time", "period_size", "buffer_time",
    "buffer_size", "periods",
}  # fmt: skip


def card_of(conf: AlsaConfig, pcm: str) -> str:
    slave = conf.get(f"pcm.{pcm}.slave.pcm")
    m = re.fullmatch(r"hw:CARD=(\w+),DEV=0", str(slave))
    assert m, f"{pcm} should sit on a card found by name, not {slave!r}"
    return m.group(1)


@pytest.mark.parametrize("path", ALSA_FILES, ids=lambda p: p.name)
def test_alsa_file_defines_the_devices_the_box_config_names(path):
    conf = AlsaConfig(path)
    assert conf.load_error == 0, f"libasound cannot parse {path}"
    for name, shared, direct in [
        ("hoixa_speaker", "hoixa_playback_mix", "dmix"),
        ("hoixa_mic", "hoixa_capture_share", "dsnoop"),
    ]:
        assert conf.get(f"pcm.{name}.type") == "plug"
        assert conf.get(f"pcm.{name}.slave.pcm") == shared
        # The program resamples with soxr; ALSA must not resample behind its back.
        assert conf.get(f"pcm.{name}.slave.rate") == "unchanged"
        assert conf.get(f"pcm.{shared}.type") == direct
        assert conf.keys(f"pcm.{shared}.slave") <= DIRECT_SLAVE_KEYS
        assert isinstance(conf.get(f"pcm.{shared}.slave.rate"), int)
        assert conf.get(f"pcm.{shared}.ipc_perm") == 0o660
        assert conf.get(f"pcm.{shared}.ipc_gid") == "audio"
    card = card_of(conf, "hoixa_playback_mix")
    assert card_of(conf, "hoixa_capture_share") == card
    assert conf.get("ctl.default.card") == card
    assert conf.get("pcm.default.type") == "asym"
    assert conf.get("pcm.default.playback.pcm") == "hoixa_speaker"
    assert conf.get("pcm.default.capture.pcm") == "hoixa_mic"
    keys = {conf.get("pcm.hoixa_playback_mix.ipc_key"), conf.get("pcm.hoixa_capture_share.ipc_key")}
    assert len(keys) == 2 and 5678293 not in keys  # not alsa.conf's own dmix key


def test_alsa_files_use_different_ipc_keys_and_the_card_names_the_boot_files_give():
    usb, hat = (
        AlsaConfig(FIRMWARE / "alsa/asound-usb.conf"),
        AlsaConfig(FIRMWARE / "alsa/asound-respeaker.conf"),
    )
    modprobe = (FIRMWARE / "modprobe/hoixa-usb-audio.conf").read_text()
    assert re.search(r"^options snd-usb-audio id=(\w+)$", modprobe, re.M).group(1) == card_of(
        usb, "hoixa_playback_mix"
    )
    v1 = (FIRMWARE / "boot/hoixa-respeaker-v1.txt").read_text()
    assert re.search(r"alsaname=(\w+)", v1).group(1) == card_of(hat, "hoixa_playback_mix")
    # The HAT records and plays on one I2S clock: both directions at one rate.
    assert hat.get("pcm.hoixa_playback_mix.slave.rate") == hat.get(
        "pcm.hoixa_capture_share.slave.rate"
    )
    # The recogniser's rate, so a speakerphone that offers it needs no resampling at all.
    assert usb.get("pcm.hoixa_capture_share.slave.rate") == 16000


def test_a_broken_alsa_file_is_noticed(tmp_path):
    # The parser check above is only worth something if libasound does reject bad files.
    broken = tmp_path / "asound.conf"
    broken.write_text(ALSA_FILES[0].read_text().replace("pcm.hoixa_mic {", "pcm.hoixa_mic {{", 1))
    assert AlsaConfig(broken).load_error < 0


OPEN_PROBE = """
import ctypes, sys
lib = ctypes.CDLL(ctypes.util.find_library("asound"))
handle = ctypes.c_void_p()
stream = 0 if sys.argv[2] == "playback" else 1
print(lib.snd_pcm_open(ctypes.byref(handle), sys.argv[1].encode(), stream, 1))
"""


@pytest.mark.parametrize("path", ALSA_FILES, ids=lambda p: p.name)
def test_opening_the_devices_goes_down_to_the_missing_card(tmp_path, path):
    """Every layer above the card parses: ALSA stops only at 'no such card'."""
    card = card_of(AlsaConfig(path), "hoixa_playback_mix")
    if Path(f"/proc/asound/{card}").exists():
        pytest.skip(f"this machine has the card {card}")
    env = {**os.environ, "ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{path}"}
    for name, stream in [("hoixa_speaker", "playback"), ("hoixa_mic", "capture")]:
        proc = run(
            [sys.executable, "-c", "import ctypes.util\n" + OPEN_PROBE, name, stream], env=env
        )
        assert int(proc.stdout) == -19, proc.stderr  # -ENODEV, not -EINVAL/-ENOENT
        assert f"Cannot get card index for {card}" in proc.stderr


END_TO_END = """
import json
import numpy as np
from hoixa.device.audio.devices import list_devices, open_portaudio
from hoixa.device.audio.microphone import Microphone
from hoixa.device.audio.speaker import Speaker
from hoixa.device.config import AudioConfig

config = AudioConfig(input_device="hoixa_mic", output_device="hoixa_speaker")
pa = open_portaudio()
names = [d.name for d in list_devices(pa)]
mic = Microphone(config, pa=pa).open()
heard = b"".join(mic.read() for _ in range(20))
mic_device, mic_rate = mic.device.name, mic.device_rate
mic.close()
tone = (np.sin(2 * np.pi * 440 * np.arange(6615) / 22050) * 8000).astype(np.int16)
with Speaker(config, pa=pa) as speaker:
    finished = speaker.play_pcm(tone.tobytes(), 22050)
    speaker_device, speaker_rate = speaker.device.name, speaker.rate
pa.terminate()
print(json.dumps({
    "names": names, "heard": heard.hex(), "mic": [mic_device, mic_rate],
    "speaker": [speaker_device, speaker_rate], "finished": finished,
}))
"""


@pytest.mark.parametrize("path", ALSA_FILES, ids=lambda p: p.name)
def test_box_microphone_and_speaker_work_through_the_named_devices(tmp_path, path):
    """The card replaced by files (as in tests/alsa_files.py), everything above it as shipped."""
    pytest.importorskip("pyaudio", reason="pyaudio (device extra) is not installed")
    pytest.importorskip("soxr", reason="soxr (device extra) is not installed")
    rng = np.random.default_rng(7)
    said = (rng.standard_normal(16000) * 3000).astype(np.int16)
    (tmp_path / "in.raw").write_bytes(said.tobytes())
    (tmp_path / "out.raw").write_bytes(b"")
    (tmp_path / "card.conf").write_text(
        textwrap.dedent(f"""\
        pcm.!hoixa_playback_mix {{
          type file
          slave.pcm "null"
          file "{tmp_path / "out.raw"}"
          format "raw"
        }}
        pcm.!hoixa_capture_share {{
          type file
          slave.pcm "null"
          file "/dev/null"
          infile "{tmp_path / "in.raw"}"
          format "raw"
        }}
        """)
    )
    config_path = f"/usr/share/alsa/alsa.conf:{path}:{tmp_path / 'card.conf'}"
    proc = run(
        [sys.executable, "-c", END_TO_END],
        env={**os.environ, "ALSA_CONFIG_PATH": config_path},
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"hoixa_mic", "hoixa_speaker"} <= set(result["names"])
    # Exact names win over "hoixa_mic" being part of another name.
    assert result["mic"] == ["hoixa_mic", 16000]
    heard = np.frombuffer(bytes.fromhex(result["heard"]), dtype=np.int16)
    assert np.array_equal(heard, said[: len(heard)])  # 16 kHz straight through, untouched
    assert result["finished"] and result["speaker"] == ["hoixa_speaker", 22050]
    played = np.frombuffer((tmp_path / "out.raw").read_bytes(), dtype=np.int16)
    tone = (np.sin(2 * np.pi * 440 * np.arange(6615) / 22050) * 8000).astype(np.int16)
    assert len(played) >= len(tone)
    assert np.abs(played[: len(tone)].astype(int) - tone).max() <= 1


# ---------------------------------------------------------------- config.txt


# What the fragments may say: config.txt keys, base device-tree parameters and overlays, each
# as documented by Raspberry Pi (overlays/README) or, for the v2.0 HAT, by Seeed.
BOOT_KEYS = {"dtparam", "dtoverlay"}
DTPARAMS = {"watchdog": {"on", "off"}, "audio": {"on", "off"}}
OVERLAYS = {
    "disable-bt": set(),
    "wm8960-soundcard": {"alsaname", "compatible"},
    "respeaker-2mic-v2_0": set(),
}


@pytest.mark.parametrize("fragment", BOOT_FRAGMENTS, ids=lambda p: p.name)
def test_boot_fragment_uses_only_documented_settings(fragment):
    for number, line in enumerate(fragment.read_text().splitlines(), 1):
        where = f"{fragment.name}:{number}: {line!r}"
        if not line.strip() or line.startswith("#"):
            continue
        assert not line.startswith("["), f"{where}: sections belong in config.txt"
        m = re.fullmatch(r"([a-z_0-9]+)=(\S+)", line)
        assert m, f"{where}: not key=value"
        key, value = m.groups()
        assert key in BOOT_KEYS, where
        if key == "dtparam":
            name, _, setting = value.partition("=")
            assert setting in DTPARAMS.get(name, set()), where
        else:
            name, *params = value.split(",")
            assert name in OVERLAYS, where
            assert {p.partition("=")[0] for p in params} <= OVERLAYS[name], where


def test_every_audio_kind_has_its_files():
    script = SETUP.read_text()
    for kind in AUDIO_KINDS:
        assert (FIRMWARE / f"boot/hoixa-{kind}.txt").is_file()
        assert (
            FIRMWARE / f"alsa/asound-{kind.removesuffix('-v1').removesuffix('-v2')}.conf"
        ).is_file()
        assert kind in script


# ---------------------------------------------------------------- setup-board.sh


STOCK_CONFIG = """\
# For more options and information see
# http://rptl.io/configtxt
# Some settings may impact device functionality. See link above for details

# Enable audio (loads snd_bcm2835)
dtparam=audio=on

camera_auto_detect=1
display_auto_detect=1
auto_initramfs=1
dtoverlay=vc4-kms-v3d
max_framebuffers=2
disable_fw_kms_setup=1
arm_64bit=1
disable_overscan=1
arm_boost=1

[cm4]
otg_mode=1

[cm5]
dtoverlay=dwc2,dr_mode=host
"""
STOCK_CMDLINE = (
    "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 "
    "fsck.repair=yes rootwait quiet init=/usr/lib/raspberrypi-sys-mods/firstboot\n"
)


def dpkg_entry(package: str) -> str:
    return f"Package: {package}\nStatus: install ok installed\nArchitecture: arm64\nVersion: 1\n\n"


def pi_os_root(base: Path, packages: tuple[str, ...] = ("alsa-utils", "overlayroot")) -> Path:
    """The parts of a Raspberry Pi OS Lite (bookworm) root that setup-board.sh reads."""
    root = base / "root"
    (root / "boot/firmware").mkdir(parents=True)
    (root / "boot/firmware/config.txt").write_text(STOCK_CONFIG)
    (root / "boot/firmware/cmdline.txt").write_text(STOCK_CMDLINE)
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("".join(dpkg_entry(p) for p in packages))
    units = root / "lib/systemd/system"
    units.mkdir(parents=True)
    for name, wanted_by in [
        ("dphys-swapfile.service", "multi-user.target"),
        ("apt-daily.timer", "timers.target"),
        ("man-db.timer", "timers.target"),
    ]:
        kind = "Timer" if name.endswith(".timer") else "Service"
        body = "OnCalendar=daily" if kind == "Timer" else "ExecStart=/bin/true"
        (units / name).write_text(
            f"[Unit]\nDescription={name}\n[{kind}]\n{body}\n[Install]\nWantedBy={wanted_by}\n"
        )
        wants = root / f"etc/systemd/system/{wanted_by}.wants"
        wants.mkdir(parents=True, exist_ok=True)
        (wants / name).symlink_to(f"/lib/systemd/system/{name}")
    return root


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every file's bytes and every link's target below `folder`."""
    state: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            state[key] = "-> " + os.readlink(path)
        elif path.is_file():
            state[key] = path.read_bytes()
        else:
            state[key] = "dir"
    return state


def setup(root: Path, *args: str, sandbox: Path | None = None) -> subprocess.CompletedProcess:
    """Run setup-board.sh on `root`; with `sandbox`, everything but it is read-only."""
    cmd = [str(SETUP), "--root", str(root), *args]
    if sandbox is None:
        return run(cmd)
    script = (
        "mount --make-rprivate / && mount -o remount,bind,ro / && "
        f'mount --bind "{sandbox}" "{sandbox}" && mount -o remount,bind,rw "{sandbox}" && '
        'exec "$@"'
    )
    return run(
        ["unshare", "--mount", "sh", "-c", script, "sh", *cmd],
        env={**os.environ, "TMPDIR": str(sandbox)},
    )


def sandbox_works(tmp_path: Path) -> bool:
    if not shutil.which("unshare"):
        return False
    probe = setup(tmp_path, "--help", sandbox=tmp_path)
    return probe.returncode == 0


def changes(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stdout.splitlines() if line.startswith(("doing:", "would:"))]


@skip_if(is_raspberry_pi(), reason="this machine is a Raspberry Pi")
def test_setup_refuses_on_a_machine_that_is_not_a_pi_and_changes_nothing(tmp_path):
    root = pi_os_root(tmp_path)
    before = snapshot(root)
    for args in [(), ("--dry-run",)]:
        proc = setup(root, *args)
        assert proc.returncode != 0
        assert "not a Raspberry Pi" in proc.stderr and "--force" in proc.stderr
        assert snapshot(root) == before


def test_setup_dry_run_lists_every_change_and_writes_nothing(tmp_path):
    root = pi_os_root(tmp_path)
    before = snapshot(tmp_path)
    proc = setup(root, "--dry-run", "--force")
    assert proc.returncode == 0, proc.stderr
    assert snapshot(tmp_path) == before
    planned = changes(proc)
    assert planned and all(line.startswith("would:") for line in planned)
    for expected in [
        "install /boot/firmware/hoixa.txt",
        "include hoixa.txt",
        "install /etc/asound.conf",
        "install /etc/systemd/system/var-lib-hoixa.mount",
        "enable var-lib-hoixa.mount",
        "disable dphys-swapfile.service",
        "overlayroot=tmpfs",
    ]:
        assert any(expected in line for line in planned), expected
    assert f"{len(planned)} change(s) would be made" in proc.stdout


def test_setup_installs_only_inside_root_and_a_second_run_has_nothing_to_do(tmp_path):
    root = pi_os_root(tmp_path)
    sandboxed = sandbox_works(tmp_path)
    proc = setup(root, "--force", sandbox=tmp_path if sandboxed else None)
    assert proc.returncode == 0, proc.stderr
    done = changes(proc)
    assert done and all(line.startswith("doing:") for line in done)
    assert f"{len(done)} change(s) made" in proc.stdout

    # The files are the repository's, where systemd, ALSA and modprobe look for them.
    installed = {
        "etc/asound.conf": "alsa/asound-usb.conf",
        "etc/modprobe.d/hoixa-usb-audio.conf": "modprobe/hoixa-usb-audio.conf",
        "etc/systemd/system.conf.d/hoixa-watchdog.conf": (
            "systemd/system.conf.d/hoixa-watchdog.conf"
        ),
        "etc/systemd/journald.conf.d/hoixa-volatile.conf": (
            "systemd/journald.conf.d/hoixa-volatile.conf"
        ),
        "etc/systemd/system/var-lib-hoixa.mount": "systemd/system/var-lib-hoixa.mount",
        "etc/systemd/system/tmp.mount": "systemd/system/tmp.mount",
        "etc/systemd/system/hoixa-device.service.d/data-partition.conf": (
            "systemd/system/hoixa-device.service.d/data-partition.conf"
        ),
    }
    for target, source in installed.items():
        assert (root / target).read_bytes() == (FIRMWARE / source).read_bytes(), target
    hoixa_txt = (root / "boot/firmware/hoixa.txt").read_text()
    assert hoixa_txt.rstrip("\n") == (
        (FIRMWARE / "boot/hoixa-base.txt").read_text()
        + (FIRMWARE / "boot/hoixa-usb.txt").read_text()
    ).rstrip("\n")

    # config.txt: the stock file untouched, then "[all]" and the include (last, so it wins).
    config = (root / "boot/firmware/config.txt").read_text()
    assert config.startswith(STOCK_CONFIG)
    assert [line for line in config.splitlines() if line and not line.startswith("#")][-2:] == [
        "[all]",
        "include hoixa.txt",
    ]
    assert (root / "boot/firmware/config.txt.hoixa-orig").read_text() == STOCK_CONFIG
    cmdline = (root / "boot/firmware/cmdline.txt").read_text()
    assert cmdline == "overlayroot=tmpfs " + STOCK_CMDLINE  # what raspi-config writes
    assert "\n" not in cmdline.rstrip("\n")  # the firmware reads one line only

    wants = root / "etc/systemd/system"
    assert os.readlink(wants / "local-fs.target.wants/var-lib-hoixa.mount").endswith(
        "/etc/systemd/system/var-lib-hoixa.mount"
    )
    assert (wants / "local-fs.target.wants/tmp.mount").is_symlink()
    assert not (wants / "multi-user.target.wants/dphys-swapfile.service").exists()
    assert not (wants / "timers.target.wants/apt-daily.timer").exists()
    assert not (wants / "timers.target.wants/man-db.timer").exists()

    before = snapshot(tmp_path)
    for args in [("--force",), ("--force", "--dry-run")]:
        again = setup(root, *args)
        assert again.returncode == 0, again.stderr
        assert changes(again) == []
        assert "nothing to do" in again.stdout
        assert snapshot(tmp_path) == before
    if not sandboxed:
        pytest.skip("no mount namespace here: 'nothing written outside --root' was not checked")


def test_setup_switches_sound_hardware_cleanly(tmp_path):
    root = pi_os_root(tmp_path)
    assert setup(root, "--force").returncode == 0
    proc = setup(root, "--force", "--audio", "respeaker-v1")
    assert proc.returncode == 0, proc.stderr
    assert (root / "etc/asound.conf").read_bytes() == (
        FIRMWARE / "alsa/asound-respeaker.conf"
    ).read_bytes()
    assert not (root / "etc/modprobe.d/hoixa-usb-audio.conf").exists()
    assert not (root / "etc/asound.conf.hoixa-orig").exists()  # ours, not worth keeping
    assert (
        "dtoverlay=wm8960-soundcard,alsaname=seeed2micvoicec"
        in (root / "boot/firmware/hoixa.txt").read_text()
    )
    assert (root / "boot/firmware/config.txt").read_text().count("include hoixa.txt") == 1
    assert "nothing to do" in setup(root, "--force", "--audio", "respeaker-v1").stdout


def test_setup_keeps_an_existing_asound_conf_as_hoixa_orig(tmp_path):
    root = pi_os_root(tmp_path)
    (root / "etc/asound.conf").write_text("pcm.!default { type hw card 1 }\n")
    assert setup(root, "--force").returncode == 0
    assert (root / "etc/asound.conf.hoixa-orig").read_text() == "pcm.!default { type hw card 1 }\n"


def test_setup_refuses_the_v2_hat_until_its_overlay_is_on_the_boot_partition(tmp_path):
    root = pi_os_root(tmp_path)
    before = snapshot(root)
    proc = setup(root, "--force", "--audio", "respeaker-v2")
    assert proc.returncode != 0 and "respeaker-2mic-v2_0.dtbo" in proc.stderr
    assert snapshot(root) == before
    (root / "boot/firmware/overlays").mkdir()
    (root / "boot/firmware/overlays/respeaker-2mic-v2_0.dtbo").write_bytes(b"\xd0\x0d\xfe\xed")
    proc = setup(root, "--force", "--audio", "respeaker-v2")
    assert proc.returncode == 0, proc.stderr
    assert "dtoverlay=respeaker-2mic-v2_0" in (root / "boot/firmware/hoixa.txt").read_text()


def test_setup_without_overlayroot_installed_refuses_the_overlay_but_not_no_overlay(tmp_path):
    root = pi_os_root(tmp_path, packages=("alsa-utils",))
    before = snapshot(root)
    proc = setup(root, "--force")
    assert proc.returncode != 0 and "overlayroot is not installed" in proc.stderr
    assert snapshot(root) == before
    proc = setup(root, "--force", "--no-overlay")
    assert proc.returncode == 0, proc.stderr
    assert (root / "boot/firmware/cmdline.txt").read_text() == STOCK_CMDLINE


def test_setup_rejects_unknown_options_and_audio_kinds(tmp_path):
    root = pi_os_root(tmp_path)
    before = snapshot(root)
    assert setup(root, "--force", "--frobnicate").returncode == 2
    proc = setup(root, "--force", "--audio", "hdmi")
    assert proc.returncode != 0 and "--audio must be" in proc.stderr
    assert snapshot(root) == before


@skip_if(not shutil.which("mkfs.ext4") or not shutil.which("blkid"), reason="e2fsprogs missing")
def test_setup_formats_only_an_empty_device_and_only_once(tmp_path):
    root = pi_os_root(tmp_path)
    image = tmp_path / "data.img"
    image.write_bytes(b"")
    os.truncate(image, 32 * 1024 * 1024)
    proc = setup(root, "--force", "--format-data", str(image))
    assert proc.returncode == 0, proc.stderr
    assert any("format" in line for line in changes(proc))
    probe = run(["blkid", "-p", "-o", "export", str(image)]).stdout
    assert f"LABEL={DATA_LABEL}" in probe and "TYPE=ext4" in probe
    again = setup(root, "--force", "--format-data", str(image))
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert run(["blkid", "-p", "-o", "export", str(image)]).stdout == probe  # same UUID: untouched


@skip_if(not shutil.which("mkfs.ext4") or not shutil.which("blkid"), reason="e2fsprogs missing")
def test_setup_never_formats_a_device_that_holds_something(tmp_path):
    root = pi_os_root(tmp_path)
    image = tmp_path / "photos.img"
    image.write_bytes(b"")
    os.truncate(image, 8 * 1024 * 1024)
    assert run(["mkfs.ext4", "-q", "-F", "-L", "PHOTOS", str(image)]).returncode == 0
    before = image.read_bytes()
    for args in [(), ("--dry-run",)]:
        proc = setup(root, "--force", "--format-data", str(image), *args)
        assert proc.returncode != 0
        assert "NOT formatted" in proc.stderr and "label PHOTOS" in proc.stderr
    assert image.read_bytes() == before
    assert not (root / "etc/asound.conf").exists()  # refused before any change


def test_setup_does_not_take_a_plain_file_for_a_device_on_the_live_system(tmp_path):
    image = tmp_path / "data.img"
    image.write_bytes(b"")
    os.truncate(image, 8 * 1024 * 1024)
    proc = run([str(SETUP), "--force", "--dry-run", "--format-data", str(image)])
    # Either it stops at the boot files (this is not Raspberry Pi OS) or at the device; it
    # never gets as far as formatting.
    assert proc.returncode != 0
    assert "would: format" not in proc.stdout
    assert image.read_bytes() == bytes(8 * 1024 * 1024)


# ---------------------------------------------------------------- check-board.sh


def test_check_board_reports_problems_on_a_machine_that_is_not_a_set_up_box():
    if is_raspberry_pi():
        pytest.skip("on a Raspberry Pi the result depends on how it is set up")
    proc = run([str(FIRMWARE / "check-board.sh")])
    assert proc.returncode == 1
    assert "PROBLEM  board: not a Raspberry Pi" in proc.stdout
    assert re.search(r"^\d+ problem\(s\)", proc.stdout, re.M)
