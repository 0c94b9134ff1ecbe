"""The box's own settings: where it stands, who to send people to, its hardware and voices.

The catalogue says how a procedure works everywhere; this file says what is local: the
commune's name, its one-stop counter (bộ phận một cửa) and phone number, the audio devices,
the GPIO pins, the recogniser and the voice. It is TOML, written at enrolment
(/etc/hoixa/device.toml on a real box); every key has a default, so a missing file or
section means "the embedded defaults".
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_CONFIG_PATH = Path("/etc/hoixa/device.toml")


class ConfigError(ValueError):
    """The configuration file cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class CounterInfo:
    """[counter] The one-stop counter people are referred to when the box cannot help."""

    name: str = "bộ phận một cửa của Ủy ban nhân dân xã"
    location: str = "tại trụ sở Ủy ban nhân dân xã"
    phone: str = ""
    hours: str = "giờ hành chính, từ thứ Hai đến thứ Sáu"


@dataclass(frozen=True)
class AsrConfig:
    """[asr] Speech recognition."""

    backend: str = (
        "auto"  # "auto" (Vosk if a model is configured, else viet-asr), "vosk", "viet-asr"
    )
    vosk_model: str = (
        ""  # folder of a Vosk model, e.g. /var/lib/hoixa/models/vosk-model-small-vn-0.4
    )
    restrict_to_catalogue: bool = True  # Vosk: recognise only the catalogue's phrases + [unk]


@dataclass(frozen=True)
class TtsConfig:
    """[tts] Speech synthesis. Rates are Piper length scales: larger is slower."""

    backend: str = (
        "auto"  # "auto" (Piper if a voice is configured, else espeak-ng), "piper", "espeak-ng"
    )
    piper_voice: str = ""  # a Piper .onnx voice; its .onnx.json must sit beside it
    espeak_voice: str = "vi"  # vi, vi-vn-x-central, vi-vn-x-south
    normal_rate: float = 1.15  # already a little slower than a newsreader, for older listeners
    slow_rate: float = 1.5  # after "chậm lại"
    cache_max_mb: int = 512  # answer cache on disk (data_dir/tts-cache): every answer, both speeds


@dataclass(frozen=True)
class AudioConfig:
    """[audio] Microphone and speaker (ALSA device name substrings or indexes; "" = default)."""

    input_device: str = ""
    output_device: str = ""
    max_question_seconds: float = 15.0
    min_question_seconds: float = 0.4
    silence_end_seconds: float = 1.2  # tap-to-talk: this much silence ends the question
    volume: float = 1.0


@dataclass(frozen=True)
class GpioConfig:
    """[gpio] BCM pin numbers of the big button and the lights."""

    talk_mode: str = "hold"  # "hold": speak while holding; "tap": press once, silence ends it
    button_pin: int = 17
    led_ready_pin: int = 5  # green: idle, ready
    led_listening_pin: int = 6  # blue: listening
    led_busy_pin: int = 13  # yellow: thinking or speaking
    led_error_pin: int = 19  # red: error (steady) or offline (blinking)


@dataclass(frozen=True)
class FleetConfig:
    """[fleet] The link to the central server (MQTT). Empty broker_host = no reporting."""

    device_id: str = ""  # e.g. "hx-79-26734-01", given at enrolment; also the MQTT username
    province: str = ""  # 2-digit province code
    commune: str = ""  # 5-digit commune code
    broker_host: str = ""
    broker_port: int = 8883
    username: str = ""  # defaults to device_id
    password: str = ""
    tls: bool = True
    ca_file: str = ""  # CA that signed the broker's certificate ("" = system CAs)
    client_cert: str = ""  # optional client certificate and key
    client_key: str = ""
    catalogue_public_key: str = ""  # PEM file of the central signing key (from enrolment)
    privacy: str = "not_understood"  # transcripts kept in reports: "not_understood" | "none"
    queue_max_events: int = 50000  # when full, the oldest events are dropped (and counted)
    heartbeat_seconds: int = 300
    keepalive_seconds: int = 60


@dataclass(frozen=True)
class DeviceConfig:
    commune_name: str = "xã"
    data_dir: Path = Path("/var/lib/hoixa")
    ask_satisfaction: bool = True
    counter: CounterInfo = field(default_factory=CounterInfo)
    asr: AsrConfig = field(default_factory=AsrConfig)
    tts: TtsConfig = field(default_factory=TtsConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    gpio: GpioConfig = field(default_factory=GpioConfig)
    fleet: FleetConfig = field(default_factory=FleetConfig)


_SECTIONS = {
    "counter": CounterInfo,
    "asr": AsrConfig,
    "tts": TtsConfig,
    "audio": AudioConfig,
    "gpio": GpioConfig,
    "fleet": FleetConfig,
}
_DEVICE_KEYS = {"commune_name": str, "data_dir": str, "ask_satisfaction": bool}


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


def _check_type(source: Path, name: str, value: Any, expected: type) -> Any:
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConfigError(f"{source}: {name} must be {expected.__name__}, not {value!r}")
    return value


def _section(source: Path, name: str, cls: type, table: Any) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    types = {f.name: type(f.default) for f in fields(cls)}
    unknown = sorted(set(table) - set(types))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(f'{name}.{k}' for k in unknown)}")
    return cls(**{k: _check_type(source, f"{name}.{k}", v, types[k]) for k, v in table.items()})


def _read(source: Path) -> DeviceConfig:
    try:
        with open(source, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{source}: cannot be read ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from exc
    unknown = sorted(set(data) - set(_SECTIONS) - {"device"})
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {', '.join(unknown)}")
    device = data.get("device", {})
    bad = sorted(set(device) - set(_DEVICE_KEYS))
    if bad:
        raise ConfigError(f"{source}: unknown key(s) {', '.join('device.' + k for k in bad)}")
    values: dict[str, Any] = {
        k: _check_type(source, f"device.{k}", v, _DEVICE_KEYS[k]) for k, v in device.items()
    }
    if "data_dir" in values:
        values["data_dir"] = Path(values["data_dir"])
    for name, cls in _SECTIONS.items():
        if name in data:
            values[name] = _section(source, name, cls, data[name])
    return DeviceConfig(**values)
