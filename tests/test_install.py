"""install.sh's --server and --device roles, for real, into a fresh prefix: a new virtual
environment with a non-editable install, the configuration folder, the service user, the
systemd units (checked by systemd-analyze against the installed program), the server's keys
and Mosquitto drop-in, a box configured from a bundle the installed server made. Each role run
twice: the second run changes nothing. (apt is exercised by `install.sh --dev` in CI; here the
packages are already there, so HOIXA_SKIP_APT=1.)"""

from __future__ import annotations

import grp
import os
import secrets
import shutil
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT
from hoixa.server.mosquitto import free_port

INSTALL = ROOT / "install.sh"


def fresh_checkout(dest: Path) -> Path:
    """A copy of the source as a technician unpacks it (no .venv, no .git), so the runs
    see one fixed tree even while someone edits the working copy."""
    ignore = shutil.ignore_patterns(
        ".venv", ".git", "__pycache__", "*.egg-info", "build", "results"
    )
    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)
    return dest / "install.sh"


def run_install(env: dict[str, str], *args: str, script: Path = INSTALL) -> str:
    proc = subprocess.run(
        ["bash", str(script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def changes(output: str) -> list[str]:
    """The lines that say install.sh changed something."""
    words = ("installed ", "installing ", "creating ", "adding ", "enabling ", "wrote ", "made ")
    return [line for line in output.splitlines() if any(w in line for w in words)]


@pytest.fixture(scope="module")
def service_user():
    """A throw-away system user when we are root (as in CI), else none ("-")."""
    if os.geteuid() != 0 or not shutil.which("useradd"):
        yield "-"
        return
    name = f"hxt{secrets.token_hex(3)}"
    yield name
    subprocess.run(["userdel", name], check=False, capture_output=True)
    subprocess.run(["groupdel", name], check=False, capture_output=True)


@pytest.fixture(scope="module")
def installed(tmp_path_factory, service_user):
    base = tmp_path_factory.mktemp("install")
    common = {
        **os.environ,
        "HOIXA_SKIP_APT": "1",
        "HOIXA_SYSTEMCTL": "0",
        "HOIXA_USER": service_user,
        "HOIXA_SYSTEMD_DIR": str(base / "systemd"),
    }
    common.pop("HOIXA_DATA_DIR", None)
    server_env = {
        **common,
        "HOIXA_PREFIX": str(base / "server-opt"),
        "HOIXA_ETC": str(base / "server-etc"),
        "HOIXA_MOSQUITTO_DIR": str(base / "mosquitto"),
        "HOIXA_SERVER_DATA": str(base / "server-data"),
        "HOIXA_LOCAL_PORT": str(free_port()),
        "HOIXA_PUBLIC_PORT": str(free_port()),
        "HOIXA_RELOAD": "none",
    }
    device_env = {
        **common,
        "HOIXA_PREFIX": str(base / "device-opt"),
        "HOIXA_ETC": str(base / "device-etc"),
        "HOIXA_DEVICE_DATA": str(base / "device-data"),
    }
    script = fresh_checkout(base / "src")
    server_first = run_install(server_env, "--server", "--public-host", "localhost", script=script)
    server_second = run_install(server_env, "--server", script=script)

    # The installed server's own command makes the bundle the box is installed with.
    hoixa = base / "server-opt" / "venv" / "bin" / "hoixa"
    usb = base / "usb"
    enrol = subprocess.run(
        [
            str(hoixa),
            "provision",
            "enrol",
            "--config",
            str(base / "server-etc" / "server.toml"),
            "--commune",
            "25549",
            "--out",
            str(usb),
            "--counter-phone",
            "0276 3822 111",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=base,
    )
    assert enrol.returncode == 0, enrol.stderr
    bundle = usb / "hx-80-25549-01"
    device_first = run_install(device_env, "--device", "--bundle", str(bundle), script=script)
    device_second = run_install(device_env, "--device", script=script)
    return {
        "base": base,
        "server": (server_first, server_second),
        "device": (device_first, device_second),
    }


def test_second_runs_change_nothing(installed):
    server_first, server_second = installed["server"]
    device_first, device_second = installed["device"]
    assert changes(server_first) and changes(device_first)
    assert changes(server_second) == [], server_second
    assert changes(device_second) == [], device_second
    assert "is up to date" in server_second and "is up to date" in device_second


def test_the_box_is_configured_from_the_bundle_and_readable_only_by_its_service(
    installed, service_user
):
    base = installed["base"]
    config_path = base / "device-etc" / "device.toml"
    config = tomllib.loads(config_path.read_text())
    assert config["fleet"]["device_id"] == "hx-80-25549-01"
    assert config["fleet"]["ca_file"] == str(base / "device-etc" / "ca.crt")
    assert config["counter"]["phone"] == "0276 3822 111"
    assert (base / "device-etc" / "catalogue-public.pem").read_bytes() == (
        base / "server-etc" / "keys" / "catalogue-public.pem"
    ).read_bytes()
    mode = stat.S_IMODE(config_path.stat().st_mode)
    assert mode & 0o007 == 0, oct(mode)  # it holds the broker password
    if service_user != "-":
        assert grp.getgrgid(config_path.stat().st_gid).gr_name == service_user
        groups = subprocess.run(["id", "-nG", service_user], capture_output=True, text=True)
        assert "audio" in groups.stdout.split()
    # The installed program reads it (and refuses nothing in it).
    hoixa = base / "device-opt" / "venv" / "bin" / "hoixa"
    status = subprocess.run(
        [str(hoixa), "catalogue", "status"],
        env={**os.environ, "HOIXA_DATA_DIR": str(base / "device-data")},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=base,
    )
    assert status.returncode == 0, status.stderr


def test_the_server_has_its_keys_accounts_and_broker_drop_in(installed):
    base = installed["base"]
    server_toml = tomllib.loads((base / "server-etc" / "server.toml").read_text())
    assert server_toml["broker"]["public_host"] == "localhost"
    signing_key = base / "server-etc" / "keys" / "catalogue-signing.pem"
    assert stat.S_IMODE(signing_key.stat().st_mode) & 0o007 == 0
    dropin = (base / "mosquitto" / "conf.d" / "hoixa.conf").read_text()
    assert f"password_file {base / 'mosquitto' / 'hoixa' / 'passwd'}" in dropin
    acl = (base / "mosquitto" / "hoixa" / "acl").read_text()
    assert "user hx-80-25549-01" in acl and "user hoixa-server" in acl


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_installed_units_point_at_the_installed_program_and_verify(installed):
    base = installed["base"]
    units = sorted((base / "systemd").glob("*.service"))
    assert {u.name for u in units} == {
        "hoixa-device.service",
        "hoixa-server.service",
        "hoixa-ingest@.service",
    }
    device_unit = (base / "systemd" / "hoixa-device.service").read_text()
    assert f"ExecStart={base / 'device-opt' / 'venv' / 'bin' / 'hoixa'} device run" in device_unit
    assert f"--config {base / 'device-etc' / 'device.toml'}" in device_unit
    for unit in units:
        if "@" in unit.name:
            continue  # a template; its instance needs the environment file of a real server
        proc = subprocess.run(
            ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
        )
        problems = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
        assert problems == [], problems


def test_the_example_configuration_names_every_setting_and_loads(monkeypatch):
    from dataclasses import fields

    monkeypatch.delenv("HOIXA_DATA_DIR", raising=False)
    from hoixa.device.config import DeviceConfig, load_config

    example = ROOT / "device" / "device.toml.example"
    config = load_config(example)
    assert config == DeviceConfig(data_dir=Path("/var/lib/hoixa"))  # the defaults, written out
    text = tomllib.loads(example.read_text())
    for section in fields(DeviceConfig):
        value = getattr(config, section.name)
        if hasattr(value, "__dataclass_fields__"):
            assert set(text[section.name]) == {f.name for f in fields(value)}, section.name


def test_unknown_options_and_two_roles_are_refused():
    for args in (["--box"], ["--dev", "--server"], []):
        proc = subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True)
        assert proc.returncode == 2 or "one role at a time" in proc.stderr, args
        assert proc.returncode != 0
