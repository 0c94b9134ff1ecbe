"""The web console and its API on a real SQLite file: what each role sees, the dashboard's
figures, boxes, adding an alias from a question not understood, publishing, reports."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient

from conftest import make_catalogue, make_procedure
from hoixa.contract import catalogue as cat
from hoixa.contract import messages, topics
from hoixa.server import db, ingest
from hoixa.server.web.app import create_app
from hoixa.server.web.auth import add_user

SECRET = "test-secret-key-0123456789abcdef"
PASSWORD = "mat-khau-dai-1"
# device → (province, commune)
PLACES = {"box-a": ("79", "26734"), "box-b": ("79", "26737"), "box-c": ("01", "00004")}
USERS = {
    "trung": ("central", None, None),
    "tinh79": ("province", "79", None),
    "tinh01": ("province", "01", None),
    "xa26734": ("commune", "79", "26734"),
}
NOW = db.utc_now()
TODAY = db.local_date_of(NOW)


class FakeClock:
    """The app's idea of "now" for session expiry, moved by the tests."""

    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def conversation(session, device: str, day: date, turns: list[tuple], satisfaction=None) -> None:
    """One conversation stored the way the ingestion worker stores it (events, turns and
    the daily sums the figures are read from). Each turn: (action, procedure code or None,
    what was heard or None)."""
    province, commune = PLACES[device]
    started = f"{day.isoformat()}T03:00:00Z"  # 10:00 in Vietnam, the same day
    doc = {
        "schema": "hoixa.event/1",
        "event_id": str(uuid.uuid4()),
        "device_id": device,
        "session_id": str(uuid.uuid4()),
        "started_at": started,
        "ended_at": started,
        "catalogue_version": 1,
        "turns": [
            {"action": action, "procedure": code, "category": None, "confidence": 0.9}
            | ({"heard": heard} if heard else {})
            for action, code, heard in turns
        ],
        "termination": "thanks",
        "satisfaction": satisfaction,
        "satisfaction_by": "voice" if satisfaction else None,
    }
    place = topics.DevicePlace(province, commune, device)
    payload = messages.encode(doc, "hoixa.event/1")
    message = ingest.Incoming(place.events(), payload, 1, 0, 0, db.utc_now())
    ingest.write_batch(session, [ingest.parse(message, messages.MAX_PAYLOAD_BYTES)], set(PLACES))


BIRTH, MARRIAGE, DEATH = "1.001193", "1.000894", "1.000656"


def base_catalogue() -> dict:
    return make_catalogue(
        [
            make_procedure(BIRTH, "Đăng ký khai sinh", ["làm giấy khai sinh"]),
            make_procedure(MARRIAGE, "Đăng ký kết hôn", ["làm hôn thú"], field="Hôn nhân"),
            make_procedure(DEATH, "Đăng ký khai tử", ["báo tử"]),
        ],
        version=1,
    )


@pytest.fixture(scope="session")
def database_template(tmp_path_factory) -> Path:
    """Built once (migrations and argon2 hashes are slow); each test gets a copy."""
    path = tmp_path_factory.mktemp("console") / "template.db"
    url = f"sqlite:///{path}"
    db.upgrade_database(url)
    engine = db.make_engine(url)
    yesterday = TODAY - timedelta(days=1)
    with db.session_scope(engine) as session:
        for device, (province, commune) in PLACES.items():
            box = db.enrol_device(session, device, province, commune, display_name=device.upper())
            box.online = device != "box-b"
            box.last_seen_at = box.last_status_at = NOW - timedelta(minutes=5)
            box.software_version, box.catalogue_version, box.queue_depth = "1.2.0", 1, 0
        session.get(db.Device, "box-b").last_status_at = NOW - timedelta(hours=30)
        session.get(db.Device, "box-b").last_error = "mất kết nối 3G"
        for user, (role, province, commune) in USERS.items():
            add_user(session, user, PASSWORD, role, province, commune)
        db.store_catalogue_version(session, base_catalogue(), published_at=NOW)
        # province 79: box-a 3 questions (2 birth, 1 not understood), box-b 1 marriage
        conversation(
            session,
            "box-a",
            yesterday,
            [("answer", BIRTH, None), ("not_found", None, "xin giấy phép nuôi gà")],
            "satisfied",
        )
        conversation(session, "box-a", TODAY, [("menu", BIRTH, None)], "unsatisfied")
        conversation(session, "box-b", TODAY, [("answer", MARRIAGE, None)])
        # province 01: box-c 2 not understood, 1 death
        conversation(
            session,
            "box-c",
            TODAY,
            [
                ("not_found", None, "Xin giấy phép nuôi gà"),
                ("not_found", None, "hỏi chuyện hà nội bí mật"),
                ("answer", DEATH, None),
            ],
            "satisfied",
        )
    engine.dispose()
    return path


@pytest.fixture
def database(database_template, tmp_path) -> str:
    path = tmp_path / "console.db"
    shutil.copyfile(database_template, path)
    return f"sqlite:///{path}"


class Published:
    """A publisher that records what it was given instead of using a broker."""

    def __init__(self):
        self.calls: list[dict] = []

    def __call__(self, content: dict) -> dict:
        self.calls.append(content)
        return {"scope": content["scope"], "version": content["version"], "signature": "x"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def publisher() -> Published:
    return Published()


@pytest.fixture
def app(database, clock, publisher):
    return create_app(database, secret_key=SECRET, publisher=publisher, clock=clock)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def login(app, username: str, password: str = PASSWORD) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf": token}
    )
    assert response.status_code == 303, response.text
    return client


def engine_of(url: str):
    return db.make_engine(url)


# -- login ---------------------------------------------------------------------------------


def test_login_with_the_right_password_only_and_logout(app):
    client = TestClient(app, follow_redirects=False)
    token = csrf_of(client.get("/login").text)
    wrong = client.post("/login", data={"username": "trung", "password": "sai", "csrf": token})
    assert wrong.status_code == 401
    assert "không đúng" in wrong.text
    assert client.get("/").status_code == 303

    client = login(app, "trung")
    page = client.get("/")
    assert page.status_code == 200 and "Tổng quan" in page.text
    cookie = client.cookies.jar
    set_cookie = client.get("/").headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    assert cookie
    client.post("/logout", data={"csrf": csrf_of(page.text)})
    assert client.get("/").status_code == 303


def test_passwords_are_stored_as_argon2_hashes(database):
    engine = engine_of(database)
    with db.session_scope(engine) as session:
        user = session.scalar(db.select(db.User).where(db.User.username == "trung"))
        assert user.password_hash.startswith("$argon2")
        assert PASSWORD not in user.password_hash
    engine.dispose()


# -- dashboard and API figures ---------------------------------------------------------------


def test_dashboard_figures_per_role(app):
    central = login(app, "trung").get("/api/v1/stats").json()
    # questions: answer/menu/clarify/not_found turns: box-a 3, box-b 1, box-c 3
    assert sum(d["questions"] for d in central["per_day"]) == 7
    assert central["not_understood"]["part"] == 3
    assert central["satisfaction"]["satisfied"] == 2
    assert central["boxes"]["boxes"] == 3 and central["boxes"]["online"] == 2

    tinh79 = login(app, "tinh79")
    mine = tinh79.get("/api/v1/stats").json()
    assert sum(d["questions"] for d in mine["per_day"]) == 4
    assert mine["not_understood"]["part"] == 1
    assert [p["code"] for p in mine["top_procedures"]] == [BIRTH, MARRIAGE]
    # asking for province 01 still shows province 79
    forced = tinh79.get("/api/v1/stats?province=01").json()
    assert forced["filter"]["province"] == "79"
    assert sum(d["questions"] for d in forced["per_day"]) == 4

    commune = login(app, "xa26734").get("/api/v1/stats").json()
    assert sum(d["questions"] for d in commune["per_day"]) == 3
    assert commune["boxes"]["boxes"] == 1


def test_dashboard_page_has_an_inline_svg_chart_and_date_filter(app):
    client = login(app, "trung")
    page = client.get(f"/?from={TODAY.isoformat()}&to={TODAY.isoformat()}")
    assert page.status_code == 200
    assert "<svg" in page.text and "<script" not in page.text
    assert "Đăng ký khai sinh" in page.text
    # only today: box-a 1, box-b 1, box-c 3 questions; the chart has one bar
    assert page.text.count("<rect") == 1
    assert re.search(r'class="big">5</span> câu hỏi', page.text)
    assert "http://" not in page.text.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_pages_without_dates_show_the_last_30_days_and_say_so(app, database):
    """An official opening the console sees the last 30 days (the form shows the dates);
    older conversations are one date edit away, and the pages stay fast as years pile up."""
    engine = engine_of(database)
    old_day = TODAY - timedelta(days=45)
    with db.session_scope(engine) as session:
        conversation(
            session, "box-a", old_day, [("not_found", None, "hỏi chuyện cũ lắm rồi")], None
        )
    engine.dispose()
    client = login(app, "trung")
    page = client.get("/").text
    since = (TODAY - timedelta(days=29)).isoformat()
    assert f'name="from" value="{since}"' in page
    assert f'name="to" value="{TODAY.isoformat()}"' in page
    assert re.search(r'class="big">7</span> câu hỏi', page)  # not the old one
    everything = client.get(f"/?from={old_day.isoformat()}").text
    assert re.search(r'class="big">8</span> câu hỏi', everything)
    assert "hỏi chuyện cũ lắm rồi" not in client.get("/not-understood").text
    older = client.get(f"/not-understood?from={old_day.isoformat()}&to={TODAY.isoformat()}")
    assert "hỏi chuyện cũ lắm rồi" in older.text


def test_boxes_list_highlights_quiet_ones_and_shows_details(app):
    client = login(app, "trung")
    page = client.get("/boxes").text
    rows = {
        m.group(2): m.group(1)
        for m in re.finditer(r'<tr class="([^"]*)">\s*<td><a href="/boxes/([^"]+)"', page)
    }
    assert rows["box-b"].startswith("quiet")
    assert not rows["box-a"].startswith("quiet")
    assert "mất kết nối 3G" in page
    detail = client.get("/boxes/box-a")
    assert detail.status_code == 200 and "26734" in detail.text and "1.2.0" in detail.text
    assert client.get("/boxes/no-such-box").status_code == 404

    api = client.get("/api/v1/boxes").json()
    assert {b["device_id"]: b["quiet"] for b in api} == {
        "box-a": False,
        "box-b": True,
        "box-c": False,
    }
    assert [b["device_id"] for b in login(app, "tinh79").get("/api/v1/boxes").json()] == [
        "box-a",
        "box-b",
    ]


# -- not understood → alias → draft ---------------------------------------------------------


def test_not_understood_groups_and_adding_an_alias_makes_a_valid_new_draft(app, database):
    client = login(app, "trung")
    page = client.get("/not-understood")
    assert "xin giấy phép nuôi gà" in page.text.lower()
    groups = client.get("/api/v1/not-understood").json()
    chicken = next(g for g in groups if "nuôi gà" in g["text"])
    assert chicken["count"] == 2 and chicken["communes"] == 2

    response = client.post(
        "/not-understood/alias",
        data={"csrf": csrf_of(page.text), "text": "xin giấy phép nuôi gà", "code": DEATH},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/catalogue/2?scope=all"
    engine = engine_of(database)
    with db.session_scope(engine) as session:
        row = session.get(db.CatalogueVersion, ("all", 2))
        assert row is not None and row.published_at is None and row.created_by == "trung"
        cat.validate(row.content)
        death = next(p for p in row.content["procedures"] if p["code"] == DEATH)
        assert death["aliases"] == ["báo tử", "xin giấy phép nuôi gà"]
        first = session.get(db.CatalogueVersion, ("all", 1))
        assert all("nuôi gà" not in a for p in first.content["procedures"] for a in p["aliases"])
    # the same alias again: refused, no third version
    again = client.post(
        "/not-understood/alias",
        data={"csrf": csrf_of(page.text), "text": "xin giấy phép nuôi gà", "code": BIRTH},
    )
    assert again.status_code == 303  # added to another procedure: allowed, version 3
    dup = client.post(
        "/not-understood/alias",
        data={"csrf": csrf_of(page.text), "text": "Xin giấy phép nuôi gà", "code": BIRTH},
    )
    assert dup.status_code == 400
    with db.session_scope(engine) as session:
        versions = session.scalars(db.select(db.CatalogueVersion.version)).all()
        assert sorted(versions) == [1, 2, 3]
    engine.dispose()


def test_a_province_admin_s_alias_goes_into_a_province_draft(app, database):
    client = login(app, "tinh79")
    page = client.get("/not-understood").text
    response = client.post(
        "/not-understood/alias",
        data={"csrf": csrf_of(page), "text": "làm giấy khai sanh", "code": BIRTH},
    )
    assert response.headers["location"] == "/catalogue/2?scope=province/79"
    versions = login(app, "tinh01").get("/api/v1/catalogue/versions").json()
    assert [(v["scope"], v["version"]) for v in versions] == [("all", 1)]


# -- catalogue: view, search, publish, acks ---------------------------------------------------


def test_catalogue_search_and_publication_with_acks(app, database, publisher):
    client = login(app, "trung")
    listing = client.get("/catalogue").text
    assert "Phiên bản 1" in listing
    found = client.get("/catalogue/1?scope=all&q=kết hôn").text
    assert "Đăng ký kết hôn" in found and "Đăng ký khai tử" not in found
    by_alias = client.get("/catalogue/1?scope=all&q=báo tử").text
    assert "Đăng ký khai tử" in by_alias and "Đăng ký kết hôn" not in by_alias

    page = client.get("/catalogue/1?scope=all").text
    response = client.post(
        "/catalogue/publish",
        data={"csrf": csrf_of(page), "scope": "all", "version": "1", "target": "province/79"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/catalogue/2?scope=province/79"
    assert [(c["scope"], c["version"]) for c in publisher.calls] == [("province/79", 2)]
    cat.validate(publisher.calls[0])

    engine = engine_of(database)
    with db.session_scope(engine) as session:
        row = session.get(db.CatalogueVersion, ("province/79", 2))
        assert row.published_at is not None and row.manifest["version"] == 2
        session.add(
            db.Ack(
                device_id="box-b",
                scope="province/79",
                version=2,
                kind="update",
                result="rejected",
                reason="signature_invalid: chữ ký sai",
                catalogue_version=1,
                at=NOW,
                received_at=NOW,
            )
        )
    engine.dispose()
    acks = client.get("/catalogue/2?scope=province/79").text
    assert "0 đã áp dụng" in acks and "1 từ chối" in acks and "1 đang chờ" in acks
    assert "chữ ký sai" in acks
    assert "box-c" not in acks  # province 01 is outside the scope


def test_a_failed_publication_is_reported_and_not_marked_published(database, clock):
    def broken(content):
        raise RuntimeError("broker refused")

    app = create_app(database, secret_key=SECRET, publisher=broken, clock=clock)
    client = login(app, "trung")
    page = client.get("/catalogue/1?scope=all").text
    response = client.post(
        "/catalogue/publish",
        data={"csrf": csrf_of(page), "scope": "all", "version": "1", "target": "all"},
    )
    shown = client.get(response.headers["location"]).text
    assert "broker refused" in shown
    engine = engine_of(database)
    with db.session_scope(engine) as session:
        row = session.get(db.CatalogueVersion, ("all", 1))
        assert row.manifest is None
    engine.dispose()


# -- API access, OpenAPI, reports ------------------------------------------------------------


def test_api_with_http_basic_and_openapi(app):
    client = TestClient(app)
    assert client.get("/api/v1/boxes", auth=("tinh01", PASSWORD)).json()[0]["device_id"] == "box-c"
    assert client.get("/api/v1/boxes", auth=("tinh01", "wrong")).status_code == 401
    spec = client.get("/api/openapi.json").json()
    assert {"/api/v1/stats", "/api/v1/boxes", "/api/v1/not-understood"} <= set(spec["paths"])
    assert not any(path in spec["paths"] for path in ("/", "/login", "/boxes"))


def test_monthly_report_xlsx_and_csv(app):
    from openpyxl import load_workbook

    client = login(app, "trung")
    month = f"year={TODAY.year}&month={TODAY.month}"
    xlsx = client.get(f"/reports/monthly.xlsx?{month}")
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content))
    by_commune = list(book["Theo xã"].iter_rows(values_only=True))
    assert by_commune[0][:2] == ("Tỉnh", "Xã")
    assert book["Theo xã"]["A1"].font.bold and not book["Theo xã"]["A2"].font.bold
    yesterday = TODAY - timedelta(days=1)
    expected_a = 3 if yesterday.month == TODAY.month else 1
    rows = {(r[0], r[1]): r for r in by_commune[1:]}
    assert rows[("79", "26734")][4] == expected_a
    assert rows[("01", "00004")][5] == 2  # not understood
    procedures = {r[0]: r for r in book["Theo thủ tục"].iter_rows(values_only=True)}
    assert procedures[DEATH][1] == "Đăng ký khai tử"

    text = login(app, "tinh01").get(f"/reports/monthly.csv?{month}").content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    communes = [row[:2] for row in lines if row[:1] in (["79"], ["01"])]
    assert communes == [["01", "00004"]]


def test_add_user_command_reads_the_password_from_stdin(database, monkeypatch, capsys):
    from hoixa import cli

    monkeypatch.setattr("sys.stdin", io.StringIO("mat-khau-moi-123\n"))
    code = cli.main(
        [
            "server",
            "add-user",
            "tinh48",
            "--role",
            "province",
            "--province",
            "48",
            "--database",
            database,
        ]
    )
    assert code == 0, capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["server", "add-user", "x1", "--role", "central", "--database", database]) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO("mat-khau-moi-123\n"))
    assert (
        cli.main(
            [
                "server",
                "add-user",
                "x2",
                "--role",
                "commune",
                "--province",
                "48",
                "--database",
                database,
            ]
        )
        == 1
    )
    app = create_app(database, secret_key=SECRET)
    client = TestClient(app)
    assert client.get("/api/v1/boxes", auth=("tinh48", "mat-khau-moi-123")).json() == []


# -- catalogue import and comparison ---------------------------------------------------------


def upload(client: TestClient, content: bytes, filename: str = "danh-muc.json"):
    token = csrf_of(client.get("/catalogue").text)
    return client.post(
        "/catalogue/import",
        data={"csrf": token},
        files={"file": (filename, content, "application/json")},
    )


def test_importing_a_valid_json_catalogue_makes_the_next_draft(app, database):
    doc = base_catalogue()
    doc["version"] = 40  # the file's own number is replaced by the next free one
    doc["procedures"].append(make_procedure("1.000001", "Chứng thực chữ ký", field="Chứng thực"))
    response = upload(login(app, "trung"), json.dumps(doc, ensure_ascii=False).encode())
    assert response.status_code == 303
    assert response.headers["location"] == "/catalogue/2?scope=all"
    response = upload(login(app, "tinh79"), json.dumps(doc, ensure_ascii=False).encode())
    assert response.headers["location"] == "/catalogue/3?scope=province/79"
    engine = engine_of(database)
    with db.session_scope(engine) as session:
        row = session.get(db.CatalogueVersion, ("province/79", 3))
        cat.validate(row.content)
        assert len(row.content["procedures"]) == 4 and row.published_at is None
    engine.dispose()


def test_an_invalid_catalogue_file_is_reported_where_and_nothing_is_imported(app, database):
    client = login(app, "trung")
    doc = base_catalogue()
    del doc["procedures"][1]["steps"]
    doc["procedures"][2]["code"] = "khai-tu"
    response = upload(client, json.dumps(doc, ensure_ascii=False).encode())
    assert response.status_code == 400
    assert "Chưa có gì được lưu" in response.text
    assert "Đăng ký kết hôn" in response.text and "steps" in response.text
    assert "khai-tu" in response.text
    broken = upload(client, b'{"version": 1,\n "scope": }')
    assert broken.status_code == 400 and "line 2, column" in broken.text
    assert upload(client, b"a,b\n", "danh-muc.csv").status_code == 400
    assert client.get("/api/v1/catalogue/versions").json()[0]["version"] == 1


def test_comparing_two_versions_shows_added_removed_and_changed_procedures(app):
    client = login(app, "trung")
    doc = base_catalogue()
    doc["procedures"] = doc["procedures"][1:]  # birth removed
    doc["procedures"][0]["aliases"].append("cưới vợ")
    doc["procedures"][1]["fees"] = []
    doc["procedures"].append(make_procedure("1.000001", "Chứng thực chữ ký"))
    assert upload(client, json.dumps(doc, ensure_ascii=False).encode()).status_code == 303
    page = client.get("/catalogue-diff", params={"pair_a": "all|1", "pair_b": "all|2"})
    assert page.status_code == 200
    text = page.text
    added = text[text.index("<h2>Thêm</h2>") : text.index("<h2>Bỏ đi</h2>")]
    removed = text[text.index("<h2>Bỏ đi</h2>") : text.index("<h2>Thay đổi</h2>")]
    changed = text[text.index("<h2>Thay đổi</h2>") :]
    assert "Chứng thực chữ ký" in added and "Đăng ký khai sinh" not in added
    assert "Đăng ký khai sinh" in removed
    assert "cưới vợ" in changed and "aliases" in changed
    assert "Đăng ký khai tử" in changed and "fees" in changed
    assert (
        client.get("/catalogue-diff", params={"pair_a": "all|x", "pair_b": "all|2"}).status_code
        == 404
    )


TABLE_HEADER = [
    "code",
    "name",
    "field",
    "level",
    "agency",
    "steps",
    "documents",
    "processing_time",
    "working_days",
    "fees",
    "submission",
    "result",
    "legal_basis",
    "aliases",
]


def table_row(code: str, name: str, **changes) -> list:
    row = {
        "code": code,
        "name": name,
        "field": "Hộ tịch",
        "level": "commune",
        "agency": "UBND cấp xã",
        "steps": "Nộp hồ sơ.\nNhận kết quả.",
        "documents": "Tờ khai\nGiấy tờ tùy thân",
        "processing_time": "Trong ngày",
        "working_days": "0",
        "fees": "Lệ phí: 8.000\nMiễn cho người nghèo",
        "submission": "in_person, online",
        "result": "Giấy xác nhận",
        "legal_basis": "60/2014/QH13: Luật Hộ tịch",
        "aliases": "làm giấy khai sinh",
    } | changes
    return [row[key] for key in TABLE_HEADER]


def xlsx_bytes(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_spreadsheet_catalogue_with_mistakes_is_reported_by_row_and_column(app):
    client = login(app, "trung")
    rows = [
        TABLE_HEADER,
        table_row(BIRTH, "Đăng ký khai sinh"),
        table_row(MARRIAGE, "Đăng ký kết hôn", level="xã", working_days="ba ngày"),
        table_row(DEATH, "Đăng ký khai tử", steps="", result=""),
    ]
    response = upload(client, xlsx_bytes(rows), "danh-muc.xlsx")
    assert response.status_code == 400
    text = response.text
    assert "Dòng 3, cột D (level)" in text  # the level column is D
    assert "Dòng 3, cột I (working_days)" in text
    assert "Dòng 4, cột F (steps)" in text and "Dòng 4, cột L (result)" in text
    assert "Dòng 2" not in text  # the right row is not blamed
    assert client.get("/api/v1/catalogue/versions").json()[0]["version"] == 1

    unknown = upload(client, xlsx_bytes([[*TABLE_HEADER, "ghi chú"]]), "danh-muc.xlsx")
    assert "Dòng 1, cột O (ghi chú)" in unknown.text


def test_a_correct_csv_catalogue_becomes_the_next_draft(app, database):
    out = io.StringIO()
    csv.writer(out).writerows(
        [TABLE_HEADER, table_row(BIRTH, "Đăng ký khai sinh"), table_row(DEATH, "Đăng ký khai tử")]
    )
    client = login(app, "tinh79")
    response = upload(client, out.getvalue().encode("utf-8-sig"), "danh-muc.csv")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/catalogue/2?scope=province/79"
    engine = engine_of(database)
    with db.session_scope(engine) as session:
        content = session.get(db.CatalogueVersion, ("province/79", 2)).content
    engine.dispose()
    cat.validate(content)
    assert "referrals" not in content  # none before, none now
    birth = content["procedures"][0]
    assert birth["steps"] == ["Nộp hồ sơ.", "Nhận kết quả."]
    assert birth["fees"] == [
        {"name": "Lệ phí", "amount_vnd": 8000},
        {"name": "Miễn cho người nghèo"},
    ]
    assert birth["submission"] == [{"mode": "in_person"}, {"mode": "online"}]
    assert birth["legal_basis"] == [{"code": "60/2014/QH13", "title": "Luật Hộ tịch"}]
    assert birth["processing_time"] == {"text": "Trong ngày", "working_days": 0}


def test_a_spreadsheet_import_keeps_the_referrals_of_the_catalogue_it_replaces(app, database):
    client = login(app, "trung")
    doc = base_catalogue()
    doc["referrals"] = [
        {"id": "ref.ho-chieu", "name": "làm hộ chiếu", "aliases": ["làm hộ chiếu"], "where": "X"}
    ]
    assert upload(client, json.dumps(doc, ensure_ascii=False).encode()).status_code == 303
    out = io.StringIO()
    csv.writer(out).writerows([TABLE_HEADER, table_row(BIRTH, "Đăng ký khai sinh")])
    response = upload(client, out.getvalue().encode("utf-8-sig"), "danh-muc.csv")
    assert response.headers["location"] == "/catalogue/3?scope=all"
    engine = engine_of(database)
    with db.session_scope(engine) as session:
        content = session.get(db.CatalogueVersion, ("all", 3)).content
    engine.dispose()
    assert [p["code"] for p in content["procedures"]] == [BIRTH]
    assert content["referrals"] == doc["referrals"]
    page = client.get("/catalogue/3", params={"scope": "all"}).text
    assert "Việc hỏi ở nơi khác" in page and "làm hộ chiếu" in page
