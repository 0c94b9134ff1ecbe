"""The box's own settings: where it stands and who to send people to.

The catalogue says how a procedure works everywhere; this file says what is local: the
commune's name, its one-stop counter (bộ phận một cửa) and phone number, and where the box
keeps its data. It is TOML, written at enrolment (/etc/hoixa/device.toml on a real box).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

DEFAULT_CONFIG_PATH = Path("/etc/hoixa/device.toml")


class ConfigError(ValueError):
    """The configuration file cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class CounterInfo:
    """The one-stop counter people are referred to when the box cannot help."""

    name: str = "bộ phận một cửa của Ủy ban nhân dân xã"
    location: str = "tại trụ sở Ủy ban nhân dân xã"
    phone: str = ""
    hours: str = "giờ hành chính, từ thứ Hai đến thứ Sáu"


@dataclass(frozen=True)
class DeviceConfig:
    commune_name: str = "xã"
    counter: CounterInfo = CounterInfo()
    data_dir: Path = Path("/var/lib/hoixa")
    ask_satisfaction: bool = True


def _section(table: dict, cls: type, source: Path, prefix: str) -> dict:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(prefix + k for k in unknown)}")
    for key, value in table.items():
        if not isinstance(value, str | bool):
            raise ConfigError(f"{source}: {prefix}{key} must be text, not {type(value).__name__}")
    return table


def load_config(path: str | Path | None = None) -> DeviceConfig:
    """Read the box's TOML configuration; no file at the default place means embedded defaults.

    HOIXA_DATA_DIR overrides the data folder (development machines and tests use it).
    """
    source = Path(path) if path else DEFAULT_CONFIG_PATH
    if path is None and not source.exists():
        config = DeviceConfig(data_dir=Path.home() / ".local/share/hoixa")
    else:
        config = _read(source)
    if env_dir := os.environ.get("HOIXA_DATA_DIR"):
        config = replace(config, data_dir=Path(env_dir))
    return config


def _read(source: Path) -> DeviceConfig:
    try:
        with open(source, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{source}: cannot be read ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from exc
    unknown = sorted(set(data) - {"device", "counter"})
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {', '.join(unknown)}")
    device = _section(data.get("device", {}), DeviceConfig, source, "device.")
    counter = _section(data.get("counter", {}), CounterInfo, source, "counter.")
    return DeviceConfig(
        commune_name=device.get("commune_name", DeviceConfig.commune_name),
        counter=CounterInfo(**counter),
        data_dir=Path(device.get("data_dir", DeviceConfig.data_dir)),
        ask_satisfaction=device.get("ask_satisfaction", True),
    )
