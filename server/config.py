"""The central server's settings: one TOML file (/etc/hoixa/server.toml) read by
`hoixa server run`, the ingestion worker's unit and every `hoixa provision` command, so the
broker files, the keys and the address boxes are given are written down once.

`hoixa server init` writes it; every key has a default matching the layout `install.sh
--server` creates, so a file with only `[broker] public_host = "…"` is enough.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_SERVER_CONFIG = Path("/etc/hoixa/server.toml")


class ServerConfigError(ValueError):
    """The file cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class ServerSection:
    """[server] The console and the database."""

    data_dir: str = "/var/lib/hoixa-server"
    database: str = ""  # empty: SQLite file in data_dir; postgresql+psycopg://… for PostgreSQL
    listen: str = "127.0.0.1:8080"  # put a TLS reverse proxy in front for remote admins
    # true: `hoixa server run` also stores what the boxes send (a province server). false on a
    # national server where hoixa-ingest@1, @2… do it (else every message is handled twice).
    ingest: bool = True


@dataclass(frozen=True)
class BrokerSection:
    """[broker] Mosquitto: how the server reaches it, what boxes are told, its account files."""

    host: str = "127.0.0.1"  # the server's own connection (the local listener)
    port: int = 1883
    username: str = "hoixa-server"
    password_file: str = "/etc/hoixa/broker-password"
    ca_file: str = ""  # TLS for the server's own connection; "" = plain on localhost
    public_host: str = ""  # the name boxes connect to, e.g. "mqtt.hoixa.tinh.gov.vn"
    public_port: int = 8883
    box_ca_file: str = "/etc/hoixa/tls/ca.crt"  # copied into every box's enrolment bundle
    accounts_password_file: str = "/etc/mosquitto/hoixa/passwd"
    accounts_acl_file: str = "/etc/mosquitto/hoixa/acl"
    dropin_file: str = "/etc/mosquitto/conf.d/hoixa.conf"  # listeners and limits (server init)
    # How Mosquitto re-reads the two files: a command, "pid:/path/to/pidfile", or "none".
    reload: str = "systemctl reload mosquitto"


@dataclass(frozen=True)
class KeysSection:
    """[keys] The central catalogue signing key (private: server only) and its public half."""

    signing_key: str = "/etc/hoixa/keys/catalogue-signing.pem"
    public_key: str = "/etc/hoixa/keys/catalogue-public.pem"


@dataclass(frozen=True)
class ServerConfig:
    server: ServerSection = field(default_factory=ServerSection)
    broker: BrokerSection = field(default_factory=BrokerSection)
    keys: KeysSection = field(default_factory=KeysSection)
    source: Path | None = None

    @property
    def data_dir(self) -> Path:
        return Path(self.server.data_dir)

    def database_url(self) -> str:
        return self.server.database or f"sqlite:///{self.data_dir / 'hoixa.db'}"

    def broker_password(self) -> str:
        try:
            return Path(self.broker.password_file).read_text("utf-8").strip()
        except OSError as exc:
            raise ServerConfigError(
                f"{self.broker.password_file}: cannot read the server's broker password "
                f"({exc.strerror}); run `hoixa server init`"
            ) from exc


_SECTIONS: dict[str, type] = {
    "server": ServerSection,
    "broker": BrokerSection,
    "keys": KeysSection,
}


def load_server_config(path: str | Path | None = None) -> ServerConfig:
    source = Path(path) if path else DEFAULT_SERVER_CONFIG
    try:
        with open(source, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ServerConfigError(
            f"{source}: cannot be read ({exc.strerror}); run `hoixa server init` first"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ServerConfigError(f"{source}: not valid TOML ({exc})") from exc
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise ServerConfigError(f"{source}: unknown section(s) {', '.join(unknown)}")
    values: dict[str, Any] = {
        name: _section(source, name, cls, data[name])
        for name, cls in _SECTIONS.items()
        if name in data
    }
    return ServerConfig(**values, source=source)


def _section(source: Path, name: str, cls: type, table: Any) -> Any:
    if not isinstance(table, dict):
        raise ServerConfigError(f"{source}: [{name}] must be a table")
    types = {f.name: type(f.default) for f in fields(cls)}
    unknown = sorted(set(table) - set(types))
    if unknown:
        raise ServerConfigError(
            f"{source}: unknown key(s) {', '.join(f'{name}.{k}' for k in unknown)}"
        )
    for key, value in table.items():
        if not isinstance(value, types[key]) or isinstance(value, bool) != (types[key] is bool):
            raise ServerConfigError(
                f"{source}: {name}.{key} must be {types[key].__name__}, not {value!r}"
            )
    return replace(cls(), **table)


def server_config_text(config: ServerConfig) -> str:
    """The file `hoixa server init` writes: every key, with the comments above."""
    import tomli_w

    doc = {
        name: {f.name: getattr(getattr(config, name), f.name) for f in fields(cls)}
        for name, cls in _SECTIONS.items()
    }
    header = (
        "# Hỏi Xã central server. Read by `hoixa server run`, the ingestion worker and\n"
        "# `hoixa provision`. Written by `hoixa server init`; edit, then restart hoixa-server.\n"
        "# Keys and their meaning: server/config.py in the source.\n\n"
    )
    return header + tomli_w.dumps(doc)
