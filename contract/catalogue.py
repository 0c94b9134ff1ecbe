"""The procedure catalogue as it travels between server and box: parse, validate, explain.

The JSON Schema (catalogue.schema.json beside this file) is the single source of truth for the
shape; this module adds the checks a schema cannot express (unique codes) and turns every
problem into a sentence that names the procedure and the field at fault, so whoever edited
the file can find the mistake without reading a stack trace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

Catalogue = dict[str, Any]
Procedure = dict[str, Any]
Referral = dict[str, Any]  # a matter the catalogue does not explain, and where to ask

SCHEMA_VERSION = 1
ANSWER_SECTIONS = (
    "steps",
    "documents",
    "processing_time",
    "fees",
    "submission",
    "result",
    "legal_basis",
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a catalogue, located precisely."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class CatalogueError(ValueError):
    """A catalogue that must not be used. Carries every problem found, not just the first."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        shown = "\n".join(f"  - {p}" for p in problems[:50])
        more = f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(
            f"{source}: invalid catalogue ({len(problems)} problem(s)):\n{shown}{more}"
        )


@cache
def schema() -> dict[str, Any]:
    """The catalogue JSON Schema, as shipped with the package."""
    text = resources.files("hoixa.contract").joinpath("catalogue.schema.json").read_text("utf-8")
    return json.loads(text)


@cache
def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema())
    cls.check_schema(schema())
    return cls(schema(), format_checker=cls.FORMAT_CHECKER)


def _describe_path(doc: Any, path: list[str | int]) -> str:
    """Turn a JSON path into words: procedure (or referral) code and name, then the field."""
    sections = {"procedures": ("procedure", "code"), "referrals": ("referral", "id")}
    if len(path) >= 2 and path[0] in sections and isinstance(path[1], int):
        index = path[1]
        what, key = sections[str(path[0])]
        procs = doc.get(path[0]) if isinstance(doc, dict) else None
        label = f"{what} #{index + 1}"
        if isinstance(procs, list) and index < len(procs) and isinstance(procs[index], dict):
            proc = procs[index]
            code, name = proc.get(key), proc.get("name")
            if code or name:
                label += f" ({code or '?'} {name or ''})".rstrip(" )") + ")"
        rest = _join_path(path[2:])
        return f"{label}, field {rest}" if rest else label
    return f"field {_join_path(path)}" if path else "catalogue"


def _join_path(path: list[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _schema_message(error: jsonschema.ValidationError) -> str:
    if error.validator == "required":
        return error.message.replace("is a required property", "is missing")
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown field(s)")
    if error.validator == "minItems" and error.validator_value == 1:
        return "must have at least one entry"
    if error.validator == "pattern" and error.path and error.path[-1] == "code":
        return f"{error.instance!r} is not a national procedure code like 1.001193 (or local.xyz)"
    return error.message


def find_problems(doc: Any) -> list[Problem]:
    """Every problem in a parsed catalogue document; empty when it is fit to use."""
    problems: list[Problem] = []
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    for error in errors:
        path = list(error.absolute_path)
        problems.append(Problem(_describe_path(doc, path), _schema_message(error)))
    if problems or not isinstance(doc, dict):
        return problems
    unique_keys = (("procedures", "code", "procedure"), ("referrals", "id", "referral"))
    for section, key, what in unique_keys:
        seen: dict[str, int] = {}
        for index, entry in enumerate(doc.get(section, [])):
            first = seen.setdefault(entry[key], index)
            if first != index:
                problems.append(
                    Problem(
                        _describe_path(doc, [section, index, key]),
                        f"duplicate {key}, also used by {what} #{first + 1}",
                    )
                )
    return problems


def validate(doc: Any, source: str = "catalogue") -> Catalogue:
    """Return the document if it is a valid catalogue, else raise CatalogueError."""
    problems = find_problems(doc)
    if problems:
        raise CatalogueError(source, problems)
    return doc


def parse(text: str | bytes, source: str = "catalogue") -> Catalogue:
    """Parse JSON text into a validated catalogue; bad JSON is reported with line and column."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CatalogueError(source, [Problem("file", "not UTF-8 text")]) from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise CatalogueError(source, [Problem(where, f"not valid JSON: {exc.msg}")]) from exc
    return validate(doc, source)


def load(path: str | Path) -> Catalogue:
    """Read and validate a catalogue file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogueError(
            str(path), [Problem("file", f"cannot be read: {exc.strerror}")]
        ) from exc
    return parse(data, str(path))


def dumps(catalogue: Catalogue) -> str:
    """Canonical JSON text of a catalogue (stable key order, readable Vietnamese)."""
    return json.dumps(catalogue, ensure_ascii=False, indent=1, sort_keys=False) + "\n"


def default_catalogue_path() -> Path:
    """The catalogue shipped with the package, used when a box has none of its own yet."""
    return Path(str(resources.files("hoixa").joinpath("data/default_catalogue.json")))


def load_default() -> Catalogue:
    return load(default_catalogue_path())


def spoken_name(proc: Procedure) -> str:
    """The short name the box says aloud."""
    return proc.get("spoken_name") or proc["name"]
