"""A catalogue as it travels to the boxes: compressed, cut into chunks, announced by a signed
manifest; and back again on the box, with every check done before anything is used.

The server calls `package`; a box calls `unpack` once it holds the manifest and every chunk.
`unpack` refuses, with a short reason code an admin can read in the box's ack, anything that
was not signed by the central key, does not match its hashes, is incomplete, or does not
decompress to a valid catalogue.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hoixa.contract import catalogue as cat
from hoixa.contract import messages, signing

CHUNK_BYTES = 128 * 1024  # small enough for slow 3G links and the broker's queues
MAX_CATALOGUE_BYTES = 64 << 20  # refuse to decompress anything larger (zip bombs)


class UpdateRejected(ValueError):
    """Why a box refuses a catalogue update: `code` for counting, `detail` for people."""

    def __init__(self, code: str, detail: str):
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def package(
    catalogue: cat.Catalogue,
    private_key: Ed25519PrivateKey,
    *,
    kind: str = "update",
    chunk_bytes: int = CHUNK_BYTES,
) -> tuple[dict[str, Any], list[bytes]]:
    """(signed manifest, chunks) for a valid catalogue, for the catalogue's own scope."""
    cat.validate(catalogue, "catalogue to publish")
    body = json.dumps(catalogue, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    compressed = gzip.compress(body, compresslevel=9, mtime=0)
    chunks = [compressed[i : i + chunk_bytes] for i in range(0, len(compressed), chunk_bytes)]
    manifest = {
        "schema": "hoixa.manifest/1",
        "kind": kind,
        "scope": catalogue["scope"],
        "version": catalogue["version"],
        "issued_at": messages.utc_now(),
        "size": len(body),
        "sha256": _sha256(body),
        "compression": "gzip",
        "chunks": [
            {"index": i, "size": len(chunk), "sha256": _sha256(chunk)}
            for i, chunk in enumerate(chunks)
        ],
        "key_id": "0" * 16,
        "signature": "",
    }
    signed = signing.sign(manifest, private_key)
    messages.validate(signed, "hoixa.manifest/1")
    return signed, chunks


def check_manifest(manifest: dict[str, Any], public_key: Ed25519PublicKey) -> None:
    """Shape and signature of a manifest, before fetching or trusting any chunk."""
    try:
        messages.validate(manifest, "hoixa.manifest/1")
    except messages.PayloadError as exc:
        raise UpdateRejected("invalid_manifest", exc.reason) from exc
    try:
        signing.verify(manifest, public_key)
    except signing.SignatureError as exc:
        raise UpdateRejected("bad_signature", str(exc)) from exc
    indexes = [c["index"] for c in manifest["chunks"]]
    if indexes != list(range(len(indexes))):
        raise UpdateRejected("invalid_manifest", "chunk indexes are not 0..n-1 in order")


def unpack(
    manifest: dict[str, Any], chunks: dict[int, bytes], public_key: Ed25519PublicKey
) -> cat.Catalogue:
    """The catalogue a verified manifest and its chunks carry; UpdateRejected otherwise."""
    check_manifest(manifest, public_key)
    parts = []
    for entry in manifest["chunks"]:
        data = chunks.get(entry["index"])
        if data is None:
            raise UpdateRejected("missing_chunk", f"chunk {entry['index']} has not arrived")
        if len(data) != entry["size"] or _sha256(data) != entry["sha256"]:
            raise UpdateRejected(
                "bad_chunk", f"chunk {entry['index']} is truncated or altered ({len(data)} bytes)"
            )
        parts.append(data)
    try:
        body = zlib.decompressobj(wbits=31).decompress(b"".join(parts), MAX_CATALOGUE_BYTES)
    except zlib.error as exc:
        raise UpdateRejected("bad_content", f"content does not decompress ({exc})") from exc
    if len(body) != manifest["size"] or _sha256(body) != manifest["sha256"]:
        raise UpdateRejected("bad_hash", "content does not match the manifest's SHA-256")
    try:
        catalogue = cat.parse(body, "catalogue update")
    except cat.CatalogueError as exc:
        raise UpdateRejected("bad_content", str(exc).splitlines()[0]) from exc
    if catalogue["version"] != manifest["version"] or catalogue["scope"] != manifest["scope"]:
        raise UpdateRejected("bad_content", "catalogue version or scope differs from the manifest")
    return catalogue
