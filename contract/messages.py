"""Payloads on the wire: JSON, validated against versioned schemas on both sides.

A payload that fails validation is rejected whole with a reason that says which field is
wrong; nothing from it is ever half-applied. Schemas live in contract/schemas/ and are named
by the payload's own "schema" field ("hoixa.event/1" → schemas/event.v1.json).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

KINDS = {
    "hoixa.event/1": "event.v1.json",
    "hoixa.status/1": "status.v1.json",
    "hoixa.ack/1": "ack.v1.json",
    "hoixa.manifest/1": "manifest.v1.json",
}
MAX_PAYLOAD_BYTES = 1 << 20  # a single message larger than this is refused before parsing


class PayloadError(ValueError):
    """A payload that must be refused; `reason` is short enough for a log line or an ack."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@cache
def _validator(schema_id: str) -> jsonschema.protocols.Validator:
    path = resources.files("hoixa.contract").joinpath("schemas", KINDS[schema_id])
    text = path.read_text("utf-8")
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def validate(doc: Any, expected: str) -> dict[str, Any]:
    """The payload if it is a valid `expected` ("hoixa.event/1", …), else PayloadError."""
    if not isinstance(doc, dict):
        raise PayloadError("payload is not a JSON object")
    if doc.get("schema") != expected:
        raise PayloadError(f"schema is {doc.get('schema')!r}, expected {expected!r}")
    error = jsonschema.exceptions.best_match(_validator(expected).iter_errors(doc))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "payload"
        raise PayloadError(f"{where}: {error.message}"[:300])
    return doc


def decode(data: bytes, expected: str, *, max_bytes: int = MAX_PAYLOAD_BYTES) -> dict[str, Any]:
    """Parse and validate raw MQTT payload bytes."""
    if len(data) > max_bytes:
        raise PayloadError(f"payload of {len(data)} bytes is over the {max_bytes}-byte limit")
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PayloadError("payload is not UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise PayloadError(f"payload is not JSON ({exc.msg} at {exc.pos})") from exc
    return validate(doc, expected)


def encode(doc: dict[str, Any], expected: str) -> bytes:
    """Validate and serialise a payload (the sender checks too: a bug must not reach the wire)."""
    validate(doc, expected)
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def utc_now() -> str:
    """Timestamps on the wire: UTC, ISO 8601, 'Z', millisecond precision."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    return str(uuid.uuid4())
