"""What the console refuses: no login, another province's data, a read-only user's changes,
forms without their CSRF token, script in data, SQL in parameters, big bodies, old sessions."""

# ruff: noqa: F811  (the fixtures imported from test_web_console are pytest parameters here)
from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from test_web_console import (  # noqa: F401  (fixtures)
    BIRTH,
    NOW,
    PASSWORD,
    SECRET,
    app,
    base_catalogue,
    clock,
    conversation,
    csrf_of,
    database,
    database_template,
    login,
    publisher,
)

from hoixa.server import db
from hoixa.server.web.app import IDLE_TIMEOUT_S, MAX_BODY_BYTES, MAX_UPLOAD_BYTES, create_app

PAGES = ["/", "/boxes", "/boxes/box-a", "/not-understood", "/catalogue", "/catalogue/1?scope=all"]
API = [
    "/api/v1/stats",
    "/api/v1/boxes",
    "/api/v1/boxes/box-a",
    "/api/v1/not-understood",
    "/api/v1/catalogue/versions",
    "/reports/monthly.xlsx",
    "/reports/monthly.csv",
]
SCRIPT = "<script>alert(1)</script>"


def versions(url: str) -> list[tuple[str, int]]:
    engine = db.make_engine(url)
    with db.session_scope(engine) as session:
        rows = session.execute(db.select(db.CatalogueVersion.scope, db.CatalogueVersion.version))
        out = sorted(tuple(r) for r in rows)
    engine.dispose()
    return out


def test_nothing_without_login(app, database):
    client = TestClient(app, follow_redirects=False)
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/login", path
    for path in API:
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"].startswith("Basic")
    token = csrf_of(client.get("/login").text)  # an anonymous session's own token
    response = client.post(
        "/not-understood/alias", data={"csrf": token, "text": "abc", "code": BIRTH}
    )
    assert response.status_code == 303 and response.headers["location"] == "/login"
    response = client.post(
        "/catalogue/publish",
        data={"csrf": token, "scope": "all", "version": "1", "target": "all"},
    )
    assert response.status_code == 303
    assert versions(database) == [("all", 1)]


def test_a_province_admin_stays_in_their_province(app, database, publisher):
    client = login(app, "tinh79")
    assert client.get("/boxes/box-c").status_code == 403
    assert client.get("/api/v1/boxes/box-c").status_code == 403
    assert "box-c" not in client.get("/boxes?province=01").text
    assert all(b["province"] == "79" for b in client.get("/api/v1/boxes?province=01").json())
    # a catalogue for province 01 is invisible to them
    engine = db.make_engine(database)
    with db.session_scope(engine) as session:
        db.store_catalogue_version(
            session, base_catalogue() | {"scope": "province/01", "version": 2}
        )
    engine.dispose()
    assert client.get("/catalogue/2?scope=province/01").status_code == 403
    assert "province/01" not in client.get("/catalogue").text

    token = csrf_of(client.get("/catalogue/1?scope=all").text)
    for target in ("province/01", "commune/00004", "all", "province/7", "nonsense"):
        response = client.post(
            "/catalogue/publish",
            data={"csrf": token, "scope": "all", "version": "1", "target": target},
        )
        assert response.status_code == 403, target
    assert publisher.calls == []
    assert versions(database) == [("all", 1), ("province/01", 2)]
    # their own province and a commune with one of their boxes are allowed
    for target in ("province/79", "commune/26737"):
        response = client.post(
            "/catalogue/publish",
            data={"csrf": token, "scope": "all", "version": "1", "target": target},
        )
        assert response.status_code == 303, target
    assert [c["scope"] for c in publisher.calls] == ["province/79", "commune/26737"]


def test_a_commune_viewer_reads_their_box_only_and_changes_nothing(app, database, publisher):
    client = login(app, "xa26734")
    assert client.get("/boxes/box-a").status_code == 200
    assert client.get("/boxes/box-b").status_code == 403  # same province, other commune
    token = csrf_of(client.get("/not-understood").text)
    assert 'action="/not-understood/alias"' not in client.get("/not-understood").text
    assert (
        client.post(
            "/not-understood/alias", data={"csrf": token, "text": "abc", "code": BIRTH}
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/catalogue/publish",
            data={"csrf": token, "scope": "all", "version": "1", "target": "commune/26734"},
        ).status_code
        == 403
    )
    upload = client.post(
        "/catalogue/import",
        data={"csrf": token},
        files={"file": ("c.json", json.dumps(base_catalogue()).encode(), "application/json")},
    )
    assert upload.status_code == 403
    assert publisher.calls == [] and versions(database) == [("all", 1)]


def test_forms_without_the_session_s_csrf_token_are_refused(app, database):
    client = login(app, "trung")
    other = login(app, "tinh79")
    others_token = csrf_of(other.get("/").text)
    for data in (
        {"text": "abc", "code": BIRTH},
        {"text": "abc", "code": BIRTH, "csrf": ""},
        {"text": "abc", "code": BIRTH, "csrf": "forged"},
        {"text": "abc", "code": BIRTH, "csrf": others_token},
    ):
        assert client.post("/not-understood/alias", data=data).status_code == 403
    assert versions(database) == [("all", 1)]
    assert client.post("/logout").status_code == 403
    assert client.get("/").status_code == 200  # still logged in
    anonymous = TestClient(app, follow_redirects=False)
    anonymous.get("/login")
    response = anonymous.post("/login", data={"username": "trung", "password": PASSWORD})
    assert response.status_code == 403


def test_script_in_names_and_transcripts_is_shown_as_text(app, database):
    catalogue = base_catalogue()
    catalogue["procedures"][0]["name"] = f"Khai sinh {SCRIPT}"
    catalogue["procedures"][0]["aliases"].append(SCRIPT)
    catalogue["version"] = 2
    engine = db.make_engine(database)
    with db.session_scope(engine) as session:
        db.store_catalogue_version(session, catalogue)
        conversation(
            session,
            "box-a",
            db.local_date_of(NOW),
            [("not_found", None, f"hỏi {SCRIPT}"), ("answer", BIRTH, None)],
        )
        box = session.get(db.Device, "box-a")
        box.display_name, box.last_error = SCRIPT, SCRIPT
        box.health = {SCRIPT: SCRIPT}
    engine.dispose()
    client = login(app, "trung")
    for path in [*PAGES, "/catalogue/2?scope=all", "/catalogue/2?scope=all&q=" + SCRIPT]:
        text = client.get(path).text
        assert SCRIPT not in text, path
        assert "<script" not in text, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/catalogue/2?scope=all").text
    assert "&lt;script&gt;" in client.get("/not-understood").text
    assert "&lt;script&gt;" in client.get("/boxes/box-a").text


INJECTIONS = ["01' OR '1'='1", "1; DROP TABLE users; --", "%' OR 1=1 --", '"); --']


def test_sql_in_filters_and_search_is_harmless(app, database):
    client = login(app, "tinh79")
    for attack in INJECTIONS:
        for path in ("/", "/boxes", "/not-understood"):
            response = client.get(path, params={"province": attack, "commune": attack})
            assert response.status_code == 200, (path, attack)
            assert "box-c" not in response.text and "00004" not in response.text
        response = client.get("/api/v1/stats", params={"province": attack})
        assert response.status_code == 422
        assert client.get("/api/v1/not-understood", params={"from": attack}).status_code == 422
        page = client.get("/catalogue/1", params={"scope": "all", "q": attack})
        assert page.status_code == 200 and "0 thủ tục" in page.text
        assert client.get("/catalogue/1", params={"scope": attack}).status_code == 404
        assert client.get(f"/boxes/{attack}").status_code == 404
        anonymous = TestClient(app)
        assert anonymous.get("/api/v1/boxes", auth=(attack, attack)).status_code == 401
    engine = db.make_engine(database)
    with db.session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(db.User)) == 4
    engine.dispose()


def test_oversized_bodies_are_refused(app, database):
    client = login(app, "trung")
    token = csrf_of(client.get("/").text)
    response = client.post(
        "/not-understood/alias",
        data={"csrf": token, "code": BIRTH, "text": "x" * (MAX_BODY_BYTES + 1)},
    )
    assert response.status_code == 413
    too_big = client.post(
        "/catalogue/import",
        data={"csrf": token},
        files={"file": ("big.json", b" " * (MAX_UPLOAD_BYTES + 1), "application/json")},
    )
    assert too_big.status_code == 413
    chunked = client.post(
        "/not-understood/alias",
        content=iter([b"csrf=", token.encode()]),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert chunked.status_code == 411  # no length: the limit could not be checked up front
    assert versions(database) == [("all", 1)]


def test_sessions_expire_after_being_idle(app, clock):
    client = login(app, "trung")
    clock.now += IDLE_TIMEOUT_S - 60
    assert client.get("/").status_code == 200  # activity keeps the session alive
    clock.now += IDLE_TIMEOUT_S - 60
    assert client.get("/").status_code == 200
    clock.now += IDLE_TIMEOUT_S + 1
    assert client.get("/").status_code == 303
    assert client.get("/api/v1/boxes").status_code == 401
    clock.now -= IDLE_TIMEOUT_S  # going back does not revive it: the session was cleared
    assert client.get("/").status_code == 303


def test_tampered_cookies_and_disabled_accounts_are_refused(app, database):
    client = login(app, "trung")
    cookie = client.cookies.get("hoixa_session")
    client.cookies.set("hoixa_session", cookie[:-4] + ("AAAA" if cookie[-4:] != "AAAA" else "BBBB"))
    assert client.get("/").status_code == 303
    client = login(app, "tinh01")
    engine = db.make_engine(database)
    with db.session_scope(engine) as session:
        session.scalar(db.select(db.User).where(db.User.username == "tinh01")).active = False
    engine.dispose()
    assert client.get("/").status_code == 303
    assert TestClient(app).get("/api/v1/boxes", auth=("tinh01", PASSWORD)).status_code == 401


def test_a_short_secret_key_is_refused(database):
    with pytest.raises(ValueError):
        create_app(database, secret_key="short")
    assert SECRET  # the tests' key is long enough


def test_far_future_or_past_dates_do_not_make_huge_answers(app):
    """Found by schemathesis: per-day figures list every day of the range."""
    client = login(app, "tinh79")
    response = client.get("/api/v1/stats", params={"to": "8253-01-01", "from": "0001-01-01"})
    assert response.status_code == 200
    days = response.json()["per_day"]
    assert len(days) < 366 * 10
    assert sum(d["questions"] for d in days) == 4  # nothing lost by the clamping
    page = client.get("/", params={"to": "9999-12-31"})
    assert page.status_code == 200 and page.text.count("<rect") < 366 * 10
