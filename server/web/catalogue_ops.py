"""Catalogue work the console does: drafts with a new alias, publication, who applied it.

Versions are one sequence across scopes (boxes refuse anything not above what they have),
so a new draft always takes the highest stored version + 1, whatever its scope. A version
not yet published is a draft.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hoixa.contract import catalogue as cat
from hoixa.server.db import Ack, CatalogueVersion, Device, store_catalogue_version, utc_now

Publisher = Callable[[dict[str, Any]], dict[str, Any]]  # catalogue → signed manifest


def next_version(session: Session) -> int:
    return int(session.scalar(select(func.max(CatalogueVersion.version))) or 0) + 1


def latest_for(session: Session, scopes: list[str]) -> CatalogueVersion | None:
    """The newest stored version among these scopes (drafts included)."""
    return session.scalar(
        select(CatalogueVersion)
        .where(CatalogueVersion.scope.in_(scopes))
        .order_by(CatalogueVersion.version.desc())
        .limit(1)
    )


def keep_referrals(session: Session, doc: dict[str, Any], scope: str) -> None:
    """Give `doc` the referrals of the newest version for `scope` (or for all).

    A spreadsheet lists procedures only; importing one must not drop the matters the
    boxes send elsewhere (a passport, a divorce), or villagers would hear the nearest
    procedure instead.
    """
    latest = latest_for(session, [scope, "all"])
    referrals = latest.content.get("referrals") if latest else None
    if referrals:
        doc["referrals"] = copy.deepcopy(referrals)


def _issued_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_version_from(
    session: Session,
    base: dict[str, Any],
    scope: str,
    created_by: str,
    change: Callable[[dict[str, Any]], None] | None = None,
) -> CatalogueVersion:
    """Store a copy of `base` as the next version for `scope`, changed by `change`;
    raises CatalogueError (nothing stored) when the result is not a valid catalogue."""
    content = copy.deepcopy(base)
    if change is not None:
        change(content)
    content.update(scope=scope, version=next_version(session), issued_at=_issued_now())
    cat.validate(content, source=f"{scope} v{content['version']}")
    return store_catalogue_version(session, content, created_by=created_by)


def add_alias(
    session: Session, base: CatalogueVersion, scope: str, code: str, alias: str, created_by: str
) -> CatalogueVersion:
    alias = " ".join(alias.split())
    if not alias:
        raise ValueError("Câu hỏi trống.")
    codes = [p["code"] for p in base.content.get("procedures", [])]
    if code not in codes:
        raise ValueError("Thủ tục không có trong danh mục.")

    def change(content: dict[str, Any]) -> None:
        for proc in content["procedures"]:
            if proc["code"] == code:
                aliases = proc.setdefault("aliases", [])
                if alias.casefold() in (a.casefold() for a in aliases):
                    raise ValueError("Câu này đã là cách gọi khác của thủ tục.")
                aliases.append(alias)

    return new_version_from(session, base.content, scope, created_by, change)


def boxes_in_scope(session: Session, scope: str) -> list[Device]:
    where = [Device.retired_at.is_(None)]
    if scope.startswith("province/"):
        where.append(Device.province == scope.split("/", 1)[1])
    elif scope.startswith("commune/"):
        where.append(Device.commune == scope.split("/", 1)[1])
    return list(session.scalars(select(Device).where(*where).order_by(Device.device_id)))


@dataclass(frozen=True)
class BoxAck:
    device_id: str
    province: str
    commune: str
    state: str  # applied | rejected | pending
    reason: str | None
    at: datetime | None


def ack_states(session: Session, scope: str, version: int, boxes: list[Device]) -> list[BoxAck]:
    """Each box's latest answer (by its own clock) to this (scope, version)."""
    latest: dict[str, Ack] = {}
    for ack in session.scalars(
        select(Ack).where(Ack.scope == scope, Ack.version == version).order_by(Ack.at)
    ):
        latest[ack.device_id] = ack
    out = []
    for box in boxes:
        ack = latest.get(box.device_id)
        state = ack.result if ack is not None else "pending"
        out.append(
            BoxAck(
                box.device_id,
                box.province,
                box.commune,
                state,
                ack.reason if ack else None,
                ack.at if ack else None,
            )
        )
    return out


def mark_published(row: CatalogueVersion, manifest: dict[str, Any]) -> None:
    row.manifest, row.published_at = manifest, utc_now()


def broker_publisher(
    host: str,
    port: int,
    private_key_path: str,
    *,
    username: str | None = None,
    password: str | None = None,
    ca_file: str | None = None,
    timeout: float = 60.0,
) -> Publisher:
    """Publish over a short-lived MQTT v5 connection, signed with the central key."""

    def publish(content: dict[str, Any]) -> dict[str, Any]:
        import paho.mqtt.client as mqtt

        from hoixa.contract import signing
        from hoixa.server.catalogue_publisher import PublishError, publish_catalogue

        key = signing.load_private_key(Path(private_key_path))
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"hoixa-console-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        if username:
            client.username_pw_set(username, password)
        if ca_file:
            client.tls_set(ca_certs=ca_file)
        connected = threading.Event()
        client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
        client.connect(host, port, keepalive=30)
        client.loop_start()
        try:
            if not connected.wait(10):
                raise PublishError(f"không kết nối được máy chủ MQTT {host}:{port}")
            return publish_catalogue(client, content, key, timeout=timeout)
        finally:
            client.disconnect()
            client.loop_stop()

    return publish


# -- comparing two versions ----------------------------------------------------------------


@dataclass(frozen=True)
class ProcedureChange:
    code: str
    name: str
    fields: list[str]  # top-level fields that differ
    aliases_added: list[str]
    aliases_removed: list[str]


@dataclass
class CatalogueDiff:
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[ProcedureChange]


def diff(old: dict[str, Any], new: dict[str, Any]) -> CatalogueDiff:
    """What an editor needs to check before publishing: procedures added, removed, changed
    (which fields; aliases one by one)."""
    before = {p["code"]: p for p in old.get("procedures", [])}
    after = {p["code"]: p for p in new.get("procedures", [])}
    changed = []
    for code in sorted(before.keys() & after.keys()):
        a, b = before[code], after[code]
        fields = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        if fields:
            old_aliases, new_aliases = a.get("aliases", []), b.get("aliases", [])
            changed.append(
                ProcedureChange(
                    code,
                    b["name"],
                    fields,
                    [x for x in new_aliases if x not in old_aliases],
                    [x for x in old_aliases if x not in new_aliases],
                )
            )
    return CatalogueDiff(
        [after[c] for c in sorted(after.keys() - before.keys())],
        [before[c] for c in sorted(before.keys() - after.keys())],
        changed,
    )


# -- importing a catalogue file ------------------------------------------------------------


def import_problems(data: bytes, filename: str) -> tuple[dict[str, Any] | None, list[str]]:
    """Parse an uploaded catalogue (JSON, or a spreadsheet: server/web/table_import.py):
    (document, []) when it is valid, else (None, problems), each saying where (line and
    column for bad JSON; procedure and field; row and column in a spreadsheet). Nothing is
    stored here. A spreadsheet's catalogue has scope "all" until the caller sets it."""
    name = filename.lower()
    if name.endswith((".xlsx", ".csv")):
        from hoixa.server.web import table_import

        try:
            rows = table_import.read_rows(data, filename)
        except ValueError as exc:
            return None, [str(exc)]
        doc, problems = table_import.table_catalogue(rows, "all", 1, _issued_now())
        return doc, [str(p) for p in problems]
    if not name.endswith(".json"):
        return None, ["Chỉ nhận tệp .json, .xlsx hoặc .csv."]
    try:
        doc = cat.parse(data, source=filename)
    except cat.CatalogueError as exc:
        return None, [str(p) for p in exc.problems]
    return doc, []
