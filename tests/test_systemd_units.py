"""The service units are valid for this systemd, and say what the box relies on."""

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

UNITS = sorted((ROOT / "systemd").glob("*.service"))


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_verifies(tmp_path, unit):
    # The installed program does not exist on a development machine: point it at Python.
    text = unit.read_text()
    for program in ("/opt/hoixa/venv/bin/hoixa", "/opt/hoixa/venv/bin/python"):
        text = text.replace(program, sys.executable)
    copy = tmp_path / unit.name
    copy.write_text(text)
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    problems = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert problems == [], problems


def test_device_unit_has_watchdog_restart_and_an_unprivileged_user():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(ROOT / "systemd/hoixa-device.service")
    service = unit["Service"]
    assert service["Type"] == "notify" and int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "always"
    assert service["User"] == "hoixa" and "audio" in service["SupplementaryGroups"]
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"


def test_server_units_notify_and_are_restarted_when_they_hang():
    for name in ("hoixa-server.service", "hoixa-ingest@.service"):
        unit = configparser.ConfigParser(strict=False, interpolation=None)
        unit.read(ROOT / "systemd" / name)
        service = unit["Service"]
        assert service["Type"] == "notify" and int(service["WatchdogSec"]) > 0, name
        assert service["Restart"] == "always" and service["User"] == "hoixa", name
        assert service["ProtectSystem"] == "strict", name
        # both read the one settings file `hoixa server init` writes; nothing else to create
        assert "--config /etc/hoixa/server.toml" in service["ExecStart"], name
        assert "EnvironmentFile" not in service, name


def test_every_unit_is_tested():
    names = {"hoixa-device.service", "hoixa-server.service", "hoixa-ingest@.service"}
    assert {p.name for p in UNITS} >= names
    assert all(Path(p).read_text().startswith("#") for p in UNITS)  # each says what it is
