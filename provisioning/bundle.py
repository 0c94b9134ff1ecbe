"""The enrolment bundle: one folder per box, made on the server, carried to the box (USB stick
or scp) and applied there with `hoixa provision apply`.

    hx-79-26734-01/
        device.toml           the box's whole configuration, with its broker password
        ca.crt                the fleet CA, to check the broker's certificate
        catalogue-public.pem  the central key catalogue updates must be signed with
        DOC-TRUOC.txt         what to do with it, in Vietnamese

The folder holds a password: it is readable by its owner only; delete it after applying.
"""

from __future__ import annotations

import grp
import os
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from hoixa.device.config import ConfigError, load_config
from hoixa.durable import fsync_dir, write_atomically

CONFIG_NAME = "device.toml"
CA_NAME = "ca.crt"
PUBLIC_KEY_NAME = "catalogue-public.pem"
README_NAME = "DOC-TRUOC.txt"
SERVICE_GROUP = "hoixa"


class BundleError(ValueError):
    """A bundle that cannot be applied; the box's configuration is left as it was."""


@dataclass(frozen=True)
class BoxIdentity:
    device_id: str
    password: str
    province: str
    commune: str
    commune_name: str  # "Xã Tân Phú"

    def __repr__(self) -> str:
        return f"BoxIdentity({self.device_id!r}, {self.province!r}, {self.commune!r}, ***)"


@dataclass(frozen=True)
class BrokerInfo:
    host: str
    port: int = 8883
    tls: bool = True
    ca_file: Path | None = None  # copied into the bundle
    public_key: Path | None = None  # copied into the bundle (catalogue signatures)


@dataclass(frozen=True)
class LocalSettings:
    """What the commune decides: its counter, and hardware choices as `section.key` values."""

    counter_phone: str = ""
    counter_name: str = ""
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)


def device_toml(
    box: BoxIdentity, broker: BrokerInfo, local: LocalSettings, etc_dir: Path
) -> dict[str, Any]:
    """The box's configuration as a TOML document (paths as they will be on the box)."""
    doc: dict[str, Any] = {key: dict(table) for key, table in local.settings.items()}
    doc.setdefault("device", {})["commune_name"] = box.commune_name
    counter = doc.setdefault("counter", {})
    counter.setdefault("name", f"bộ phận một cửa {box.commune_name}")
    if local.counter_name:
        counter["name"] = local.counter_name
    if local.counter_phone:
        counter["phone"] = local.counter_phone
    doc["fleet"] = {
        **doc.get("fleet", {}),
        "device_id": box.device_id,
        "province": box.province,
        "commune": box.commune,
        "broker_host": broker.host,
        "broker_port": broker.port,
        "username": box.device_id,
        "password": box.password,
        "tls": broker.tls,
        "ca_file": str(etc_dir / CA_NAME) if broker.ca_file else "",
        "catalogue_public_key": str(etc_dir / PUBLIC_KEY_NAME) if broker.public_key else "",
    }
    return doc


README_TEXT = """\
HỎI XÃ — GÓI CẤU HÌNH CHO MÁY {device_id}
{commune_name} (mã xã {commune}, mã tỉnh {province})

Thư mục này chứa mật khẩu của máy. Chỉ dùng cho đúng máy này; xóa sau khi cài.

Cách cài trên máy Hỏi Xã (cắm USB, mở cửa sổ lệnh):
  1. sudo /opt/hoixa/venv/bin/hoixa provision apply /đường/dẫn/{device_id}
  2. sudo systemctl restart hoixa-device
  3. sudo -u hoixa /opt/hoixa/venv/bin/hoixa device selftest --config /etc/hoixa/device.toml
     Mỗi mục phải báo ĐẠT. Nếu có mục KHÔNG ĐẠT, làm theo hướng dẫn in ra bên cạnh.
"""


def write_bundle(
    out_dir: Path,
    box: BoxIdentity,
    broker: BrokerInfo,
    local: LocalSettings,
    etc_dir: Path = Path("/etc/hoixa"),
) -> Path:
    """Make the bundle folder `out_dir/<device id>` (complete or not at all); return it."""
    final = out_dir / box.device_id
    if final.exists():
        raise BundleError(f"{final} already exists: move it away first")
    building = out_dir / f".{box.device_id}.partial"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True, mode=0o700)
    try:
        doc = device_toml(box, broker, local, etc_dir)
        write_atomically(building / CONFIG_NAME, tomli_w.dumps(doc).encode("utf-8"), mode=0o600)
        if broker.ca_file:
            shutil.copyfile(broker.ca_file, building / CA_NAME)
        if broker.public_key:
            shutil.copyfile(broker.public_key, building / PUBLIC_KEY_NAME)
        readme = README_TEXT.format(**box.__dict__)
        (building / README_NAME).write_text(readme, encoding="utf-8")
        _check_config(building / CONFIG_NAME)
        os.replace(building, final)
        fsync_dir(out_dir)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return final


def _check_config(path: Path) -> None:
    try:
        load_config(path)
    except ConfigError as exc:
        raise BundleError(str(exc)) from exc


def apply_bundle(bundle: Path, etc_dir: Path = Path("/etc/hoixa")) -> list[Path]:
    """Install a bundle on this box. Every file is checked first, then written atomically,
    device.toml last (so a box never reads a configuration whose keys are not there yet);
    the previous device.toml is kept as device.toml.previous. Returns the files written."""
    source = bundle / CONFIG_NAME
    if not source.is_file():
        raise BundleError(f"{bundle}: no {CONFIG_NAME} here; is this an enrolment bundle?")
    try:
        doc = tomllib.loads(source.read_text("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BundleError(f"{source}: damaged ({exc})") from exc
    fleet = doc.get("fleet", {})
    if not fleet.get("device_id") or not fleet.get("password"):
        raise BundleError(f"{source}: no [fleet] device_id and password: not an enrolment bundle")
    extras = {}
    for name, key in ((CA_NAME, "ca_file"), (PUBLIC_KEY_NAME, "catalogue_public_key")):
        if fleet.get(key):
            if not (bundle / name).is_file():
                raise BundleError(f"{bundle}: {name} is missing (the bundle was copied partly)")
            extras[name] = (bundle / name).read_bytes()
            fleet[key] = str(etc_dir / name)  # where it will be on this box
    text = tomli_w.dumps(doc)
    check = etc_dir / f".{CONFIG_NAME}.check"
    write_atomically(check, text.encode("utf-8"), mode=0o600)
    try:
        _check_config(check)
    finally:
        check.unlink(missing_ok=True)
    written = []
    for name, data in extras.items():
        write_atomically(etc_dir / name, data, mode=0o644)
        written.append(etc_dir / name)
    target = etc_dir / CONFIG_NAME
    if target.exists():
        shutil.copy2(target, etc_dir / f"{CONFIG_NAME}.previous")
    write_atomically(target, text.encode("utf-8"), mode=0o600)
    _readable_by_service(target)
    written.append(target)
    return written


def _readable_by_service(path: Path) -> None:
    """root:hoixa 0640, so the unprivileged service reads its password and nobody else does."""
    if os.geteuid() != 0:
        return
    try:
        gid = grp.getgrnam(SERVICE_GROUP).gr_gid
    except KeyError:
        return
    os.chown(path, 0, gid)
    os.chmod(path, 0o640)
