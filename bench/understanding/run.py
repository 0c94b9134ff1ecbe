"""How well does the box understand villagers? Run the labelled questions through the matcher.

    python bench/understanding/run.py [--rates 0,0.1,0.2] [--seed 1] [--repeat 3]
        [--shared DIR] [--markdown OUT.md] [--failures 20] [--only default,synthetic]

Catalogues: the shipped default; the 588 commune-level portal records imported as they are;
those records with the default overlaid (the realistic deployment); and a generated
10,000-procedure catalogue around the default. Every metric is explained in README.md.
"""

from __future__ import annotations

import argparse
import copy
import csv
import importlib.util
import math
import multiprocessing
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_SHARED = HERE.parents[1].parent / "shared"
PORTAL_RAW = Path("data/tthc/chatbot_tthc/data/raw")
QUERIES = HERE / "queries.tsv"
CORRECTIONS = HERE / "corrections.tsv"
AMBIGUOUS = "ambiguous:"
SYNTHETIC_SIZE = 10_000
NOT_FOUND, EMERGENCY = "not_found", "emergency"

GOAL_TOP1_CLEAN = 0.95
GOAL_TOP1_CORRUPT = 0.90
GOAL_CORRUPT_RATE = 0.2
GOAL_WRONG = 0.02
GOAL_P95_MS = 5.0


def _load_sibling(name: str) -> ModuleType:
    """Import a module that sits beside this script (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Query:
    text: str
    expected: str  # a procedure code, "not_found" or "emergency"
    category: str  # "" when the question only names the procedure
    tags: frozenset[str]
    # Another procedure a commune officer would equally accept (the question is honestly
    # ambiguous between the two): answering it is not wrong, offering it is right.
    also: frozenset[str] = frozenset()
    written: str = ""  # the writer's label, when corrections.tsv changed it

    @property
    def is_procedure(self) -> bool:
        return self.expected not in (NOT_FOUND, EMERGENCY)

    def accepts(self, code: str | None) -> bool:
        return code is not None and (code == self.expected or code in self.also)


@dataclass(frozen=True)
class Correction:
    """One reviewed label: the writer's, and what a commune officer would say in 2026."""

    line: int
    query: str
    written: str
    corrected: str  # a code, "not_found", "emergency" or "ambiguous:<code>|<code>"


def load_corrections(set_name: str, path: Path = CORRECTIONS) -> dict[int, Correction]:
    """The reviewed labels of one question set, by line number (the header is line 1)."""
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {
            int(row["line"]): Correction(
                int(row["line"]), row["query"], row["written"], row["corrected"]
            )
            for row in reader
            if row["set"] == set_name
        }


def _corrected(query: Query, fix: Correction) -> Query:
    if fix.query != query.text or fix.written != query.expected:
        raise ValueError(
            f"the correction of {fix.query!r} no longer matches line {fix.line} "
            f"({query.text!r}, {query.expected})"
        )
    if fix.corrected.startswith(AMBIGUOUS):
        codes = frozenset(fix.corrected[len(AMBIGUOUS) :].split("|"))
        return replace(query, also=codes - {query.expected})
    tags = set(query.tags)
    if fix.corrected == NOT_FOUND:
        tags.add("out_of_scope")
    elif query.expected == NOT_FOUND:
        tags.discard("out_of_scope")
    return replace(query, expected=fix.corrected, tags=frozenset(tags), written=query.expected)


def load_queries(
    path: Path = QUERIES, corrected: bool = True, corrections: Path = CORRECTIONS
) -> list[Query]:
    """The labelled questions of one set, with the reviewed labels of corrections.tsv unless
    `corrected` is False (the set as its writer labelled it)."""
    fixes = load_corrections(path.name, corrections) if corrected else {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        queries = []
        for line, row in enumerate(reader, start=2):
            query = Query(
                row["query"],
                row["expected"],
                row["category"] or "",
                frozenset(t for t in (row["tags"] or "").split(",") if t),
            )
            queries.append(_corrected(query, fixes.pop(line)) if line in fixes else query)
    if fixes:
        raise ValueError(f"corrections name lines {sorted(fixes)} past the end of {path}")
    return queries


# -- catalogues --------------------------------------------------------------------------


@dataclass
class Bench:
    label: str
    doc: dict[str, Any] | None
    note: str = ""


def overlay(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """`base` with `top`'s procedures replacing same-code ones and added otherwise, and
    `top`'s referrals (a province importing the portal keeps the default's referrals)."""
    doc = copy.copy(base)
    by_code = {p["code"]: p for p in top["procedures"]}
    procedures = [by_code.pop(p["code"], p) for p in base["procedures"]]
    doc["procedures"] = procedures + list(by_code.values())
    referrals = {r["id"]: r for r in [*base.get("referrals", []), *top.get("referrals", [])]}
    if referrals:
        doc["referrals"] = list(referrals.values())
    return doc


def portal_catalogue(shared: Path) -> tuple[dict[str, Any] | None, str]:
    raw = shared / PORTAL_RAW
    if not raw.is_dir():
        return None, f"skipped: {raw} not found (pass --shared DIR)"
    try:
        from hoixa.server.portal_import import import_portal_dir
    except ImportError as exc:
        return None, f"skipped: portal importer not available ({exc})"
    return import_portal_dir(raw, commune_only=True).catalogue, ""


def catalogues(shared: Path, seed: int, only: set[str] | None) -> list[Bench]:
    from hoixa.contract.catalogue import load_default

    default = load_default()
    wanted = lambda label: only is None or label in only  # noqa: E731
    out = []
    if wanted("default"):
        out.append(Bench("default", default))
    if wanted("portal") or wanted("portal+default"):
        portal, why = portal_catalogue(shared)
        if wanted("portal"):
            out.append(Bench("portal", portal, why))
        if wanted("portal+default"):
            out.append(Bench("portal+default", portal and overlay(portal, default), why))
    if wanted("synthetic"):
        synth = _load_sibling("synth_catalogue")
        out.append(Bench("synthetic", synth.generate(SYNTHETIC_SIZE, seed, default)))
    return out


# -- running -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    query: Query
    heard: str  # the text given to the matcher (corrupted or not)
    decision: Any
    ms: float

    @property
    def action(self) -> str:
        return self.decision.action

    @property
    def answered(self) -> str | None:
        proc = self.decision.procedure
        return proc["code"] if self.action == "answer" and proc else None

    @property
    def top(self) -> str | None:
        cands = self.decision.candidates
        return cands[0].code if cands else None

    @property
    def candidate_codes(self) -> list[str]:
        return [c.code for c in self.decision.candidates]


def run_pass(
    match: Callable[[str], Any], queries: list[Query], heard: list[str], timing_runs: int = 1
) -> list[Outcome]:
    """Each question matched once, or the whole pass made `timing_runs` times with each
    question's fastest time kept: on a shared machine other processes slow it down for
    seconds at a time, and a box runs one program. Whole passes, not one question several
    times in a row, so that a slow spell does not cover every run of a question. The matcher
    is deterministic: every pass gives the same decisions."""
    decisions: list[Any] = []
    fastest = [math.inf] * len(heard)
    for run in range(max(timing_runs, 1)):
        for i, text in enumerate(heard):
            start = time.perf_counter()
            decision = match(text)
            fastest[i] = min(fastest[i], (time.perf_counter() - start) * 1000)
            if run == 0:
                decisions.append(decision)
    return [
        Outcome(query, text, decision, ms)
        for query, text, decision, ms in zip(queries, heard, decisions, fastest, strict=True)
    ]


def _share(count: int, total: int) -> float | None:
    return count / total if total else None


def metrics(outcomes: list[Outcome]) -> dict[str, float | None]:
    """Every figure of the report for one set of outcomes (pooled over repeats)."""
    procs = [o for o in outcomes if o.query.is_procedure]
    oos = [o for o in outcomes if o.query.expected == NOT_FOUND]
    emerg = [o for o in outcomes if o.query.expected == EMERGENCY]
    with_cat = [o for o in outcomes if o.query.category]
    said_nf = [o for o in outcomes if o.action == NOT_FOUND]
    wrong_code = sum(1 for o in procs if o.answered and not o.query.accepts(o.answered))
    oos_answered = sum(1 for o in oos if o.action == "answer" and not o.query.accepts(o.answered))
    emerg_missed = sum(1 for o in emerg if o.action != EMERGENCY)
    emerg_answered = sum(1 for o in emerg if o.action == "answer")
    clarified = [o for o in procs if o.action == "clarify"]
    times = sorted(o.ms for o in outcomes)
    return {
        "n": len(outcomes),
        "n_proc": len(procs),
        "top1": _share(sum(1 for o in procs if o.query.accepts(o.top)), len(procs)),
        "answered_right": _share(sum(1 for o in procs if o.query.accepts(o.answered)), len(procs)),
        "clarify": _share(len(clarified), len(procs)),
        "clarify_hit": _share(
            sum(1 for o in clarified if any(map(o.query.accepts, o.candidate_codes))), len(procs)
        ),
        "missed": _share(sum(1 for o in procs if o.action == NOT_FOUND), len(procs)),
        "wrong": _share(wrong_code + oos_answered + emerg_missed, len(outcomes)),
        # the measure: the box answered with a procedure other than the right one
        "answered_wrong": _share(wrong_code + oos_answered + emerg_answered, len(outcomes)),
        "wrong_code": _share(wrong_code, len(procs)),
        "oos_answered": _share(oos_answered, len(oos)),
        "emergency_missed": _share(emerg_missed, len(emerg)),
        "false_emergency": _share(
            sum(1 for o in outcomes if o.action == EMERGENCY and o.query.expected != EMERGENCY),
            len(outcomes) - len(emerg),
        ),
        "nf_precision": _share(
            sum(1 for o in said_nf if o.query.expected == NOT_FOUND), len(said_nf)
        ),
        "nf_recall": _share(sum(1 for o in oos if o.action == NOT_FOUND), len(oos)),
        "emergency_recall": _share(len(emerg) - emerg_missed, len(emerg)),
        "category": _share(
            sum(1 for o in with_cat if o.decision.category == o.query.category), len(with_cat)
        ),
        "p50": statistics.median(times) if times else None,
        "p95": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))] if times else None,
        "max": times[-1] if times else None,
    }


@dataclass
class Row:
    catalogue: str
    rate: float
    subset: str
    figures: dict[str, float | None]


@dataclass
class CatalogueRun:
    bench: Bench
    procedures: int
    build_ms: float
    used: int
    total: int
    rows: list[Row]
    clean_outcomes: list[Outcome]  # rate 0, every row: for the failure list
    timing_runs: int = 1  # each question's time is the fastest of this many


def corrupted_texts(
    queries: list[Query], rates: list[float], seed: int, repeat: int
) -> dict[float, list[list[str]]]:
    """The heard texts per rate and repeat, made once so every catalogue gets the same ones."""
    corrupt = _load_sibling("corrupt")
    texts: dict[float, list[list[str]]] = {}
    for rate in rates:
        if rate == 0:
            texts[rate] = [[q.text for q in queries]]
            continue
        texts[rate] = []
        for r in range(repeat):
            rng = random.Random(f"{seed}/{rate}/{r}")
            texts[rate].append([corrupt.corrupt(q.text, rate, rng) for q in queries])
    return texts


def run_catalogue(
    bench: Bench,
    queries: list[Query],
    heard: dict[float, list[list[str]]],
    timing_runs: int = 1,
) -> CatalogueRun:
    from hoixa.device.matcher import Matcher

    doc = bench.doc
    assert doc is not None
    start = time.perf_counter()
    matcher = Matcher(doc)
    build_ms = (time.perf_counter() - start) * 1000
    codes = {p["code"] for p in doc["procedures"]}
    keep = [i for i, q in enumerate(queries) if not q.is_procedure or q.expected in codes]
    used = [queries[i] for i in keep]
    run_pass(matcher.match, used, [q.text for q in used])  # warm-up: caches, lazy imports
    rows: list[Row] = []
    clean_outcomes: list[Outcome] = []
    for rate, passes in heard.items():
        pooled: list[Outcome] = []
        for texts in passes:
            pooled += run_pass(matcher.match, used, [texts[i] for i in keep], timing_runs)
        if rate == 0:
            clean_outcomes = pooled
        rows.append(
            Row(bench.label, rate, "clean", metrics([o for o in pooled if "clean" in o.query.tags]))
        )
        rows.append(Row(bench.label, rate, "all", metrics(pooled)))
    return CatalogueRun(
        bench,
        len(doc["procedures"]),
        build_ms,
        len(used),
        len(queries),
        rows,
        clean_outcomes,
        max(timing_runs, 1),
    )


def run_catalogue_alone(
    bench: Bench,
    queries: list[Query],
    heard: dict[float, list[list[str]]],
    timing_runs: int = 1,
) -> CatalogueRun:
    """run_catalogue in a fresh interpreter. A box holds one catalogue; timed after three
    others in the same process, the 10,000-procedure catalogue read 30-60 % slower (the
    earlier matchers and outcomes stay in memory), which measured the bench, not the box."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(run_catalogue, bench, queries, heard, timing_runs).result()


# -- reporting ---------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _ms(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


HEADERS = (
    "catalogue", "rate", "subset", "n", "top-1", "answered right", "clarify (right in it)",
    "said not found", "wrong: all (code/oos/emerg)", "not_found P/R", "emerg. recall",
    "false emerg.", "category", "ms p50/p95/max",
)  # fmt: skip


def table_rows(rows: Iterable[Row]) -> list[list[str]]:
    out = []
    for row in rows:
        f = row.figures
        out.append([
            row.catalogue,
            f"{row.rate:g}",
            row.subset,
            str(f["n"]),
            _pct(f["top1"]),
            _pct(f["answered_right"]),
            f"{_pct(f['clarify'])} ({_pct(f['clarify_hit'])})",
            _pct(f["missed"]),
            f"{_pct(f['wrong'])} ({_pct(f['wrong_code'])}/{_pct(f['oos_answered'])}/"
            f"{_pct(f['emergency_missed'])})",
            f"{_pct(f['nf_precision'])}/{_pct(f['nf_recall'])}",
            _pct(f["emergency_recall"]),
            _pct(f["false_emergency"]),
            _pct(f["category"]),
            f"{_ms(f['p50'])}/{_ms(f['p95'])}/{_ms(f['max'])}",
        ])  # fmt: skip
    return out


def plain_table(headers: tuple[str, ...], body: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, body)])


def markdown_table(headers: tuple[str, ...], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def _figure(run: CatalogueRun, rate: float, subset: str, key: str) -> float | None:
    for row in run.rows:
        if row.rate == rate and row.subset == subset:
            return row.figures[key]
    return None


def goal_lines(runs: list[CatalogueRun]) -> list[str]:
    def mark(value: float | None, ok: bool) -> str:
        return "not run" if value is None else ("met" if ok else "NOT met")

    lines = []
    for run in runs:
        label = run.bench.label
        top1 = _figure(run, 0, "clean", "top1")
        lines.append(
            f"{label}: top-1 on clean paraphrases {_pct(top1)} % (goal ≥ "
            f"{100 * GOAL_TOP1_CLEAN:.0f} %): {mark(top1, (top1 or 0) >= GOAL_TOP1_CLEAN)}"
        )
        corrupt = _figure(run, GOAL_CORRUPT_RATE, "clean", "top1")
        lines.append(
            f"{label}: top-1 at {100 * GOAL_CORRUPT_RATE:.0f} % syllable corruption (clean rows) "
            f"{_pct(corrupt)} % (goal ≥ {100 * GOAL_TOP1_CORRUPT:.0f} %): "
            f"{mark(corrupt, (corrupt or 0) >= GOAL_TOP1_CORRUPT)}"
        )
        for key, what in (
            ("answered_wrong", "answered with a procedure other than the right one"),
            ("wrong", "wrong counting emergencies not recognised too"),
        ):
            wrongs = [r.figures[key] for r in run.rows if r.subset == "all"]
            worst = max((w for w in wrongs if w is not None), default=None)
            lines.append(
                f"{label}: {what}, worst rate {_pct(worst)} % (goal ≤ "
                f"{100 * GOAL_WRONG:.0f} %): {mark(worst, (worst or 0) <= GOAL_WRONG)}"
            )
        if run.procedures >= SYNTHETIC_SIZE:
            p95 = max(r.figures["p95"] or 0 for r in run.rows)
            timed = "" if run.timing_runs == 1 else f", fastest of {run.timing_runs} per question"
            lines.append(
                f"{label}: p95 latency {p95:.2f} ms at {run.procedures} procedures{timed} "
                f"(goal ≤ {GOAL_P95_MS:g} ms): {mark(p95, p95 <= GOAL_P95_MS)}"
            )
    return lines


def _failure_rank(o: Outcome) -> tuple[int, int]:
    """Most telling first: confident mistakes, then misses on plain questions, then the rest."""
    q = o.query
    clean = 0 if "clean" in q.tags else 1
    if q.expected == EMERGENCY and o.action != EMERGENCY:
        return 0, clean
    if q.expected != EMERGENCY and o.action == EMERGENCY:
        return 1, clean
    if o.answered and not q.accepts(o.answered):
        return 1, clean
    if q.is_procedure and not q.accepts(o.top):
        return 2 + clean, 0
    if q.is_procedure and o.action == NOT_FOUND:
        return 5, clean
    if q.category and o.decision.category != q.category:
        return 6, clean
    return 9, clean


def failure_lines(outcomes: list[Outcome], limit: int) -> list[str]:
    failing = [o for o in outcomes if _failure_rank(o)[0] < 9]
    failing.sort(key=_failure_rank)
    lines = []
    for o in failing[:limit]:
        d = o.decision
        got = o.action + (f" {o.answered}" if o.answered else "")
        cands = ", ".join(f"{c.code} {c.score:.2f}" for c in d.candidates[:3])
        cat = (
            f" category {d.category}≠{o.query.category}"
            if o.query.category != (d.category or "")
            else ""
        )
        lines.append(f"{o.query.text!r}: expected {o.query.expected}, got {got} [{cands}]{cat}")
    return lines


def report(
    runs: list[CatalogueRun],
    skipped: list[Bench],
    failures: tuple[str, list[str]],
    markdown: bool,
) -> str:
    body = table_rows(row for run in runs for row in run.rows)
    table = markdown_table(HEADERS, body) if markdown else plain_table(HEADERS, body)
    bullet = "- " if markdown else "  "
    parts = ["# Understanding bench\n" if markdown else "", table, ""]
    parts.append("Catalogues:" if not markdown else "**Catalogues**\n")
    for run in runs:
        parts.append(
            f"{bullet}{run.bench.label}: {run.procedures} procedures, index built in "
            f"{run.build_ms:.0f} ms; {run.used} of {run.total} queries used"
        )
    for bench in skipped:
        parts.append(f"{bullet}{bench.label}: {bench.note}")
    parts += ["", "Goals:" if not markdown else "**Goals**\n"]
    parts += [bullet + line for line in goal_lines(runs)]
    label, lines = failures
    if lines:
        title = f"Failures ({label} catalogue, rate 0, most telling first)"
        parts += ["", f"**{title}**\n" if markdown else f"{title}:"]
        parts += [bullet + (f"`{line}`" if markdown else line) for line in lines]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="0,0.1,0.2", help="syllable error rates, e.g. 0,0.2")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="corrupted passes per rate")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared material")
    parser.add_argument("--markdown", type=Path, help="also write the report as Markdown here")
    parser.add_argument("--failures", type=int, default=20, help="failures to list (0: none)")
    parser.add_argument("--failures-from", default="default", help="catalogue to list them for")
    parser.add_argument("--only", help="comma-separated: default,portal,portal+default,synthetic")
    parser.add_argument(
        "--queries",
        type=Path,
        default=QUERIES,
        help="labelled questions (heldout.tsv: the set nobody tuned the matcher on)",
    )
    parser.add_argument(
        "--as-written",
        action="store_true",
        help="the writers' labels, without the reviewed ones of corrections.tsv",
    )
    parser.add_argument(
        "--same-process",
        action="store_true",
        help="time every catalogue in this process (by default each gets a fresh one)",
    )
    parser.add_argument(
        "--timing-runs",
        type=int,
        default=1,
        help="make each pass this many times and keep each question's fastest time (default 1)",
    )
    args = parser.parse_args(argv)
    rates = sorted({float(r) for r in args.rates.split(",") if r.strip()})
    if 0.0 not in rates:
        rates.insert(0, 0.0)  # the clean pass is the baseline and feeds the failure list
    only = set(args.only.split(",")) if args.only else None
    try:
        import hoixa.device.matcher  # noqa: F401
    except ImportError as exc:
        print(f"cannot run: the matcher is not importable ({exc})", file=sys.stderr)
        return 2
    queries = load_queries(args.queries, corrected=not args.as_written)
    relabelled = sum(1 for q in queries if q.written or q.also)
    print(
        f"questions: {args.queries.name} ({len(queries)}, {relabelled} labels reviewed in "
        f"{CORRECTIONS.name}{', not used' if args.as_written else ''})",
        file=sys.stderr,
    )
    heard = corrupted_texts(queries, rates, args.seed, args.repeat)
    runs: list[CatalogueRun] = []
    skipped: list[Bench] = []
    for bench in catalogues(args.shared, args.seed, only):
        if bench.doc is None:
            print(f"[{bench.label}] {bench.note}", file=sys.stderr)
            skipped.append(bench)
            continue
        start = time.perf_counter()
        run = run_catalogue if args.same_process else run_catalogue_alone
        runs.append(run(bench, queries, heard, args.timing_runs))
        print(f"[{bench.label}] done in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    first = next(
        (r for r in runs if r.bench.label == args.failures_from), runs[0] if runs else None
    )
    failures = (
        (first.bench.label, failure_lines(first.clean_outcomes, args.failures))
        if first and args.failures
        else ("", [])
    )
    print(report(runs, skipped, failures, markdown=False))
    if args.markdown:
        args.markdown.write_text(report(runs, skipped, failures, markdown=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
