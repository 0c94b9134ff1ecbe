"""Catalogue updates from the broker: collected, verified, and installed whole or not at all.

The server keeps, retained, one signed manifest and its chunks per scope (all, province/NN,
commune/NNNNN); a box follows the three scopes of its place, so whatever was published while
it was off reaches it the moment it reconnects. Chunk sets are kept in memory only: after a
restart the retained messages bring them again.

Rules (the reason code goes back to the server in a `hoixa.ack/1`):
  * signature, shape, hashes, content: `packaging.unpack` (bad_signature, invalid_manifest,
    bad_chunk, bad_hash, bad_content);
  * a manifest whose own scope is not the scope it was published on (or not one the box
    follows) → wrong_scope;
  * versions come from ONE sequence across all scopes (a commune catalogue is a full catalogue
    too), so the box simply answers from the newest valid catalogue among its scopes: an update
    not newer than the installed version → stale_version (no replay, no rollback by replay);
    one equal to the installed version and scope is "already applied" and acked once as such;
  * kind "rollback" may carry an older version, and is accepted only when validly signed and
    issued after the last applied manifest; updates issued before an applied rollback are
    stale from then on. The issue times live in a small state file beside the store;
  * a chunk whose hash does not match may just be an older retained one about to be replaced:
    the box waits `settle_s` before rejecting (bad_chunk), and `missing_s` before reporting a
    chunk that never came (missing_chunk); either is reported once, and the manifest is still
    applied if the right chunks come later.
The store installs atomically, so a power cut at any point leaves the previous catalogue.
A manifest too broken to name its version is refused without an ack (the ack schema needs the
version it answers); an empty retained chunk is a chunk the server deleted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hoixa.contract import catalogue as cat
from hoixa.contract import messages, packaging, topics
from hoixa.device.catalogue_store import CatalogueStore, StaleCatalogueError
from hoixa.durable import write_atomically

log = logging.getLogger(__name__)

ACK, MANIFEST = "hoixa.ack/1", "hoixa.manifest/1"
STATE_NAME = "catalogue-updates.json"
MAX_CHUNK_INDEX = 4096  # the manifest schema's limit; higher indexes are never needed
WAITING_CODES = ("bad_chunk", "missing_chunk")  # the right chunk may still arrive


def _issued(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class _Scope:
    """What has arrived for one scope so far (memory only)."""

    manifest: dict[str, Any] | None = None
    fingerprint: str = ""
    chunks: dict[int, bytes] = field(default_factory=dict)
    incomplete_since: float | None = None  # when its chunks were first seen incomplete
    due: float | None = None  # when to look again without a new message
    reported: str | None = None  # the waiting rejection already acked for this manifest


@dataclass
class UpdateState:
    """Persisted beside the store: what was applied last and which manifests were handled."""

    last_applied: dict[str, Any] | None = None  # scope, version, kind, issued_at, sha256
    rollback_issued_at: str | None = None
    handled: dict[str, str] = field(default_factory=dict)  # scope → manifest payload SHA-256

    @classmethod
    def load(cls, path: Path) -> UpdateState:
        try:
            data = json.loads(path.read_text("utf-8"))
            return cls(data.get("last_applied"), data.get("rollback_issued_at"), data["handled"])
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("update state %s is damaged (%s); starting afresh", path, exc)
            return cls()

    def save(self, path: Path) -> None:
        data = json.dumps(self.__dict__, indent=1, sort_keys=True).encode("utf-8")
        write_atomically(path, data)


class CatalogueUpdater:
    """Turns retained catalogue messages into installed catalogues and acks.

    `receive` is called from the MQTT thread and only queues; the work (hashing, validation,
    writing the store) runs in the updater's own thread so keepalives are never delayed.
    `process` does the same work synchronously (tests, tools).
    """

    def __init__(
        self,
        place: topics.DevicePlace,
        store: CatalogueStore,
        public_key: Ed25519PublicKey,
        *,
        on_applied: Callable[[cat.Catalogue], None] | None = None,
        send_ack: Callable[[dict[str, Any]], object] | None = None,
        state_path: Path | None = None,
        settle_s: float = 30.0,
        missing_s: float = 900.0,
    ):
        self.place = place
        self.store = store
        self.public_key = public_key
        self.on_applied = on_applied
        self.send_ack = send_ack
        self.state_path = state_path or store.folder.parent / STATE_NAME
        self.settle_s = settle_s
        self.missing_s = missing_s
        self.state = UpdateState.load(self.state_path)
        self._scopes = {scope: _Scope() for scope in place.scopes()}
        self._inbox: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def subscriptions(self) -> list[str]:
        return [topics.catalogue_filter(scope) for scope in self.place.scopes()]

    # -- threading ------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="catalogue-updates", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._inbox.put(None)
            self._thread.join(timeout)
            self._thread = None

    def receive(self, topic: str, payload: bytes) -> None:
        self._inbox.put((topic, bytes(payload)))

    def _run(self) -> None:
        while True:
            dues = [s.due for s in self._scopes.values() if s.due is not None]
            timeout = max(0.0, min(dues) - time.monotonic()) + 0.01 if dues else None
            try:
                item = self._inbox.get(timeout=timeout)
            except queue.Empty:
                item = ()
            if item is None:
                return
            try:
                if item:
                    self.process(*item)
                self.tick()
            except Exception:  # one bad message must not stop future updates
                log.exception("catalogue update handling failed")

    # -- messages -------------------------------------------------------------------------

    def process(self, topic: str, payload: bytes) -> None:
        try:
            scope, kind, index = topics.parse_catalogue_topic(topic)
        except topics.TopicError:
            log.warning("ignoring message on %s", topic)
            return
        entry = self._scopes.get(scope)
        if entry is None:
            log.warning(
                "ignoring catalogue message for scope %s that this box does not follow", scope
            )
            return
        if kind == "chunk":
            if index is None or index >= MAX_CHUNK_INDEX:
                return
            if payload:
                entry.chunks[index] = payload
                self._evaluate(scope)
            else:  # the server deleted a chunk an older, larger version needed
                entry.chunks.pop(index, None)
            return
        if not payload:  # the server cleared the retained manifest
            entry.manifest, entry.fingerprint = None, ""
            return
        fingerprint = hashlib.sha256(payload).hexdigest()
        if fingerprint in (entry.fingerprint, self.state.handled.get(scope)):
            return  # the same retained manifest again (reconnect, restart): already handled
        entry.fingerprint, entry.reported = fingerprint, None
        entry.incomplete_since = entry.due = None
        try:
            entry.manifest = messages.decode(payload, MANIFEST)
        except messages.PayloadError as exc:
            entry.manifest = None
            doc = _loose_json(payload)
            self._rejected(scope, doc, packaging.UpdateRejected("invalid_manifest", exc.reason))
            self._mark_handled(scope, fingerprint)
            return
        self._evaluate(scope)

    def tick(self) -> None:
        """Decide manifests whose chunks have stayed wrong or missing for too long."""
        now = time.monotonic()
        for scope, entry in self._scopes.items():
            if entry.due is not None and now >= entry.due:
                entry.due = None
                self._evaluate(scope)

    # -- decisions ------------------------------------------------------------------------

    def _evaluate(self, scope: str) -> None:
        entry = self._scopes[scope]
        manifest = entry.manifest
        if manifest is None:
            return
        try:
            packaging.check_manifest(manifest, self.public_key)
            if manifest["scope"] != scope or scope not in self.place.scopes():
                raise packaging.UpdateRejected(
                    "wrong_scope", f"manifest for {manifest['scope']} was published on {scope}"
                )
            if self._already_applied(manifest):
                self._settle(scope, manifest, None)
                return
            self._check_order(manifest)
        except packaging.UpdateRejected as exc:
            self._settle(scope, manifest, exc)
            return
        state, missing = _chunk_state(manifest, entry.chunks)
        if state != "complete":
            now = time.monotonic()
            if entry.incomplete_since is None:
                entry.incomplete_since = now
            limit = self.settle_s if state == "mismatch" else self.missing_s
            if now - entry.incomplete_since < limit:
                entry.due = entry.incomplete_since + limit
                return
            if state == "missing":
                detail = f"chunk(s) {missing[:10]} not received after {limit:.0f} s"
                self._settle(scope, manifest, packaging.UpdateRejected("missing_chunk", detail))
                return
        try:
            doc = packaging.unpack(manifest, entry.chunks, self.public_key)
            self._install(manifest, doc)
        except packaging.UpdateRejected as exc:
            self._settle(scope, manifest, exc)
            return
        self._settle(scope, manifest, None, installed=doc)

    def _installed(self) -> tuple[int, str | None]:
        pointer = self.store.current()
        if pointer is not None:
            return pointer.version, pointer.scope
        # Still on the shipped catalogue: its version is the package's own numbering, not a
        # place in the server's sequence (whose first catalogue is version 1), so any signed
        # update is newer than it.
        return 0, None

    def _already_applied(self, manifest: dict[str, Any]) -> bool:
        version, scope = self._installed()
        return scope is not None and (manifest["version"], manifest["scope"]) == (version, scope)

    def _check_order(self, manifest: dict[str, Any]) -> None:
        version, scope = self._installed()
        issued = _issued(manifest["issued_at"])
        if manifest["kind"] == "rollback":
            last = self.state.last_applied
            if last and issued <= _issued(last["issued_at"]):
                raise packaging.UpdateRejected(
                    "stale_rollback",
                    f"rollback ordered at {manifest['issued_at']}, not after the last applied "
                    f"catalogue (version {last['version']}, issued {last['issued_at']})",
                )
            return
        if manifest["version"] < version or (scope is not None and manifest["version"] == version):
            raise packaging.UpdateRejected(
                "stale_version",
                f"version {manifest['version']} is not newer than installed version {version}",
            )
        rollback_at = self.state.rollback_issued_at
        if rollback_at and issued <= _issued(rollback_at):
            raise packaging.UpdateRejected(
                "stale_version",
                f"issued at {manifest['issued_at']}, before the rollback ordered at {rollback_at}",
            )

    def _install(self, manifest: dict[str, Any], doc: cat.Catalogue) -> None:
        try:
            # unpack() validated the catalogue already
            self.store.install(doc, allow_older=manifest["kind"] == "rollback", validated=True)
        except StaleCatalogueError as exc:
            raise packaging.UpdateRejected("stale_version", str(exc)) from exc
        except cat.CatalogueError as exc:
            raise packaging.UpdateRejected("bad_content", str(exc).splitlines()[0]) from exc

    def _settle(
        self,
        scope: str,
        manifest: dict[str, Any],
        rejection: packaging.UpdateRejected | None,
        installed: cat.Catalogue | None = None,
    ) -> None:
        entry = self._scopes[scope]
        if rejection is not None and rejection.code in WAITING_CODES:
            entry.incomplete_since = entry.due = None
            if entry.reported != rejection.code:  # say it once; keep waiting for a good chunk
                entry.reported = rejection.code
                self._rejected(scope, manifest, rejection)
            return
        if rejection is not None:
            self._rejected(scope, manifest, rejection)
        else:
            self._remember_applied(manifest)
            if installed is not None:
                log.info("catalogue %s version %s applied", scope, manifest["version"])
                if self.on_applied is not None:
                    try:
                        self.on_applied(installed)
                    except Exception:
                        log.exception("on_applied callback failed")
            self._ack(scope, manifest, "applied", None)
        self._mark_handled(scope, entry.fingerprint)
        entry.manifest, entry.reported = None, None
        entry.incomplete_since = entry.due = None

    def _remember_applied(self, manifest: dict[str, Any]) -> None:
        self.state.last_applied = {
            k: manifest[k] for k in ("scope", "version", "kind", "issued_at", "sha256")
        }
        if manifest["kind"] == "rollback":
            self.state.rollback_issued_at = manifest["issued_at"]

    def _mark_handled(self, scope: str, fingerprint: str) -> None:
        self.state.handled[scope] = fingerprint
        self.state.save(self.state_path)

    def _rejected(
        self, scope: str, manifest: dict[str, Any], rejection: packaging.UpdateRejected
    ) -> None:
        log.error("catalogue update for %s refused: %s", scope, rejection)
        self._ack(scope, manifest, "rejected", f"{rejection.code}: {rejection.detail}")

    def _ack(self, scope: str, manifest: dict[str, Any], result: str, reason: str | None) -> None:
        version = manifest.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            # An ack names the version it answers; garbage without one is only logged.
            log.error("no ack for a manifest on %s without a valid version (%s)", scope, reason)
            return
        ack: dict[str, Any] = {
            "schema": ACK,
            "device_id": self.place.device_id,
            "at": messages.utc_now(),
            "scope": scope,
            "version": version,
            "result": result,
            "reason": reason[:500] if reason else None,
            "catalogue_version": self._installed()[0],
        }
        if manifest.get("kind") in ("update", "rollback"):
            ack["kind"] = manifest["kind"]
        messages.validate(ack, ACK)
        if self.send_ack is not None:
            self.send_ack(ack)


def _chunk_state(manifest: dict[str, Any], chunks: dict[int, bytes]) -> tuple[str, list[int]]:
    """('complete' | 'missing' | 'mismatch', the missing indexes)."""
    missing, mismatch = [], False
    for entry in manifest["chunks"]:
        data = chunks.get(entry["index"])
        if data is None:
            missing.append(entry["index"])
        elif len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            mismatch = True
    return ("missing" if missing else "mismatch" if mismatch else "complete"), missing


def _loose_json(payload: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}
