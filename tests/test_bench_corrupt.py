"""The understanding bench's own tools: labelled queries, recogniser-error simulator, big catalogue.

bench/ is not a package, so its modules are imported by path.
"""

from __future__ import annotations

import csv
import importlib.util
import random
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from hoixa.contract import catalogue

BENCH = Path(__file__).resolve().parents[1] / "bench" / "understanding"
TONE_MARKS = {"\u0301", "\u0300", "\u0309", "\u0303", "\u0323"}
CODES = {
    "1.001193", "1.000894", "1.000656", "1.004884", "1.004746", "1.005461", "2.000635", "1.004873",
    "1.001022", "1.000689", "1.004837", "1.004845", "1.004859", "1.004772", "2.002516", "2.000986",
    "2.001023", "2.000815", "2.000884", "2.001035", "2.001019", "2.001406", "1.004222", "1.004194",
    "1.002755", "1.003677", "1.003197", "1.014061", "1.014063", "1.014064", "1.012812", "1.013978",
    "1.001612", "1.011607", "1.001776", "1.001699",
}  # fmt: skip
COMMON = {"1.001193", "1.000894", "1.000656", "2.000815", "1.014061", "1.004222", "1.004194"}
COMMON.add("1.001776")
CATEGORIES = {"steps", "documents", "processing_time", "fees", "submission", "result"}
CATEGORIES.add("legal_basis")
TAGS = {"clean", "no_tones", "filler", "north", "central", "south", "colloquial"}
TAGS |= {"with_category", "out_of_scope", "emergency"}


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


corrupt = _load("corrupt")
synth = _load("synth_catalogue")
run = _load("run")


def _rows() -> list[dict[str, str]]:
    with (BENCH / "queries.tsv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


ROWS = _rows()
QUERIES = [r["query"] for r in ROWS]


def _without_tone(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONE_MARKS))


def _has_diacritics(text: str) -> bool:
    return "đ" in text or any(unicodedata.combining(c) for c in unicodedata.normalize("NFD", text))


# -- the labelled queries ----------------------------------------------------------------


def test_queries_are_well_formed():
    assert len(ROWS) >= 330
    assert len(set(QUERIES)) == len(QUERIES), "duplicate queries"
    for row in ROWS:
        where = row["query"]
        assert row["expected"] in CODES | {"not_found", "emergency"}, where
        assert row["category"] in CATEGORIES | {""}, where
        tags = set(row["tags"].split(","))
        assert tags <= TAGS, where
        assert ("with_category" in tags) == bool(row["category"]), where
        assert ("out_of_scope" in tags) == (row["expected"] == "not_found"), where
        assert ("emergency" in tags) == (row["expected"] == "emergency"), where
        assert row["query"] == unicodedata.normalize("NFC", row["query"]).lower().strip(), where


def test_queries_cover_every_procedure_and_the_edges():
    counts = Counter(row["expected"] for row in ROWS)
    for code in CODES:
        assert counts[code] >= (12 if code in COMMON else 6), code
    assert counts["not_found"] >= 30
    assert counts["emergency"] >= 20
    tags = Counter(t for row in ROWS for t in row["tags"].split(","))
    assert tags["clean"] >= 120
    assert 0.2 <= tags["no_tones"] / len(ROWS) <= 0.3


def test_tone_tags_match_the_text():
    for row in ROWS:
        tags = set(row["tags"].split(","))
        if "no_tones" in tags:
            assert not _has_diacritics(row["query"]), row["query"]
        if "clean" in tags:
            assert _has_diacritics(row["query"]), row["query"]
            assert not tags & {"no_tones", "filler", "north", "central", "south"}, row["query"]


# -- the recogniser-error simulator ------------------------------------------------------


def test_rate_zero_returns_the_input():
    rng = random.Random(5)
    assert all(corrupt.corrupt(q, 0.0, rng) == q for q in QUERIES)


@pytest.mark.parametrize("rate", [0.1, 0.2, 0.4])
def test_measured_syllable_error_rate_matches_the_request(rate):
    rng = random.Random(7)
    edits = syllables = 0.0
    for _ in range(3):
        for q in QUERIES:
            heard = corrupt.corrupt(q, rate, rng)
            n = len(q.split())
            edits += corrupt.syllable_error_rate(q, heard) * n
            syllables += n
    measured = edits / syllables
    assert rate - 0.05 <= measured <= rate + 0.05
    if rate == 0.2:
        assert 0.15 <= measured <= 0.25


def test_tone_change_keeps_the_letters_and_vowel_marks():
    rng = random.Random(11)
    syllables = {s for q in QUERIES for s in q.split()}
    changed = 0
    for s in syllables:
        for _ in range(3):
            out = corrupt.change_tone(s, rng)
            if out is None:
                continue
            changed += 1
            assert out != s
            assert _without_tone(out) == _without_tone(s), (s, out)
            marks = [c for c in unicodedata.normalize("NFD", out) if c in TONE_MARKS]
            assert len(marks) <= 1, out
    assert changed > 0.9 * 3 * len(syllables)


def test_tone_change_covers_every_tone_and_toneless():
    rng = random.Random(2)
    seen = {corrupt.change_tone("hỏi", rng) for _ in range(200)}
    assert seen == {"hoi", "hói", "hòi", "hõi", "họi"}


def test_consonant_confusions_sound_alike():
    rng = random.Random(3)
    assert corrupt.change_initial("trâu", rng) == "châu"
    assert corrupt.change_initial("sinh", rng) == "xinh"
    assert corrupt.change_initial("vợ", rng) == "dợ"  # Southern v
    assert corrupt.change_initial("gì", rng) in {"dì", "rì"}
    assert corrupt.change_initial("dì", rng) in {"gì", "rì", "vì"}
    assert corrupt.change_initial("nghỉ", rng) == "ngỉ"
    assert corrupt.change_final("căn", rng) == "căng"
    assert corrupt.change_final("sáng", rng) == "sán"
    assert corrupt.change_final("việt", rng) == "việc"
    assert corrupt.change_final("tai", rng) == "tay"
    assert corrupt.change_final("hỏi", rng) is None  # oi/oy do not sound alike
    assert corrupt.change_final("sinh", rng) is None


def test_corruption_is_deterministic_per_seed():
    def heard(seed):
        rng = random.Random(seed)
        return [corrupt.corrupt(q, 0.3, rng) for q in QUERIES]

    assert heard(42) == heard(42)
    assert heard(42) != heard(43)


def test_output_stays_nfc_even_from_decomposed_input():
    rng = random.Random(9)
    for q in QUERIES:
        out = corrupt.corrupt(unicodedata.normalize("NFD", q), 0.5, rng)
        assert out == unicodedata.normalize("NFC", out)


def test_merges_and_drops_happen():
    rng = random.Random(1)
    outs = [corrupt.corrupt(q, 0.5, rng) for q in QUERIES]
    lengths = [(len(q.split()), len(o.split())) for q, o in zip(QUERIES, outs, strict=True)]
    assert any(o < q for q, o in lengths)
    assert any(re.search(r"[a-zà-ỹđ]{9,}", o) for o in outs)  # two syllables run together


def test_syllable_error_rate():
    assert corrupt.syllable_error_rate("làm giấy khai sinh", "làm giấy khai sinh") == 0
    assert corrupt.syllable_error_rate("làm giấy khai sinh", "làm giấy khái sinh") == 0.25
    assert corrupt.syllable_error_rate("làm giấy khai sinh", "làm khai sinh") == 0.25
    assert corrupt.syllable_error_rate("làm giấy khai sinh", "làm giấy khaisinh") == 0.5


def test_rate_out_of_range_is_refused():
    with pytest.raises(ValueError):
        corrupt.corrupt("làm căn cước", 1.5, random.Random(0))


# -- the synthetic catalogue -------------------------------------------------------------


def _procedure(code: str, name: str) -> dict:
    return {
        "code": code,
        "name": name,
        "aliases": ["làm giấy khai sinh"],
        "field": "Hộ tịch",
        "level": ["commune"],
        "agency": "Ủy ban nhân dân cấp xã",
        "steps": ["Nộp hồ sơ."],
        "documents": [{"name": "Tờ khai"}],
        "processing_time": {"text": "Ngay trong ngày", "working_days": 0},
        "fees": [],
        "submission": [{"mode": "in_person"}],
        "result": "Giấy khai sinh",
        "legal_basis": [{"code": "60/2014/QH13"}],
    }


BASE = {
    "schema_version": 1,
    "version": 7,
    "scope": "all",
    "issued_at": "2026-03-01T08:00:00+07:00",
    "procedures": [
        _procedure("1.001193", "Đăng ký khai sinh"),
        _procedure("local.mai_tang_phi", "Hỗ trợ chi phí mai táng"),
    ],
}


def test_synthetic_catalogue_is_valid_and_has_n_procedures():
    doc = synth.generate(600, 1, BASE)
    catalogue.validate(doc)
    procs = doc["procedures"]
    assert len(procs) == 600
    assert procs[:2] == BASE["procedures"]
    made = procs[2:]
    assert all(re.fullmatch(r"9\.\d{6}", p["code"]) for p in made)
    assert len({p["code"] for p in procs}) == 600
    assert all(1 <= len(p["aliases"]) <= 3 for p in made)
    assert len({p["field"] for p in made}) >= 10


def test_synthetic_catalogue_scales_to_ten_thousand():
    doc = synth.generate(10_000, 4, BASE)
    procs = doc["procedures"]
    assert len(procs) == 10_000
    assert len({p["code"] for p in procs}) == 10_000
    assert len({p["name"] for p in procs}) == 10_000
    assert catalogue.find_problems({**doc, "procedures": procs[-300:]}) == []


def test_synthetic_catalogue_is_deterministic_per_seed():
    assert synth.generate(300, 5, BASE) == synth.generate(300, 5, BASE)
    assert synth.generate(300, 5, BASE) != synth.generate(300, 6, BASE)


def test_synthetic_catalogue_leaves_the_base_alone():
    before = repr(BASE)
    doc = synth.generate(50, 1, BASE)
    doc["procedures"][0]["name"] = "changed"
    assert repr(BASE) == before
    with pytest.raises(ValueError):
        synth.generate(1, 1, BASE)


# -- the runner's bookkeeping ------------------------------------------------------------


def _outcome(
    expected: str,
    action: str,
    code: str | None = None,
    top: str | None = None,
    also: frozenset[str] = frozenset(),
):
    query = run.Query("q", expected, "", frozenset(), also)
    cands = [SimpleNamespace(code=c, name="", score=1.0) for c in [top or code] if c]
    decision = SimpleNamespace(
        action=action,
        procedure={"code": code} if action == "answer" else None,
        category=None,
        candidates=cands,
    )
    return run.Outcome(query, "q", decision, 1.0)


def test_metrics_separate_right_wrong_and_unsure():
    outcomes = [
        _outcome("1.001193", "answer", "1.001193"),  # right
        _outcome("1.001193", "answer", "1.000894"),  # wrong procedure
        _outcome("1.001193", "clarify", top="1.001193"),  # asked back, right one offered
        _outcome("1.001193", "not_found", top="1.000656"),  # missed
        _outcome("not_found", "answer", "1.000656"),  # out of scope answered: wrong
        _outcome("not_found", "not_found"),
        _outcome("emergency", "emergency"),
        _outcome("emergency", "not_found"),  # emergency missed: wrong
    ]
    m = run.metrics(outcomes)
    assert m["top1"] == 0.5  # the wrong answer and the miss had another code on top
    assert m["answered_right"] == 0.25
    assert m["clarify"] == m["clarify_hit"] == 0.25
    assert m["missed"] == 0.25
    assert m["wrong_code"] == 0.25
    assert m["oos_answered"] == 0.5
    assert m["emergency_missed"] == 0.5
    assert m["wrong"] == 3 / 8
    assert m["answered_wrong"] == 2 / 8  # the missed emergency was not answered with anything
    assert m["nf_recall"] == 0.5
    assert m["nf_precision"] == 1 / 3  # the missed procedure and emergency said it too
    assert m["emergency_recall"] == 0.5


def test_either_label_of_an_ambiguous_question_is_right():
    also = frozenset({"local.tro-cap-huu-tri-xa-hoi"})
    outcomes = [
        _outcome("1.001776", "answer", "local.tro-cap-huu-tri-xa-hoi", also=also),
        _outcome("1.001776", "clarify", top="local.tro-cap-huu-tri-xa-hoi", also=also),
        _outcome("1.001776", "answer", "1.000656", also=also),  # neither: wrong
    ]
    m = run.metrics(outcomes)
    assert m["top1"] == 2 / 3 and m["answered_right"] == 1 / 3
    assert m["clarify_hit"] == 1 / 3 and m["wrong_code"] == 1 / 3


def _corrections() -> list[dict[str, str]]:
    with (BENCH / "corrections.tsv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def test_corrections_name_real_rows_and_labels_the_catalogue_has():
    codes = {p["code"] for p in catalogue.load_default()["procedures"]}
    labels = codes | {"not_found", "emergency"}
    problems = []
    for fix in _corrections():
        lines = (BENCH / fix["set"]).read_text(encoding="utf-8").splitlines()
        query, written = lines[int(fix["line"]) - 1].split("\t")[:2]
        corrected = fix["corrected"]
        if corrected.startswith(run.AMBIGUOUS):
            either = set(corrected.removeprefix(run.AMBIGUOUS).split("|"))
            fine = len(either) >= 2 and written in either and either <= labels
        else:
            fine = corrected in labels and corrected != written
        if (query, written) != (fix["query"], fix["written"]) or not fine or not fix["reason"]:
            problems.append((fix["set"], fix["line"], corrected))
    assert not problems


def test_reviewed_labels_are_used_unless_the_set_is_read_as_written():
    fixes = _corrections()
    changed = next(f for f in fixes if not f["corrected"].startswith(run.AMBIGUOUS))
    ambiguous = next(f for f in fixes if f["corrected"].startswith(run.AMBIGUOUS))
    for fix, attribute in ((changed, "expected"), (ambiguous, "also")):
        path = BENCH / fix["set"]
        reviewed = run.load_queries(path)[int(fix["line"]) - 2]
        written = run.load_queries(path, corrected=False)[int(fix["line"]) - 2]
        assert reviewed.text == written.text == fix["query"]
        assert written.expected == fix["written"] and not written.also
        if attribute == "expected":
            assert reviewed.expected == fix["corrected"] and reviewed.written == fix["written"]
        else:
            assert reviewed.expected == fix["written"]
            assert reviewed.accepts(fix["corrected"].split("|")[-1])


def test_a_correction_that_no_longer_matches_its_row_is_refused(tmp_path):
    sets = tmp_path / "x.tsv"
    sets.write_text("query\texpected\tcategory\ttags\ntiền già\t1.001776\t\tclean\n")
    fixes = tmp_path / "fixes.tsv"
    fixes.write_text(
        "set\tline\tquery\twritten\tcorrected\treason\n"
        "x.tsv\t2\ttiền già\t1.000656\tnot_found\twritten label changed since\n"
    )
    with pytest.raises(ValueError, match="no longer matches"):
        run.load_queries(sets, corrections=fixes)


def test_overlay_replaces_same_codes_and_adds_the_rest():
    portal = {**BASE, "procedures": [_procedure("1.001193", "Thủ tục đăng ký khai sinh")]}
    portal["procedures"].append(_procedure("1.000894", "Đăng ký kết hôn"))
    merged = run.overlay(portal, BASE)
    assert [p["code"] for p in merged["procedures"]] == [
        "1.001193",
        "1.000894",
        "local.mai_tang_phi",
    ]
    assert merged["procedures"][0]["name"] == "Đăng ký khai sinh"
    assert len(portal["procedures"]) == 2
