"""`hoixa server init`: everything a central server needs before its first start, made once.

Writes what is missing and never replaces what exists (a second run changes nothing):
the server configuration, the catalogue signing key pair, the server's broker password, the
broker's account files, a TLS certificate authority and the broker's certificate, and the
Mosquitto drop-in. Keys stay on the server; only the PUBLIC key and the CA certificate go
into box bundles.
"""

from __future__ import annotations

import contextlib
import grp
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from hoixa.contract import signing
from hoixa.durable import write_atomically
from hoixa.provisioning.mosquitto_conf import BrokerLayout, drop_in_text
from hoixa.server import broker_auth, tls
from hoixa.server.config import (
    BrokerSection,
    KeysSection,
    ServerConfig,
    ServerSection,
    load_server_config,
    server_config_text,
)

SERVICE_GROUP = "hoixa"  # the group the server's service runs as (install.sh creates it)
BROKER_GROUP = "mosquitto"  # Debian's broker must read its key and account files


@dataclass(frozen=True)
class InitOptions:
    public_host: str
    etc_dir: Path = Path("/etc/hoixa")
    mosquitto_dir: Path = Path("/etc/mosquitto")
    data_dir: Path = Path("/var/lib/hoixa-server")
    database: str = ""
    local_port: int = 1883
    public_port: int = 8883
    reload: str = "systemctl reload mosquitto"


@dataclass
class InitReport:
    config: ServerConfig
    done: list[str] = field(default_factory=list)  # what this run created, for the operator
    broker_config_changed: bool = False  # listeners changed: Mosquitto needs a restart


def default_config(options: InitOptions) -> ServerConfig:
    etc, mosq = options.etc_dir, options.mosquitto_dir
    return ServerConfig(
        server=ServerSection(data_dir=str(options.data_dir), database=options.database),
        broker=BrokerSection(
            port=options.local_port,
            password_file=str(etc / "broker-password"),
            public_host=options.public_host,
            public_port=options.public_port,
            box_ca_file=str(etc / "tls" / "ca.crt"),
            accounts_password_file=str(mosq / "hoixa" / "passwd"),
            accounts_acl_file=str(mosq / "hoixa" / "acl"),
            dropin_file=str(mosq / "conf.d" / "hoixa.conf"),
            reload=options.reload,
        ),
        keys=KeysSection(
            signing_key=str(etc / "keys" / "catalogue-signing.pem"),
            public_key=str(etc / "keys" / "catalogue-public.pem"),
        ),
    )


def init_server(config_path: Path, options: InitOptions) -> InitReport:
    if config_path.exists():
        config = load_server_config(config_path)
        report = InitReport(config)
    else:
        if not options.public_host:
            raise ValueError("--public-host is needed the first time (the name boxes connect to)")
        config = replace(default_config(options), source=config_path)
        write_atomically(config_path, server_config_text(config).encode("utf-8"))
        report = InitReport(config, [f"wrote {config_path}"])
    _ensure_signing_key(config, report)
    password = _ensure_broker_password(config, report)
    _ensure_accounts(config, password, report)
    tls_files = _ensure_tls(config, report)
    _ensure_drop_in(config, tls_files, report)
    Path(config.server.data_dir).mkdir(parents=True, exist_ok=True)
    return report


def _share(path: Path, group: str, mode: int) -> None:
    """Owner root (or us), readable by `group` when that group exists on this machine."""
    os.chmod(path, mode)
    if os.geteuid() == 0:
        with contextlib.suppress(KeyError):
            os.chown(path, 0, grp.getgrnam(group).gr_gid)


def _ensure_signing_key(config: ServerConfig, report: InitReport) -> None:
    private, public = Path(config.keys.signing_key), Path(config.keys.public_key)
    if private.exists():
        if not public.exists():
            key = signing.load_private_key(private)
            public.write_bytes(signing.public_pem(key.public_key()))
            report.done.append(f"wrote {public} from the existing signing key")
        return
    public_key = signing.generate_keypair(private, public)
    _share(private, SERVICE_GROUP, 0o640)
    report.done.append(
        f"made the catalogue signing key {private} (key id {signing.key_id(public_key)})"
    )


def _ensure_broker_password(config: ServerConfig, report: InitReport) -> str:
    path = Path(config.broker.password_file)
    if path.exists():
        return config.broker_password()
    password = broker_auth.new_password()
    write_atomically(path, (password + "\n").encode("utf-8"), mode=0o600)
    _share(path, SERVICE_GROUP, 0o640)
    report.done.append(f"made the server's broker password {path}")
    return password


def _ensure_accounts(config: ServerConfig, password: str, report: InitReport) -> None:
    files = broker_auth.BrokerFiles(
        Path(config.broker.accounts_password_file),
        Path(config.broker.accounts_acl_file),
        config.broker.username,
    )
    hashes = broker_auth.read_password_file(files.password_file)
    if config.broker.username not in hashes:
        files.write_all([], password)  # no box yet; enrolment adds them
        report.done.append(f"wrote {files.password_file} and {files.acl_file}")
    elif not broker_auth.check_password(password, hashes[config.broker.username]):
        raise ValueError(
            f"{files.password_file} holds another password for {config.broker.username} than "
            f"{config.broker.password_file}; remove one of them and run init again"
        )


def _ensure_tls(config: ServerConfig, report: InitReport) -> tls.CertFiles | None:
    if not config.broker.public_host:
        return None
    folder = Path(config.broker.box_ca_file).parent
    ca = tls.CertFiles(Path(config.broker.box_ca_file), folder / "ca.key")
    if not ca.cert.exists():
        ca = tls.make_ca(folder, "Hoi Xa fleet CA")
        report.done.append(f"made the fleet certificate authority {ca.cert}")
    server = tls.CertFiles(folder / "broker.crt", folder / "broker.key")
    if not server.cert.exists():
        server = tls.make_server_cert(folder, ca, [config.broker.public_host], stem="broker")
        _share(server.key, BROKER_GROUP, 0o640)
        report.done.append(f"made the broker's certificate for {config.broker.public_host}")
    return server


def _ensure_drop_in(config: ServerConfig, server: tls.CertFiles | None, report: InitReport) -> None:
    layout = BrokerLayout(
        password_file=Path(config.broker.accounts_password_file),
        acl_file=Path(config.broker.accounts_acl_file),
        public_port=config.broker.public_port,
        local_port=config.broker.port,
        cafile=Path(config.broker.box_ca_file) if server else None,
        certfile=server.cert if server else None,
        keyfile=server.key if server else None,
    )
    path = Path(config.broker.dropin_file)
    text = drop_in_text(layout)
    if path.exists() and path.read_text("utf-8") == text:
        return
    write_atomically(path, text.encode("utf-8"))
    os.chmod(path, 0o644)
    report.done.append(f"wrote {path}")
    report.broker_config_changed = True
