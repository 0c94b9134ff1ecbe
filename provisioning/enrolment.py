"""Enrol, replace and retire boxes on the central server: the broker's accounts, the
server's list of boxes, and the bundle a box is configured from.

Order of the steps, chosen so an interruption never leaves a box half-enrolled in a way that
loses data: the broker account first (a box that can log in but is not in the database is
shown by the console as "heard from, not enrolled" for an admin to confirm), then the
database, then the bundle (if the bundle is lost, `replace` issues new credentials).

Device ids are `hx-<province>-<commune>-<nn>`: readable on a label, unique, and never reused
(a retired box's number stays taken, so its history is never mixed with a new box's).
"""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hoixa.provisioning.admin_units import AdminUnits, official_units
from hoixa.provisioning.bundle import (
    BoxIdentity,
    BrokerInfo,
    LocalSettings,
    write_bundle,
)
from hoixa.server import broker_auth
from hoixa.server.config import ServerConfig

DEVICE_ID_RE = re.compile(r"^hx-(\d{2})-(\d{5})-(\d{2,})$")


class EnrolmentError(ValueError):
    """What the operator asked cannot be done; nothing was changed."""


@dataclass(frozen=True)
class BoxRecord:
    device_id: str
    province: str
    commune: str
    name: str | None
    enrolled_at: datetime | None
    retired_at: datetime | None
    last_seen_at: datetime | None
    can_log_in: bool


class FleetRegistry:
    """The server-side half of provisioning, configured by server.toml."""

    def __init__(self, config: ServerConfig, units: AdminUnits | None = None) -> None:
        self.config = config
        self.units = units or official_units()
        self.broker_files = broker_auth.BrokerFiles(
            Path(config.broker.accounts_password_file),
            Path(config.broker.accounts_acl_file),
            config.broker.username,
        )
        self._database_ready = False

    # -- operations ------------------------------------------------------------------------

    def enrol(self, commune: str, out_dir: Path, local: LocalSettings) -> tuple[BoxIdentity, Path]:
        unit = self.units.commune(commune)
        self._check_publicly_reachable()
        device_id = self._next_device_id(unit.province_code, unit.code)
        box = BoxIdentity(
            device_id,
            broker_auth.new_password(),
            unit.province_code,
            unit.code,
            unit.name,
        )
        self.broker_files.enrol(
            broker_auth.DeviceAccount(box.device_id, box.province, box.commune, box.password)
        )
        self.reload_broker()
        self._record(box, unit.label)
        return box, write_bundle(out_dir, box, self._broker_info(), local)

    def replace(
        self, device_id: str, out_dir: Path, local: LocalSettings
    ) -> tuple[BoxIdentity, Path]:
        """New hardware for the same commune: same id (its history continues), new password;
        the old box's password stops working at the broker's reload."""
        place = self.broker_files.enrolled().get(device_id)
        if place is None:
            raise EnrolmentError(f"{device_id} is not enrolled (retired or never enrolled)")
        unit = self.units.commune(place.commune, place.province)
        box = BoxIdentity(
            device_id, broker_auth.new_password(), place.province, place.commune, unit.name
        )
        self.broker_files.replace(
            device_id,
            broker_auth.DeviceAccount(device_id, box.province, box.commune, box.password),
        )
        self.reload_broker()
        self._record(box, unit.label)
        return box, write_bundle(out_dir, box, self._broker_info(), local)

    def retire(self, device_id: str) -> bool:
        """The box is gone: it can no longer log in, and it leaves the presence counts. Its
        history stays. False if it had no account (already retired)."""
        from hoixa.server import db

        revoked = self.broker_files.revoke(device_id)
        if revoked:
            self.reload_broker()
        with self._session() as session:
            device = session.get(db.Device, device_id)
            if device is None and not revoked:
                raise EnrolmentError(f"{device_id} is not known to this server")
            if device is not None and device.retired_at is None:
                device.retired_at = db.utc_now()
                device.online = False
        return revoked

    def boxes(self, province: str | None = None) -> list[BoxRecord]:
        from sqlalchemy import select

        from hoixa.server import db

        enrolled = self.broker_files.enrolled()
        with self._session() as session:
            rows = {d.device_id: d for d in session.scalars(select(db.Device))}
        records = []
        for device_id in sorted(set(rows) | set(enrolled)):
            row, place = rows.get(device_id), enrolled.get(device_id)
            records.append(
                BoxRecord(
                    device_id,
                    row.province if row else place.province,  # type: ignore[union-attr]
                    row.commune if row else place.commune,  # type: ignore[union-attr]
                    row.display_name if row else None,
                    row.enrolled_at if row else None,
                    row.retired_at if row else None,
                    row.last_seen_at if row else None,
                    device_id in enrolled,
                )
            )
        return [r for r in records if province is None or r.province == province]

    def reload_broker(self) -> None:
        """Make Mosquitto re-read the account files (SIGHUP); configured in server.toml."""
        how = self.config.broker.reload.strip()
        if how == "none":
            return
        if how.startswith("pid:"):
            pid_text = Path(how[4:]).read_text().strip()
            broker_auth.reload(int(pid_text))
            return
        result = subprocess.run(shlex.split(how), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise EnrolmentError(
                f"the accounts were written but `{how}` failed ({result.stderr.strip()}): "
                "reload Mosquitto by hand (systemctl reload mosquitto)"
            )

    # -- internals -------------------------------------------------------------------------

    def _check_publicly_reachable(self) -> None:
        if not self.config.broker.public_host:
            raise EnrolmentError(
                f"{self.config.source}: [broker] public_host is empty: boxes would not know "
                "where to connect"
            )

    def _broker_info(self) -> BrokerInfo:
        b = self.config.broker
        ca = Path(b.box_ca_file) if b.box_ca_file else None
        return BrokerInfo(
            host=b.public_host,
            port=b.public_port,
            tls=ca is not None,
            ca_file=ca,
            public_key=Path(self.config.keys.public_key),
        )

    def _next_device_id(self, province: str, commune: str) -> str:
        taken = set(self.broker_files.enrolled())
        taken |= {r.device_id for r in self.boxes()}
        numbers = [
            int(m.group(3))
            for d in taken
            if (m := DEVICE_ID_RE.match(d)) and m.group(1, 2) == (province, commune)
        ]
        return f"hx-{province}-{commune}-{max(numbers, default=0) + 1:02d}"

    def _record(self, box: BoxIdentity, label: str) -> None:
        from hoixa.server import db

        with self._session() as session:
            db.enrol_device(session, box.device_id, box.province, box.commune, label)

    def _session(self):
        from hoixa.server import db

        url = self.config.database_url()
        if not self._database_ready:
            if url.startswith("sqlite:///"):
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            db.upgrade_database(url)
            self._database_ready = True
        engine = db.make_engine(url)
        return _DisposingSession(engine)


class _DisposingSession:
    """db.session_scope for one command, then the engine is closed (a CLI, not a server)."""

    def __init__(self, engine) -> None:
        self.engine = engine

    def __enter__(self):
        from hoixa.server import db

        self._scope = db.session_scope(self.engine)
        return self._scope.__enter__()

    def __exit__(self, *exc):
        try:
            return self._scope.__exit__(*exc)
        finally:
            self.engine.dispose()
