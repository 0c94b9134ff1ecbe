import json

import pytest

from conftest import make_catalogue, make_procedure
from hoixa.cli import main
from hoixa.contract import catalogue as cat


def problems_of(doc) -> list[str]:
    return [str(p) for p in cat.find_problems(doc)]


def test_valid_catalogue_has_no_problems(small_catalogue):
    assert cat.find_problems(small_catalogue) == []
    assert cat.validate(small_catalogue) is small_catalogue


def test_missing_field_names_the_procedure_and_field(small_catalogue):
    del small_catalogue["procedures"][1]["legal_basis"]
    [problem] = problems_of(small_catalogue)
    assert "1.000894" in problem and "Đăng ký kết hôn" in problem
    assert "legal_basis" in problem and "missing" in problem


def test_wrong_type_deep_inside_is_located(small_catalogue):
    small_catalogue["procedures"][2]["fees"][0]["amount_vnd"] = "tám nghìn"
    [problem] = problems_of(small_catalogue)
    assert problem.startswith("procedure #3 (1.000656 Đăng ký khai tử), field fees[0].amount_vnd")


def test_bad_code_and_empty_steps_are_both_reported(small_catalogue):
    small_catalogue["procedures"][0]["code"] = "KS-01"
    small_catalogue["procedures"][0]["steps"] = []
    found = problems_of(small_catalogue)
    assert len(found) == 2
    assert any("national procedure code" in p for p in found)
    assert any("steps" in p and "at least one" in p for p in found)


def test_unknown_field_is_refused(small_catalogue):
    small_catalogue["procedures"][0]["phone"] = "0123"
    [problem] = problems_of(small_catalogue)
    assert "unknown field" in problem and "phone" in problem


def test_duplicate_codes_are_refused():
    doc = make_catalogue([make_procedure("1.001193", "A"), make_procedure("1.001193", "B")])
    [problem] = problems_of(doc)
    assert "procedure #2" in problem and "duplicate code" in problem


REFERRAL = {"id": "ref.ho-chieu", "name": "làm hộ chiếu", "aliases": ["làm hộ chiếu"], "where": "X"}


def test_referrals_are_optional_and_checked_like_procedures(small_catalogue):
    small_catalogue["referrals"] = [REFERRAL, {**REFERRAL, "id": "ref.ly-hon", "aliases": []}]
    [problem] = problems_of(small_catalogue)
    assert "referral #2 (ref.ly-hon" in problem and "aliases" in problem


def test_duplicate_referral_ids_are_refused(small_catalogue):
    small_catalogue["referrals"] = [REFERRAL, dict(REFERRAL)]
    [problem] = problems_of(small_catalogue)
    assert "referral #2" in problem and "duplicate id" in problem


def test_catalogue_metadata_is_checked(small_catalogue):
    small_catalogue["scope"] = "province/Hà Nội"
    small_catalogue["version"] = 0
    found = problems_of(small_catalogue)
    assert any(p.startswith("field scope") for p in found)
    assert any(p.startswith("field version") for p in found)


def test_bad_json_reports_line_and_column():
    with pytest.raises(cat.CatalogueError) as err:
        cat.parse('{\n  "version": 1,\n  oops\n}', "x.json")
    assert "line 3, column 3" in str(err.value)


def test_not_utf8_is_reported():
    with pytest.raises(cat.CatalogueError, match="not UTF-8"):
        cat.parse(b"\xff\xfe{}")


def test_validate_command_prints_where_and_fails(tmp_path, small_catalogue, capsys):
    small_catalogue["procedures"][0]["documents"][0]["form"] = "photo"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(small_catalogue, ensure_ascii=False), encoding="utf-8")
    assert main(["catalogue", "validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "1.001193" in err and "documents[0].form" in err


def test_validate_command_accepts_a_good_file(tmp_path, small_catalogue, capsys):
    path = tmp_path / "good.json"
    path.write_text(cat.dumps(small_catalogue), encoding="utf-8")
    assert main(["catalogue", "validate", str(path)]) == 0
    assert "3 procedures" in capsys.readouterr().out
