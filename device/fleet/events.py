"""The usage report of one conversation (`hoixa.event/1`), built from its SessionRecord.

What leaves the box is decided here, under the box's privacy setting:
  "not_understood"  transcripts only of the questions the box did not understand (turns whose
                    action is "not_found", and the session's `not_understood` list): they are
                    what the catalogue editors need to add aliases; everything else is codes.
  "none"            no transcript at all.
Any other value is treated as "none" (a typo must not leak what villagers said).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from hoixa.contract import messages
from hoixa.device.dialogue import SessionRecord

log = logging.getLogger(__name__)

CATEGORIES = frozenset(
    ("steps", "documents", "processing_time", "fees", "submission", "result", "legal_basis")
)
TERMINATIONS = frozenset(("thanks", "referred", "emergency", "abandoned", "error"))
LATENCY_KEYS = ("asr_final", "match", "first_audio", "total")
PRIVACY_LEVELS = ("not_understood", "none")
NOT_UNDERSTOOD_ACTIONS = frozenset(("not_found", "not_understood"))  # the dialogue says not_found
MAX_TURNS, MAX_NOT_UNDERSTOOD, MAX_TEXT = 200, 50, 500


def utc_text(moment: datetime | str) -> str:
    """A timestamp in the wire format (UTC, milliseconds, 'Z')."""
    if isinstance(moment, str):
        return moment
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _unit(value: float | None) -> float | None:
    return None if value is None else round(min(max(float(value), 0.0), 1.0), 3)


def _latency(timing: dict[str, float] | None) -> dict[str, float] | None:
    if not timing:
        return None
    kept = {k: round(float(timing[k]), 1) for k in LATENCY_KEYS if timing.get(k) is not None}
    return {k: v for k, v in kept.items() if v >= 0} or None


def build_event(
    record: SessionRecord,
    *,
    device_id: str,
    started_at: datetime | str,
    ended_at: datetime | str,
    catalogue_version: int,
    software_version: str,
    privacy: str = "not_understood",
    session_id: str | None = None,
    timings: Sequence[dict[str, float] | None] | None = None,
    asr_confidences: Sequence[float | None] | None = None,
    audio_problems: Sequence[str | None] | None = None,
    satisfaction_by: str | None = None,
) -> dict[str, Any]:
    """A `hoixa.event/1` payload; per-turn lists are indexed like `record.turns`.

    Not validated here: `FleetLink.record_event` validates once, as it encodes.
    """
    if privacy not in PRIVACY_LEVELS:
        log.warning("unknown privacy setting %r: keeping no transcript", privacy)
        privacy = "none"
    turns = []
    for i, turn in enumerate(record.turns[:MAX_TURNS]):
        out: dict[str, Any] = {
            "action": turn.action[:40],
            "procedure": turn.procedure[:64] if turn.procedure else None,
            "category": turn.category if turn.category in CATEGORIES else None,
            "confidence": _unit(turn.confidence) or 0.0,
        }
        if privacy == "not_understood" and turn.action in NOT_UNDERSTOOD_ACTIONS:
            out["heard"] = turn.heard[:MAX_TEXT]
        # Per-turn lists, when given, override what the voice loop noted on the turn itself.
        asr = asr_confidences[i] if asr_confidences and i < len(asr_confidences) else None
        asr = asr if asr is not None else turn.asr_confidence
        if asr is not None:
            out["asr_confidence"] = _unit(asr)
        problem = audio_problems[i] if audio_problems and i < len(audio_problems) else None
        if problem := problem or turn.audio_problem:
            out["audio_problem"] = str(problem)[:40]
        timing = timings[i] if timings and i < len(timings) else None
        if latency := _latency(timing or turn.latency_ms):
            out["latency_ms"] = latency
        turns.append(out)
    event: dict[str, Any] = {
        "schema": "hoixa.event/1",
        "event_id": messages.new_id(),
        "device_id": device_id,
        "session_id": session_id or record.session_id,
        "started_at": utc_text(started_at),
        "ended_at": utc_text(ended_at),
        "software_version": software_version,
        "catalogue_version": catalogue_version,
        "turns": turns,
        "procedures": [code[:64] for code in record.procedures],
        "categories": [c for c in record.categories if c in CATEGORIES],
        "termination": record.termination if record.termination in TERMINATIONS else "abandoned",
        "satisfaction": record.satisfaction,
        "satisfaction_by": (satisfaction_by or record.satisfaction_by)
        if record.satisfaction
        else None,
    }
    if privacy == "not_understood" and record.not_understood:
        event["not_understood"] = [t[:MAX_TEXT] for t in record.not_understood[:MAX_NOT_UNDERSTOOD]]
    return event
