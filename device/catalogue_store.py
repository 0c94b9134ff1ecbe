"""The catalogue a box answers from, kept in TinyDB and replaced without ever being half-written.

Boxes lose power often. So a new catalogue is never written over the one in use: it is written
to a new TinyDB file beside it, flushed to disk, and only then named the current one by
atomically replacing a small pointer file (CURRENT). The pointer of the catalogue it replaces
is kept as PREVIOUS, for an explicit rollback, and as the fallback if the current file is ever
found damaged. A power cut at any moment leaves CURRENT naming one complete, checked file.

Folder layout (under <data_dir>/catalogue/):
    CURRENT, PREVIOUS     JSON: {"file", "sha256", "version", "scope", "installed_at"}
    v00000012-1a2b3c4d.json   one TinyDB file per installed version
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tinydb import TinyDB

from hoixa.contract import catalogue as cat
from hoixa.durable import fsync_dir, write_atomically

log = logging.getLogger(__name__)

META_KEYS = ("schema_version", "version", "scope", "issued_at", "title", "source")
CURRENT, PREVIOUS = "CURRENT", "PREVIOUS"


class StaleCatalogueError(ValueError):
    """A catalogue not newer than the one installed: refused unless a rollback is ordered."""


class StoreError(RuntimeError):
    """The store holds no usable catalogue (the shipped default should be used)."""


@dataclass(frozen=True)
class Pointer:
    file: str
    sha256: str
    version: int
    scope: str
    installed_at: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class CatalogueStore:
    """Install, load and roll back catalogues in one folder.

    `fault` is for tests: it is called with the name of each step of an install
    ("written", "previous_saved", "swapped"), so a test can cut the power right there.
    """

    def __init__(self, folder: Path, fault: Callable[[str], None] | None = None):
        self.folder = Path(folder)
        self._fault = fault or (lambda step: None)

    # -- pointers -------------------------------------------------------------------------

    def _read_pointer(self, name: str) -> Pointer | None:
        path = self.folder / name
        try:
            return Pointer(**json.loads(path.read_text("utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            log.error("catalogue pointer %s is damaged (%s); ignoring it", path, exc)
            return None

    def _write_pointer(self, name: str, pointer: Pointer) -> None:
        data = json.dumps(pointer.__dict__, ensure_ascii=False, indent=1).encode("utf-8")
        write_atomically(self.folder / name, data)

    def current(self) -> Pointer | None:
        return self._read_pointer(CURRENT)

    def previous(self) -> Pointer | None:
        return self._read_pointer(PREVIOUS)

    # -- install --------------------------------------------------------------------------

    def install(
        self, doc: cat.Catalogue, *, allow_older: bool = False, validated: bool = False
    ) -> Pointer:
        """Validate and install a catalogue; the one it replaces is kept for rollback.

        `validated=True` when the caller has just validated `doc` (an update unpacked by
        contract.packaging): schema validation is most of the cost of applying an update.
        Raises CatalogueError (invalid: nothing changes) or StaleCatalogueError (not newer).
        """
        if not validated:
            cat.validate(doc, "new catalogue")
        current = self.current()
        if current and not allow_older and doc["version"] <= current.version:
            raise StaleCatalogueError(
                f"catalogue version {doc['version']} is not newer than installed version "
                f"{current.version}"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        self._remove_leftovers()
        body = json.dumps(doc, ensure_ascii=False, sort_keys=True).encode("utf-8")
        name = f"v{doc['version']:08d}-{hashlib.sha256(body).hexdigest()[:8]}.json"
        final = self.folder / name
        tmp = final.with_name(name + ".tmp")
        self._write_tinydb(tmp, doc)
        os.replace(tmp, final)
        fsync_dir(self.folder)
        self._fault("written")
        if current and current.file != name:
            self._write_pointer(PREVIOUS, current)
        self._fault("previous_saved")
        pointer = Pointer(
            file=name,
            sha256=_sha256(final),
            version=doc["version"],
            scope=doc["scope"],
            installed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self._write_pointer(CURRENT, pointer)
        self._fault("swapped")
        self._remove_unreferenced()
        log.info("catalogue version %s (%s) installed", pointer.version, pointer.scope)
        return pointer

    @staticmethod
    def _write_tinydb(path: Path, doc: cat.Catalogue) -> None:
        path.unlink(missing_ok=True)
        db = TinyDB(path, ensure_ascii=False, encoding="utf-8")
        try:
            db.table("meta").insert({k: doc[k] for k in META_KEYS if k in doc})
            db.table("procedures").insert_multiple(doc["procedures"])
            db.table("referrals").insert_multiple(doc.get("referrals", []))
        finally:
            db.close()
        with open(path, "rb+") as fh:
            os.fsync(fh.fileno())

    # -- load -----------------------------------------------------------------------------

    def load(self) -> cat.Catalogue:
        """The installed catalogue; falls back to PREVIOUS if CURRENT is damaged.

        Raises StoreError when neither is usable (the caller then uses the shipped default).
        """
        for name in (CURRENT, PREVIOUS):
            pointer = self._read_pointer(name)
            if pointer is None:
                continue
            try:
                return self._load_file(pointer)
            except (OSError, ValueError) as exc:
                log.error("catalogue %s named by %s is unusable: %s", pointer.file, name, exc)
        raise StoreError(f"no usable catalogue in {self.folder}")

    def _load_file(self, pointer: Pointer) -> cat.Catalogue:
        path = self.folder / pointer.file
        if _sha256(path) != pointer.sha256:
            raise ValueError("checksum does not match: the file was damaged")
        db = TinyDB(path, access_mode="r", encoding="utf-8")
        try:
            meta = db.table("meta").all()
            procedures = [dict(p) for p in db.table("procedures").all()]
            referrals = [dict(r) for r in db.table("referrals").all()]
        finally:
            db.close()
        if len(meta) != 1:
            raise ValueError("catalogue metadata missing")
        doc = {**dict(meta[0]), "procedures": procedures}
        return {**doc, "referrals": referrals} if referrals else doc

    # -- rollback and housekeeping ---------------------------------------------------------

    def rollback(self) -> Pointer:
        """Make the previous catalogue current again (only on an explicit admin order)."""
        current, previous = self.current(), self.previous()
        if previous is None:
            raise StoreError("no previous catalogue to roll back to")
        self._load_file(previous)  # refuse to roll back onto a damaged file
        if current:
            self._write_pointer(PREVIOUS, current)
        self._write_pointer(CURRENT, previous)
        return previous

    def _remove_leftovers(self) -> None:
        for tmp in self.folder.glob("*.tmp"):
            tmp.unlink(missing_ok=True)

    def _remove_unreferenced(self) -> None:
        keep = {p.file for p in (self.current(), self.previous()) if p}
        for path in self.folder.glob("v*.json"):
            if path.name not in keep:
                path.unlink(missing_ok=True)


def open_catalogue(data_dir: Path) -> tuple[cat.Catalogue, str]:
    """The catalogue a box should answer from, and where it came from ('store' or 'default')."""
    try:
        return CatalogueStore(data_dir / "catalogue").load(), "store"
    except StoreError:
        return cat.load_default(), "default"
