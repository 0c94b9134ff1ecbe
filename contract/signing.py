"""Ed25519 signatures on catalogue manifests: only the central key can change what boxes say.

The server signs the canonical JSON of a manifest (every field but "signature", keys sorted,
no spaces); a box verifies it with the public key it received at enrolment. The manifest
carries the SHA-256 of the content and of each chunk, so one valid signature covers all of it.
Keys are PEM files (PKCS#8 private, SubjectPublicKeyInfo public), made with `generate_keypair`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class SignatureError(ValueError):
    """The manifest was not signed by the key the box trusts."""


def canonical_bytes(manifest: dict[str, Any]) -> bytes:
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short fingerprint naming the key in each manifest (16 hex digits)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(manifest: dict[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """A copy of the manifest with key_id and signature filled in."""
    signed = dict(manifest, key_id=key_id(private_key.public_key()))
    signed.pop("signature", None)
    signature = private_key.sign(canonical_bytes(signed))
    signed["signature"] = base64.b64encode(signature).decode("ascii")
    return signed


def verify(manifest: dict[str, Any], public_key: Ed25519PublicKey) -> None:
    """Raise SignatureError unless the manifest was signed by `public_key`."""
    if manifest.get("key_id") != key_id(public_key):
        raise SignatureError(f"signed with key {manifest.get('key_id')!r}, not the trusted key")
    try:
        signature = base64.b64decode(manifest.get("signature", ""), validate=True)
        public_key.verify(signature, canonical_bytes(manifest))
    except (InvalidSignature, ValueError) as exc:
        raise SignatureError("signature does not match the manifest") from exc


def generate_keypair(private_path: Path, public_path: Path) -> Ed25519PublicKey:
    """Make the central signing key; the private file is readable by its owner only."""
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public_key = private_key.public_key()
    public_path.write_bytes(public_pem(public_key))
    return public_key


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(data: bytes | Path) -> Ed25519PublicKey:
    pem = Path(data).read_bytes() if isinstance(data, Path) else data
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError("not an Ed25519 public key")
    return key
