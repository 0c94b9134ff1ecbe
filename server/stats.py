"""The figures the console's dashboard and the monthly reports show, as plain data.

Every function takes a session and a `Filter` (days in Vietnam time, both ends included;
province; commune) and returns dataclasses, lists and numbers: no ORM objects, nothing
lazy, so a web page or a spreadsheet export can use them as they are.

Where the figures come from: the daily sums the ingestion worker keeps in the same
transaction as the events (`daily_devices`, `daily_procedures`), so country-wide figures
cost the same however many conversations there were; per commune, procedures are counted
from the turns (indexed by commune and day: one commune has few), and questions not
understood always come from the turns, which keep their text.

Words used (device/dialogue.py records one turn per thing the villager said):
  conversation   one event: a villager's session at a box;
  question       a turn the box tried to place: answer, menu, clarify or not_found;
  asked about X  a turn that told about procedure X (answer or menu);
  not understood a turn whose action is not_found.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import case, distinct, func, or_, select
from sqlalchemy.orm import Session

from hoixa.server.db import (
    ANSWER_ACTIONS,
    NOT_UNDERSTOOD_ACTION,
    DailyDevice,
    DailyProcedure,
    Device,
    ProcedureField,
    Turn,
    utc_now,
)

UNKNOWN_FIELD = "(chưa có trong danh mục)"  # a code no stored catalogue names
DAILY_SUMS = (
    "conversations",
    "questions",
    "not_understood",
    "satisfied",
    "unsatisfied",
    "no_answer",
)


@dataclass(frozen=True)
class Filter:
    date_from: date | None = None
    date_to: date | None = None
    province: str | None = None
    commune: str | None = None

    def where(self, model) -> list:
        """Conditions on a table with local_date, province and commune columns."""
        conditions = []
        if self.date_from is not None:
            conditions.append(model.local_date >= self.date_from)
        if self.date_to is not None:
            conditions.append(model.local_date <= self.date_to)
        if self.province is not None:
            conditions.append(model.province == self.province)
        if self.commune is not None:
            conditions.append(model.commune == self.commune)
        return conditions


def month_filter(year: int, month: int, province: str | None = None, commune: str | None = None):
    first = date(year, month, 1)
    after = date(year + month // 12, month % 12 + 1, 1)
    return Filter(first, after - timedelta(days=1), province, commune)


def _sum(column):
    return func.coalesce(func.sum(column), 0)


def _daily_sums(flt: Filter, *group_by):
    """SELECT group_by…, sum of each daily count, over the filter's daily_devices rows."""
    sums = [_sum(getattr(DailyDevice, name)) for name in DAILY_SUMS]
    stmt = select(*group_by, *sums).where(*flt.where(DailyDevice))
    return stmt.group_by(*group_by) if group_by else stmt


# -- usage ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayCount:
    day: date
    conversations: int
    questions: int


def _sums_per_day(session: Session, flt: Filter) -> dict[date, dict[str, int]]:
    return {
        day: {name: int(value) for name, value in zip(DAILY_SUMS, sums, strict=True)}
        for day, *sums in session.execute(_daily_sums(flt, DailyDevice.local_date))
    }


def _days(per_day: dict[date, dict[str, int]], flt: Filter) -> list[DayCount]:
    if not per_day and (flt.date_from is None or flt.date_to is None):
        return []
    first = flt.date_from or min(per_day)
    last = flt.date_to or max(per_day)
    out = []
    day = first
    while day <= last:
        sums = per_day.get(day, {})
        out.append(DayCount(day, sums.get("conversations", 0), sums.get("questions", 0)))
        day += timedelta(days=1)
    return out


def questions_per_day(session: Session, flt: Filter = Filter()) -> list[DayCount]:
    """One row per day from the first to the last (the filter's ends when given), zeros
    included, so a chart has no holes."""
    return _days(_sums_per_day(session, flt), flt)


@dataclass(frozen=True)
class ProcedureCount:
    code: str
    name: str | None
    field: str
    questions: int  # turns that told about it
    conversations: int  # conversations with at least one of them


def _procedure_counts(flt: Filter):
    """(code, questions, conversations) per procedure: from the daily sums per province,
    or for one commune from its turns."""
    if flt.commune is None:
        return (
            select(
                DailyProcedure.procedure_code.label("code"),
                _sum(DailyProcedure.questions).label("questions"),
                _sum(DailyProcedure.conversations).label("conversations"),
            )
            .where(*flt.where(DailyProcedure))
            .group_by(DailyProcedure.procedure_code)
            .subquery()
        )
    return (
        select(
            Turn.procedure_code.label("code"),
            func.count().label("questions"),
            func.count(distinct(Turn.event_pk)).label("conversations"),
        )
        .where(Turn.action.in_(ANSWER_ACTIONS), Turn.procedure_code.is_not(None))
        .where(*flt.where(Turn))
        .group_by(Turn.procedure_code)
        .subquery()
    )


def top_procedures(
    session: Session, flt: Filter = Filter(), limit: int | None = 10
) -> list[ProcedureCount]:
    counts = _procedure_counts(flt)
    stmt = (
        select(
            counts.c.code,
            ProcedureField.name,
            ProcedureField.field,
            counts.c.questions,
            counts.c.conversations,
        )
        .outerjoin(ProcedureField, ProcedureField.code == counts.c.code)
        .order_by(counts.c.questions.desc(), counts.c.code)
        .limit(limit)
    )
    return [
        ProcedureCount(code, name, fld or UNKNOWN_FIELD, int(n), int(conversations))
        for code, name, fld, n, conversations in session.execute(stmt)
    ]


@dataclass(frozen=True)
class FieldCount:
    field: str  # lĩnh vực
    questions: int
    procedures: int  # distinct procedures asked about


def per_field(session: Session, flt: Filter = Filter()) -> list[FieldCount]:
    """Questions per field. (Not conversations: one conversation can ask about several
    procedures of a field, which daily sums per procedure cannot tell apart.)"""
    counts = _procedure_counts(flt)
    field_name = func.coalesce(ProcedureField.field, UNKNOWN_FIELD).label("field")
    questions = _sum(counts.c.questions).label("questions")
    stmt = (
        select(field_name, questions, func.count(counts.c.code))
        .select_from(counts)
        .outerjoin(ProcedureField, ProcedureField.code == counts.c.code)
        .group_by(field_name)
        .order_by(questions.desc(), field_name)
    )
    return [FieldCount(name, int(n), int(codes)) for name, n, codes in session.execute(stmt)]


@dataclass(frozen=True)
class Share:
    part: int
    whole: int

    @property
    def ratio(self) -> float:
        return self.part / self.whole if self.whole else 0.0


def not_understood_share(session: Session, flt: Filter = Filter()) -> Share:
    """Questions not understood among all questions."""
    sums = dict(zip(DAILY_SUMS, session.execute(_daily_sums(flt)).one(), strict=True))
    return Share(int(sums["not_understood"]), int(sums["questions"]))


@dataclass(frozen=True)
class Satisfaction:
    satisfied: int
    unsatisfied: int
    no_answer: int

    @property
    def total(self) -> int:
        return self.satisfied + self.unsatisfied + self.no_answer

    @property
    def satisfied_share(self) -> float:
        """Among those who answered."""
        answered = self.satisfied + self.unsatisfied
        return self.satisfied / answered if answered else 0.0


def satisfaction(session: Session, flt: Filter = Filter()) -> Satisfaction:
    sums = dict(zip(DAILY_SUMS, session.execute(_daily_sums(flt)).one(), strict=True))
    return Satisfaction(int(sums["satisfied"]), int(sums["unsatisfied"]), int(sums["no_answer"]))


@dataclass(frozen=True)
class UsageOverview:
    days: list[DayCount]
    share: Share  # not understood among questions
    satisfaction: Satisfaction


def usage_overview(session: Session, flt: Filter = Filter()) -> UsageOverview:
    """questions_per_day, not_understood_share and satisfaction from one scan of the daily
    sums (the dashboard shows all three: three scans cost three times as much)."""
    per_day = _sums_per_day(session, flt)
    total = {name: sum(sums[name] for sums in per_day.values()) for name in DAILY_SUMS}
    return UsageOverview(
        _days(per_day, flt),
        Share(total["not_understood"], total["questions"]),
        Satisfaction(total["satisfied"], total["unsatisfied"], total["no_answer"]),
    )


# -- boxes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuietBox:
    device_id: str
    province: str
    commune: str
    online: bool
    last_status_at: datetime | None


@dataclass
class Presence:
    boxes: int  # not retired
    online: int
    offline: int
    unenrolled: int
    quiet: list[QuietBox] = field(default_factory=list)  # no status for too long, oldest first


def presence(
    session: Session,
    *,
    quiet_after: timedelta = timedelta(hours=24),
    now: datetime | None = None,
    province: str | None = None,
    commune: str | None = None,
) -> Presence:
    """Boxes online and offline (the retained status and Last Will say which), and the ones
    gone quiet: no status for longer than `quiet_after`, whatever their last one said (a
    box that lost power without its Last Will reaching the broker still looks online)."""
    cutoff = (now or utc_now()) - quiet_after
    where = [Device.retired_at.is_(None)]
    if province is not None:
        where.append(Device.province == province)
    if commune is not None:
        where.append(Device.commune == commune)
    boxes, online, unenrolled = session.execute(
        select(
            func.count(),
            func.sum(case((Device.online, 1), else_=0)),
            func.sum(case((Device.enrolled_at.is_(None), 1), else_=0)),
        ).where(*where)
    ).one()
    quiet = [
        QuietBox(*row)
        for row in session.execute(
            select(
                Device.device_id,
                Device.province,
                Device.commune,
                Device.online,
                Device.last_status_at,
            )
            .where(*where, or_(Device.last_status_at.is_(None), Device.last_status_at < cutoff))
            .order_by(Device.last_status_at.is_not(None), Device.last_status_at, Device.device_id)
        )
    ]
    online = int(online or 0)
    return Presence(boxes, online, boxes - online, int(unenrolled or 0), quiet)


# -- questions not understood ----------------------------------------------------------------


@dataclass(frozen=True)
class NotUnderstoodGroup:
    text: str  # normalised spelling (hoixa.vietnamese.normalize)
    count: int
    examples: list[str]  # most frequent spellings as heard
    last_seen: date
    communes: int


def not_understood_groups(
    session: Session, flt: Filter = Filter(), *, limit: int = 50, examples: int = 3
) -> list[NotUnderstoodGroup]:
    """What villagers asked that no procedure matched, the same question spelled
    differently counted once: the catalogue editors' list of aliases to add."""
    where = [
        Turn.action == NOT_UNDERSTOOD_ACTION,
        Turn.heard_key.is_not(None),
        *flt.where(Turn),
    ]
    count = func.count().label("n")
    groups = session.execute(
        select(Turn.heard_key, count, func.max(Turn.local_date), func.count(distinct(Turn.commune)))
        .where(*where)
        .group_by(Turn.heard_key)
        .order_by(count.desc(), Turn.heard_key)
        .limit(limit)
    ).all()
    if not groups:
        return []
    spellings: dict[str, Counter] = defaultdict(Counter)
    for key, heard, n in session.execute(
        select(Turn.heard_key, Turn.heard, func.count())
        .where(*where, Turn.heard_key.in_([g[0] for g in groups]))
        .group_by(Turn.heard_key, Turn.heard)
    ):
        spellings[key][heard] = n
    return [
        NotUnderstoodGroup(
            key,
            n,
            [h for h, _ in sorted(spellings[key].items(), key=lambda kv: (-kv[1], kv[0]))][
                :examples
            ],
            last,
            communes,
        )
        for key, n, last, communes in groups
    ]


# -- monthly report -------------------------------------------------------------------------


@dataclass(frozen=True)
class CommuneRow:
    province: str
    commune: str
    boxes: int  # boxes that reported at least one conversation
    conversations: int
    questions: int
    not_understood: int
    satisfied: int
    unsatisfied: int
    no_answer: int


@dataclass
class MonthlyReport:
    year: int
    month: int
    conversations: int
    questions: int
    not_understood: Share
    satisfaction: Satisfaction
    by_field: list[FieldCount]
    by_procedure: list[ProcedureCount]
    by_commune: list[CommuneRow]


def per_commune(session: Session, flt: Filter = Filter()) -> list[CommuneRow]:
    rows = session.execute(
        _daily_sums(flt, DailyDevice.province, DailyDevice.commune)
        .add_columns(func.count(distinct(DailyDevice.device_id)))
        .order_by(DailyDevice.province, DailyDevice.commune)
    )
    out = []
    for province, commune, *sums, boxes in rows:
        named = dict(zip(DAILY_SUMS, (int(n) for n in sums), strict=True))
        out.append(CommuneRow(province, commune, boxes, **named))
    return out


def monthly_report(
    session: Session,
    year: int,
    month: int,
    *,
    province: str | None = None,
    commune: str | None = None,
) -> MonthlyReport:
    """The month's figures per field, per procedure and per commune (Vietnam days)."""
    flt = month_filter(year, month, province, commune)
    sums = dict(zip(DAILY_SUMS, session.execute(_daily_sums(flt)).one(), strict=True))
    return MonthlyReport(
        year,
        month,
        int(sums["conversations"]),
        int(sums["questions"]),
        Share(int(sums["not_understood"]), int(sums["questions"])),
        Satisfaction(int(sums["satisfied"]), int(sums["unsatisfied"]), int(sums["no_answer"])),
        per_field(session, flt),
        top_procedures(session, flt, limit=None),
        per_commune(session, flt),
    )
