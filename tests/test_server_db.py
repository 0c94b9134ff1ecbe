"""The central server's database on SQLite and on a real PostgreSQL: migrations, models, and
the dashboard's statistics on a small hand-made dataset whose answers are worked out here in
plain Python, not with the SQL under test."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pg import database_url, postgres  # noqa: F401  (fixtures)
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hoixa.contract import messages, topics
from hoixa.server import db, ingest, stats
from hoixa.vietnamese import normalize


@pytest.fixture
def engine(database_url):  # noqa: F811
    db.upgrade_database(database_url)
    engine = db.make_engine(database_url)
    yield engine
    engine.dispose()


# -- migrations -----------------------------------------------------------------------------


def test_upgrade_builds_the_schema_of_the_models_and_a_second_run_changes_nothing(
    database_url,  # noqa: F811
):
    db.upgrade_database(database_url)
    engine = db.make_engine(database_url)
    try:
        assert db.current_revision(engine) == db.head_revision()
        tables = set(inspect(engine).get_table_names())
        assert tables == set(db.Base.metadata.tables) | {"alembic_version"}
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, db.Base.metadata) == []
        with Session(engine) as session, session.begin():
            session.add(db.Device(device_id="box-001", province="87", commune="30001"))
        db.upgrade_database(database_url)  # again: nothing to do, nothing lost
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(db.Device)) == 1
    finally:
        engine.dispose()


SECOND_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "9001"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("site_note", sa.String(200), nullable=False,
                                   server_default="chưa ghi"))
    op.create_index("ix_turns_category", "turns", ["category"])


def downgrade():
    op.drop_index("ix_turns_category", table_name="turns")
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("site_note")
"""


def test_rows_written_at_one_revision_survive_the_next(database_url, tmp_path):  # noqa: F811
    db.upgrade_database(database_url)
    engine = db.make_engine(database_url)
    try:
        store(engine, [conversation("box-a", "2026-03-02T02:00:00Z", [answer("1.001193")])])
        with Session(engine, expire_on_commit=False) as session, session.begin():
            db.store_catalogue_version(session, catalogue_doc(1, {"1.001193": "Hộ tịch"}))
            session.add(db.User(username="an", password_hash="x", role="central"))
        versions = tmp_path / "versions"
        versions.mkdir()
        (versions / "9001_site_note.py").write_text(
            SECOND_REVISION.format(head=db.head_revision()), encoding="utf-8"
        )
        config = db.alembic_config(url=database_url)
        config.set_main_option(
            "version_locations", f"{db.MIGRATIONS_DIR / 'versions'}{os.pathsep}{versions}"
        )
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")
        assert db.current_revision(engine) == "9001"
        with engine.connect() as connection:
            note = connection.execute(text("SELECT device_id, site_note FROM devices")).all()
            assert note == [("box-a", "chưa ghi")]
        with Session(engine) as session:
            event = session.scalars(select(db.Event)).one()
            assert event.device_id == "box-a"
            assert event.started_at == datetime(2026, 3, 2, 2, tzinfo=UTC)
            assert [t.procedure_code for t in session.scalars(select(db.Turn))] == ["1.001193"]
            assert session.get(db.ProcedureField, "1.001193").field == "Hộ tịch"
            assert session.scalars(select(db.User.username)).all() == ["an"]
        assert "ix_turns_category" in {i["name"] for i in inspect(engine).get_indexes("turns")}
    finally:
        engine.dispose()


# -- models ---------------------------------------------------------------------------------


def test_timestamps_come_back_in_utc_and_the_day_is_vietnam_s(engine):
    hanoi = timezone(timedelta(hours=7))
    # 23:30 in Hà Nội on 1 March is 16:30 UTC the same day; 01:30 on 2 March is 18:30 UTC
    # on 1 March: the office's day, not the UTC one, is what counts.
    late = datetime(2026, 3, 2, 1, 30, tzinfo=hanoi)
    assert db.local_date_of(late) == date(2026, 3, 2)
    assert late.astimezone(UTC).date() == date(2026, 3, 1)
    with Session(engine) as session, session.begin():
        session.add(db.Device(device_id="box-t", province="01", commune="00001", last_seen_at=late))
    with Session(engine) as session:
        seen = session.get(db.Device, "box-t").last_seen_at
        assert seen.utcoffset() == timedelta(0)
        assert seen == late
        found = session.scalar(
            select(db.Device.device_id).where(
                db.Device.last_seen_at > datetime(2026, 3, 1, 18, 29, tzinfo=UTC)
            )
        )
        assert found == "box-t"
    with pytest.raises(ValueError, match="timezone-aware"):
        db.utc(datetime(2026, 3, 2))


def catalogue_doc(version: int, fields: dict[str, str], scope: str = "all") -> dict:
    return {
        "schema_version": 1,
        "version": version,
        "scope": scope,
        "issued_at": "2026-03-01T00:00:00Z",
        "procedures": [
            {"code": code, "name": f"Thủ tục {code}", "field": field}
            for code, field in fields.items()
        ],
    }


def test_each_stored_catalogue_refreshes_the_procedure_fields(engine):
    with Session(engine) as session, session.begin():
        db.store_catalogue_version(
            session, catalogue_doc(1, {"1.001193": "Hộ tịch", "2.000815": "Chứng thực"})
        )
    with Session(engine) as session, session.begin():
        db.store_catalogue_version(
            session,
            catalogue_doc(2, {"2.000815": "Chứng thực điện tử", "local.tam-tru": "Cư trú"}),
            created_by="admin",
        )
    with Session(engine) as session:
        fields = dict(
            session.execute(select(db.ProcedureField.code, db.ProcedureField.field)).all()
        )
        assert fields == {
            "1.001193": "Hộ tịch",  # no longer in the latest catalogue: the last known field
            "2.000815": "Chứng thực điện tử",
            "local.tam-tru": "Cư trú",
        }
        versions = session.scalars(select(db.CatalogueVersion).order_by("version")).all()
        assert [(v.scope, v.version, v.created_by) for v in versions] == [
            ("all", 1, None),
            ("all", 2, "admin"),
        ]
        assert versions[1].content["procedures"][1]["code"] == "local.tam-tru"


@pytest.mark.parametrize(
    ("role", "province", "commune"),
    [("province", None, None), ("commune", "87", None), ("mayor", None, None)],
)
def test_a_user_s_role_needs_its_place(engine, role, province, commune):
    with pytest.raises(IntegrityError), Session(engine) as session, session.begin():
        session.add(
            db.User(username="x", password_hash="h", role=role, province=province, commune=commune)
        )


def test_usernames_are_unique_and_counters_add_up(engine):
    with Session(engine) as session, session.begin():
        session.add(
            db.User(
                username="lan", password_hash="h", role="commune", province="87", commune="30001"
            )
        )
    with pytest.raises(IntegrityError), Session(engine) as session, session.begin():
        session.add(db.User(username="lan", password_hash="h", role="central"))
    with Session(engine) as session, session.begin():
        db.add_to_counters(session, {"received": 3, "malformed.not_json": 1})
    with Session(engine) as session, session.begin():
        db.add_to_counters(session, {"received": 2, "stored": 2})
    with Session(engine) as session:
        assert db.counters(session) == {"received": 5, "malformed.not_json": 1, "stored": 2}


# -- a hand-made dataset for the statistics --------------------------------------------------

PLACES = {
    "box-a": ("87", "30001"),
    "box-b": ("87", "30001"),
    "box-c": ("87", "30010"),
    "box-d": ("01", "00004"),
}
FIELDS = {"1.001193": "Hộ tịch", "1.000894": "Hộ tịch", "2.000815": "Chứng thực"}


def answer(code: str, category: str | None = None) -> dict:
    return {"action": "answer", "procedure": code, "category": category, "confidence": 0.9}


def menu(code: str) -> dict:
    return {"action": "menu", "procedure": code, "category": None, "confidence": 0.8}


def not_found(heard: str | None) -> dict:
    turn = {"action": "not_found", "procedure": None, "category": None, "confidence": 0.1}
    if heard is not None:
        turn["heard"] = heard
    return turn


def other(action: str) -> dict:
    return {"action": action, "procedure": None, "category": None, "confidence": 0.0}


def conversation(device: str, started: str, turns: list[dict], satisfaction=None) -> dict:
    return {
        "schema": "hoixa.event/1",
        "event_id": str(uuid.uuid4()),
        "device_id": device,
        "session_id": str(uuid.uuid4()),
        "started_at": started,
        "ended_at": started,
        "catalogue_version": 1,
        "turns": turns,
        "termination": "thanks",
        "satisfaction": satisfaction,
        "satisfaction_by": "voice" if satisfaction else None,
    }


def dataset() -> list[dict]:
    return [
        # 1 March (Vietnam) — the first starts 23:10 UTC on 28 February
        conversation(
            "box-a",
            "2026-02-28T23:10:00Z",
            [menu("1.001193"), answer("1.001193", "fees"), other("satisfaction")],
            "satisfied",
        ),
        conversation(
            "box-b",
            "2026-03-01T03:00:00Z",
            [not_found("Xin cấp sổ đỏ"), not_found("xin cấp  SỔ ĐỎ!"), answer("2.000815", "steps")],
            "unsatisfied",
        ),
        conversation("box-c", "2026-03-01T09:00:00Z", [other("greeting"), not_found(None)]),
        # 2 March: 16:59 UTC is 23:59 in Vietnam, still the 2nd
        conversation(
            "box-a",
            "2026-03-02T16:59:00Z",
            [answer("1.000894", "documents"), answer("1.000894", "fees"), clarify("1.001193")],
            "satisfied",
        ),
        conversation(
            "box-d",
            "2026-03-02T02:00:00Z",
            [answer("9.999999", "steps"), not_found("làm lại căn cước")],
            None,
        ),
        # 4 March (nothing on the 3rd)
        conversation(
            "box-c",
            "2026-03-04T01:00:00Z",
            [not_found("xin cap so do"), answer("1.001193", "steps")],
            "satisfied",
        ),
        # April: outside the March report
        conversation("box-b", "2026-04-01T02:00:00Z", [answer("2.000815", "fees")], "satisfied"),
    ]


def clarify(code: str) -> dict:
    return {"action": "clarify", "procedure": code, "category": None, "confidence": 0.5}


def store(engine, events: list[dict]) -> None:
    known: set[str] = set()
    items = []
    for i, event in enumerate(events):
        province, commune = PLACES.get(event["device_id"], ("87", "30001"))
        place = topics.DevicePlace(province, commune, event["device_id"])
        payload = messages.encode(event, "hoixa.event/1")
        message = ingest.Incoming(place.events(), payload, i, 0, 0, db.utc_now())
        items.append(ingest.parse(message, messages.MAX_PAYLOAD_BYTES))
    with Session(engine) as session, session.begin():
        ingest.write_batch(session, items, known)


@pytest.fixture
def filled(engine):
    store(engine, dataset())
    with Session(engine) as session, session.begin():
        db.store_catalogue_version(session, catalogue_doc(3, FIELDS))
    return engine


# Expected values, worked out from dataset() by hand-written Python.


def vietnam_day(started: str) -> date:
    moment = datetime.fromisoformat(started)
    return (moment + timedelta(hours=7)).date()


def expected_rows(flt: stats.Filter) -> list[tuple[dict, dict]]:
    """(event, turn) pairs of the dataset that the filter keeps."""
    out = []
    for event in dataset():
        day = vietnam_day(event["started_at"])
        province, commune = PLACES[event["device_id"]]
        if (flt.date_from and day < flt.date_from) or (flt.date_to and day > flt.date_to):
            continue
        if (flt.province and province != flt.province) or (flt.commune and commune != flt.commune):
            continue
        out.append(event)
    return out


def test_questions_per_day_counts_vietnam_days_and_fills_the_gaps(filled):
    with Session(filled) as session:
        rows = stats.questions_per_day(
            session, stats.Filter(date(2026, 3, 1), date(2026, 3, 5), province="87")
        )
    assert [(r.day.day, r.conversations, r.questions) for r in rows] == [
        (1, 3, 6),  # box-a: menu+answer; box-b: 2 not_found+answer; box-c: 1 not_found
        (2, 1, 3),  # box-a on the 2nd (box-d is province 01)
        (3, 0, 0),
        (4, 1, 2),
        (5, 0, 0),
    ]


def test_top_procedures_and_fields(filled):
    flt = stats.month_filter(2026, 3)
    events = expected_rows(flt)
    asked = Counter()
    conversations = Counter()
    for event in events:
        codes = [t["procedure"] for t in event["turns"] if t["action"] in ("answer", "menu")]
        asked.update(codes)
        conversations.update(set(codes))
    with Session(filled) as session:
        top = stats.top_procedures(session, flt, limit=None)
        fields = stats.per_field(session, flt)
    assert {p.code: p.questions for p in top} == dict(asked)
    assert {p.code: p.conversations for p in top} == dict(conversations)
    assert [p.questions for p in top] == sorted(asked.values(), reverse=True)
    named = {p.code: (p.name, p.field) for p in top}
    assert named["1.001193"] == ("Thủ tục 1.001193", "Hộ tịch")
    assert named["9.999999"] == (None, stats.UNKNOWN_FIELD)
    by_field = Counter()
    for code, n in asked.items():
        by_field[FIELDS.get(code, stats.UNKNOWN_FIELD)] += n
    assert {f.field: f.questions for f in fields} == dict(by_field)
    assert {f.field: f.procedures for f in fields}["Hộ tịch"] == 2


def test_procedures_of_one_commune_are_counted_from_its_turns(filled):
    flt = stats.Filter(commune="30001")  # box-a and box-b, March and April
    asked = Counter(
        t["procedure"]
        for e in expected_rows(flt)
        for t in e["turns"]
        if t["action"] in ("answer", "menu")
    )
    with Session(filled) as session:
        top = stats.top_procedures(session, flt)
        fields = stats.per_field(session, flt)
    assert {p.code: p.questions for p in top} == dict(asked)
    assert {p.code: p.conversations for p in top} == {"1.001193": 1, "1.000894": 1, "2.000815": 2}
    assert {f.field: f.questions for f in fields} == {"Hộ tịch": 4, "Chứng thực": 2}


def expected_daily(events: list[dict]) -> tuple[dict, dict]:
    """The daily sums, worked out in Python: per (day, province, commune, box) and per
    (day, province, procedure)."""
    per_device: dict[tuple, Counter] = {}
    per_procedure: dict[tuple, Counter] = {}
    for event in events:
        day = vietnam_day(event["started_at"])
        province, commune = PLACES[event["device_id"]]
        sums = per_device.setdefault((day, province, commune, event["device_id"]), Counter())
        sums["conversations"] += 1
        sums[event["satisfaction"] or "no_answer"] += 1
        for turn in event["turns"]:
            if turn["action"] in ("answer", "menu", "clarify", "not_found"):
                sums["questions"] += 1
            if turn["action"] == "not_found":
                sums["not_understood"] += 1
        codes = [t["procedure"] for t in event["turns"] if t["action"] in ("answer", "menu")]
        for code in set(codes):
            counts = per_procedure.setdefault((day, province, code), Counter())
            counts["questions"] += codes.count(code)
            counts["conversations"] += 1
    return per_device, per_procedure


def daily_tables(engine) -> tuple[dict, dict]:
    names = (
        "conversations",
        "questions",
        "not_understood",
        "satisfied",
        "unsatisfied",
        "no_answer",
    )
    with Session(engine) as session:
        per_device = {
            (d.local_date, d.province, d.commune, d.device_id): Counter(
                {n: getattr(d, n) for n in names if getattr(d, n)}
            )
            for d in session.scalars(select(db.DailyDevice))
        }
        per_procedure = {
            (p.local_date, p.province, p.procedure_code): Counter(
                questions=p.questions, conversations=p.conversations
            )
            for p in session.scalars(select(db.DailyProcedure))
        }
    return per_device, per_procedure


def test_the_worker_keeps_the_daily_sums(filled):
    assert daily_tables(filled) == expected_daily(dataset())


def test_upgrading_fills_the_daily_sums_from_the_events_already_stored(database_url):  # noqa: F811
    db.upgrade_database(database_url, "0001")  # before the daily sums existed
    engine = db.make_engine(database_url)
    try:
        events = dataset()
        with Session(engine) as session, session.begin():
            for device_id, (province, commune) in PLACES.items():
                session.add(db.Device(device_id=device_id, province=province, commune=commune))
            session.flush()
            for event in events:
                province, commune = PLACES[event["device_id"]]
                place = topics.DevicePlace(province, commune, event["device_id"])
                row, turns = ingest.event_rows(event, place, db.utc_now())
                pk = session.execute(
                    db.Event.__table__.insert().returning(db.Event.__table__.c.id), row
                ).scalar_one()
                for turn in turns:
                    session.execute(db.Turn.__table__.insert(), {**turn, "event_pk": pk})
        db.upgrade_database(database_url)
        assert db.current_revision(engine) == db.head_revision()
        assert daily_tables(engine) == expected_daily(events)
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(db.Turn)) == sum(
                len(e["turns"]) for e in events
            )
    finally:
        engine.dispose()


def test_not_understood_share_and_satisfaction(filled):
    flt = stats.month_filter(2026, 3)
    turns = [t for e in expected_rows(flt) for t in e["turns"]]
    questions = [t for t in turns if t["action"] in ("answer", "menu", "clarify", "not_found")]
    misses = [t for t in questions if t["action"] == "not_found"]
    answers = Counter(e["satisfaction"] for e in expected_rows(flt))
    with Session(filled) as session:
        share = stats.not_understood_share(session, flt)
        sat = stats.satisfaction(session, flt)
        commune_sat = stats.satisfaction(session, stats.Filter(commune="30001"))
    assert (share.part, share.whole) == (len(misses), len(questions)) == (5, 13)
    assert share.ratio == pytest.approx(5 / 13)
    assert (sat.satisfied, sat.unsatisfied, sat.no_answer) == (
        answers["satisfied"],
        answers["unsatisfied"],
        answers[None],
    )
    assert sat.satisfied_share == pytest.approx(3 / 4)
    # commune 30001 over all time: box-a twice satisfied, box-b unsatisfied then satisfied
    assert (commune_sat.satisfied, commune_sat.unsatisfied, commune_sat.no_answer) == (3, 1, 0)


@pytest.mark.parametrize(
    "flt",
    [stats.month_filter(2026, 3), stats.Filter(commune="30001"), stats.Filter()],
    ids=["march", "one commune, all time", "everything"],
)
def test_the_dashboards_one_scan_overview_agrees_with_the_separate_figures(filled, flt):
    with Session(filled) as session:
        usage = stats.usage_overview(session, flt)
        assert usage.days == stats.questions_per_day(session, flt)
        assert usage.share == stats.not_understood_share(session, flt)
        assert usage.satisfaction == stats.satisfaction(session, flt)
    assert usage.days and usage.share.whole > 0


def test_not_understood_questions_are_grouped_by_their_normalised_spelling(filled):
    with Session(filled) as session:
        groups = stats.not_understood_groups(session, stats.month_filter(2026, 3))
    heard = [
        (t["heard"], vietnam_day(e["started_at"]), PLACES[e["device_id"]][1])
        for e in expected_rows(stats.month_filter(2026, 3))
        for t in e["turns"]
        if t["action"] == "not_found" and t.get("heard")
    ]
    keys = Counter(normalize(h) for h, _, _ in heard)
    assert {g.text: g.count for g in groups} == dict(keys)
    top = groups[0]
    assert top.text == normalize("Xin cấp sổ đỏ") and top.count == 2
    assert sorted(top.examples) == sorted(["Xin cấp sổ đỏ", "xin cấp  SỔ ĐỎ!"])
    assert top.last_seen == date(2026, 3, 1)
    # "xin cap so do" (no tone marks) is a different spelling after normalisation
    assert groups[1:] and all(g.count == 1 for g in groups[1:])
    assert {g.text for g in groups} >= {"xin cap so do", "làm lại căn cước"}


def test_monthly_report_per_commune(filled):
    with Session(filled) as session:
        report = stats.monthly_report(session, 2026, 3)
        province_report = stats.monthly_report(session, 2026, 3, province="01")
    events = expected_rows(stats.month_filter(2026, 3))
    by_place: dict[tuple[str, str], list[dict]] = {}
    for event in events:
        by_place.setdefault(PLACES[event["device_id"]], []).append(event)
    assert report.conversations == len(events) == 6
    assert [(r.province, r.commune) for r in report.by_commune] == sorted(by_place)
    for row in report.by_commune:
        mine = by_place[(row.province, row.commune)]
        turns = [t for e in mine for t in e["turns"]]
        assert row.conversations == len(mine)
        assert row.boxes == len({e["device_id"] for e in mine})
        assert row.questions == sum(
            t["action"] in ("answer", "menu", "clarify", "not_found") for t in turns
        )
        assert row.not_understood == sum(t["action"] == "not_found" for t in turns)
        assert row.satisfied == sum(e["satisfaction"] == "satisfied" for e in mine)
        assert row.no_answer == sum(e["satisfaction"] is None for e in mine)
    assert province_report.conversations == 1
    assert [p.code for p in province_report.by_procedure] == ["9.999999"]


def test_presence_counts_online_offline_and_boxes_gone_quiet(engine):
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    boxes = [
        ("box-on", True, now - timedelta(minutes=1), "87"),
        ("box-off", False, now - timedelta(hours=2), "87"),
        ("box-stuck", True, now - timedelta(hours=30), "87"),  # says online, silent for 30 h
        ("box-never", False, None, "87"),
        ("box-far", True, now - timedelta(hours=50), "01"),
        ("box-retired", False, now - timedelta(days=90), "87"),
    ]
    with Session(engine) as session, session.begin():
        for device_id, online, seen, province in boxes:
            session.add(
                db.Device(
                    device_id=device_id,
                    province=province,
                    commune="30001" if province == "87" else "00004",
                    online=online,
                    last_status_at=seen,
                    enrolled_at=None if device_id == "box-never" else now - timedelta(days=100),
                    retired_at=now if device_id == "box-retired" else None,
                )
            )
    with Session(engine) as session:
        everywhere = stats.presence(session, now=now)
        province = stats.presence(session, now=now, province="87", quiet_after=timedelta(hours=1))
    assert (everywhere.boxes, everywhere.online, everywhere.offline) == (5, 3, 2)
    assert everywhere.unenrolled == 1
    assert [q.device_id for q in everywhere.quiet] == ["box-never", "box-far", "box-stuck"]
    assert [q.device_id for q in province.quiet] == ["box-never", "box-stuck", "box-off"]
