"""The console's HTML pages. Every route takes its user from `auth.viewer` / `auth.editor`
and passes filters, boxes and scopes through the `Viewer`, never around it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from hoixa.contract import catalogue as cat
from hoixa.contract import topics
from hoixa.server import stats
from hoixa.server.db import CatalogueVersion, Device, session_scope, utc_now
from hoixa.server.web import catalogue_ops
from hoixa.server.web.app import parse_filter
from hoixa.server.web.auth import (
    Viewer,
    authenticate,
    check_csrf,
    editor,
    start_session,
    viewer,
)
from hoixa.server.web.charts import bars_per_day

router = APIRouter(include_in_schema=False)
CurrentViewer = Annotated[Viewer, Depends(viewer)]
CurrentEditor = Annotated[Viewer, Depends(editor)]


def render(request: Request, name: str, user: Viewer | None, status_code: int = 200, **context):
    templates = request.app.state.templates
    return templates.TemplateResponse(
        request, name, {"user": user, **context}, status_code=status_code
    )


def _engine(request: Request):
    return request.app.state.engine


# -- login -------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request):
    return render(request, "login.html", None, error=None)


@router.post("/login", response_class=HTMLResponse, dependencies=[Depends(check_csrf)])
def login(request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()]):
    with session_scope(_engine(request)) as session:
        user = authenticate(session, username.strip(), password)
        if user is None:
            return render(
                request,
                "login.html",
                None,
                status_code=401,
                error="Tên đăng nhập hoặc mật khẩu không đúng.",
            )
        start_session(request, user)
    return RedirectResponse("/", status_code=303)


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request):
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


# -- dashboard ---------------------------------------------------------------------------

DEFAULT_WINDOW_DAYS = 30  # dashboard and not-understood pages without dates: the last 30 days


def dashboard_figures(session, flt: stats.Filter, quiet_after) -> dict[str, Any]:
    usage = stats.usage_overview(session, flt)  # one pass over the daily sums
    return {
        "days": usage.days,
        "total_questions": sum(d.questions for d in usage.days),
        "total_conversations": sum(d.conversations for d in usage.days),
        "top": stats.top_procedures(session, flt, limit=10),
        "fields": stats.per_field(session, flt),
        "share": usage.share,
        "satisfaction": usage.satisfaction,
        "presence": stats.presence(
            session, quiet_after=quiet_after, province=flt.province, commune=flt.commune
        ),
    }


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, user: CurrentViewer):
    asked, problems = parse_filter(request.query_params, default_days=DEFAULT_WINDOW_DAYS)
    flt = user.narrow(asked)
    with session_scope(_engine(request)) as session:
        figures = dashboard_figures(session, flt, request.app.state.settings.quiet_after)
    return render(
        request,
        "dashboard.html",
        user,
        flt=flt,
        problems=problems,
        chart=bars_per_day(figures["days"]),
        **figures,
    )


# -- boxes ---------------------------------------------------------------------------------


def box_rows(session, user: Viewer, flt: stats.Filter, quiet_after) -> list[dict[str, Any]]:
    where = [*user.box_conditions()]
    if flt.province:
        where.append(Device.province == flt.province)
    if flt.commune:
        where.append(Device.commune == flt.commune)
    cutoff = utc_now() - quiet_after
    rows = []
    for d in session.scalars(
        select(Device).where(*where).order_by(Device.province, Device.commune, Device.device_id)
    ):
        rows.append(
            {
                "device_id": d.device_id,
                "display_name": d.display_name,
                "province": d.province,
                "commune": d.commune,
                "online": bool(d.online),
                "enrolled": d.enrolled,
                "retired": d.retired_at is not None,
                "last_seen_at": d.last_seen_at,
                "last_status_at": d.last_status_at,
                "software_version": d.software_version,
                "catalogue_version": d.catalogue_version,
                "queue_depth": d.queue_depth,
                "dropped_events": d.dropped_events,
                "last_error": d.last_error,
                "health": d.health,
                "quiet": d.retired_at is None
                and (d.last_status_at is None or d.last_status_at < cutoff),
            }
        )
    return rows


@router.get("/boxes", response_class=HTMLResponse)
def boxes(request: Request, user: CurrentViewer):
    asked, problems = parse_filter(request.query_params)
    flt = user.narrow(asked)
    with session_scope(_engine(request)) as session:
        rows = box_rows(session, user, flt, request.app.state.settings.quiet_after)
    return render(request, "boxes.html", user, rows=rows, flt=flt, problems=problems)


def visible_box(session, user: Viewer, device_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise HTTPException(404, "Không tìm thấy thiết bị.")
    if not user.sees_box(device):
        raise HTTPException(403, "Bạn không có quyền xem thiết bị này.")
    return device


@router.get("/boxes/{device_id}", response_class=HTMLResponse)
def box_detail(request: Request, device_id: str, user: CurrentViewer):
    with session_scope(_engine(request)) as session:
        device = visible_box(session, user, device_id)
        flt = user.narrow(stats.Filter(province=device.province, commune=device.commune))
        row = next(
            r
            for r in box_rows(session, user, flt, request.app.state.settings.quiet_after)
            if r["device_id"] == device_id
        )
        top = stats.top_procedures(session, flt, limit=5)
    return render(request, "box.html", user, box=row, top=top)


# -- questions not understood --------------------------------------------------------------


def _alias_bases(session, user: Viewer) -> tuple[CatalogueVersion | None, list[dict]]:
    """The catalogue an alias is added to: the user's own scope's newest, else 'all'."""
    scopes = ["all"] if user.role == "central" else [user.own_scope(), "all"]
    base = catalogue_ops.latest_for(session, scopes)
    procs = base.content.get("procedures", []) if base else []
    return base, sorted(procs, key=lambda p: p["name"])


@router.get("/not-understood", response_class=HTMLResponse)
def not_understood(request: Request, user: CurrentViewer):
    asked, problems = parse_filter(request.query_params, default_days=DEFAULT_WINDOW_DAYS)
    flt = user.narrow(asked)
    with session_scope(_engine(request)) as session:
        groups = stats.not_understood_groups(session, flt, limit=100)
        base, procedures = _alias_bases(session, user) if user.can_edit else (None, [])
    return render(
        request,
        "not_understood.html",
        user,
        groups=groups,
        flt=flt,
        problems=problems,
        base=base,
        procedures=procedures,
        message=request.query_params.get("done"),
    )


@router.post("/not-understood/alias", response_class=HTMLResponse)
def add_alias(
    request: Request,
    user: CurrentEditor,
    text: Annotated[str, Form(max_length=500)],
    code: Annotated[str, Form(max_length=64)],
):
    with session_scope(_engine(request)) as session:
        base, _ = _alias_bases(session, user)
        if base is None:
            raise HTTPException(409, "Chưa có danh mục nào để thêm vào.")
        try:
            row = catalogue_ops.add_alias(
                session, base, user.own_scope(), code, text, created_by=user.username
            )
        except (ValueError, cat.CatalogueError) as exc:
            raise HTTPException(400, str(exc)) from exc
        target = f"/catalogue/{row.version}?scope={row.scope}"
    return RedirectResponse(target, status_code=303)


# -- catalogue -----------------------------------------------------------------------------


def visible_version(session, user: Viewer, scope: str, version: int) -> CatalogueVersion:
    if not topics.SCOPE_RE.match(scope):
        raise HTTPException(404, "Không tìm thấy phiên bản danh mục.")
    row = session.get(CatalogueVersion, (scope, version))
    if row is None:
        raise HTTPException(404, "Không tìm thấy phiên bản danh mục.")
    if not user.sees_catalogue(session, scope):
        raise HTTPException(403, "Bạn không có quyền xem danh mục này.")
    return row


def version_rows(session, user: Viewer) -> list[dict[str, Any]]:
    out = []
    for row in session.scalars(select(CatalogueVersion).order_by(CatalogueVersion.version.desc())):
        if not user.sees_catalogue(session, row.scope):
            continue
        out.append(
            {
                "scope": row.scope,
                "version": row.version,
                "issued_at": row.issued_at,
                "created_by": row.created_by,
                "procedures": len(row.content.get("procedures", [])),
                "published_at": row.published_at,
            }
        )
    return out


@router.get("/catalogue", response_class=HTMLResponse)
def catalogue_list(request: Request, user: CurrentViewer):
    with session_scope(_engine(request)) as session:
        rows = version_rows(session, user)
    return render(request, "catalogue_list.html", user, rows=rows)


def _matches(proc: dict, words: list[str]) -> bool:
    haystack = " ".join(
        [
            proc.get("code", ""),
            proc.get("name", ""),
            proc.get("field", ""),
            *proc.get("aliases", []),
        ]
    ).casefold()
    return all(w in haystack for w in words)


@router.get("/catalogue/{version}", response_class=HTMLResponse)
def catalogue_version(request: Request, version: int, user: CurrentViewer, scope: str = "all"):
    query = (request.query_params.get("q") or "").strip()[:200]
    words = query.casefold().split()
    with session_scope(_engine(request)) as session:
        row = visible_version(session, user, scope, version)
        procs = [p for p in row.content.get("procedures", []) if _matches(p, words)]
        acks = None
        if row.published_at is not None:
            acks = catalogue_ops.ack_states(
                session, row.scope, row.version, catalogue_ops.boxes_in_scope(session, row.scope)
            )
            acks = [a for a in acks if user.sees_box(_Place(a.province, a.commune))]
        info = {
            "scope": row.scope,
            "version": row.version,
            "issued_at": row.issued_at,
            "created_by": row.created_by,
            "published_at": row.published_at,
            "total": len(row.content.get("procedures", [])),
        }
    counts = {s: sum(1 for a in acks or [] if a.state == s) for s in ("applied", "rejected")}
    counts["pending"] = len(acks or []) - counts["applied"] - counts["rejected"]
    return render(
        request,
        "catalogue_version.html",
        user,
        info=info,
        procedures=procs,
        referrals=row.content.get("referrals", []),
        query=query,
        acks=acks,
        counts=counts,
        can_publish=request.app.state.settings.publisher is not None,
        error=request.query_params.get("error"),
    )


class _Place:
    """Enough of a Device for Viewer.sees_box."""

    def __init__(self, province: str, commune: str):
        self.province, self.commune = province, commune


@router.post("/catalogue/publish", response_class=HTMLResponse)
def publish(
    request: Request,
    user: CurrentEditor,
    scope: Annotated[str, Form(max_length=20)],
    version: Annotated[int, Form()],
    target: Annotated[str, Form(max_length=20)],
    target_other: Annotated[str, Form(max_length=20)] = "",
):
    publisher = request.app.state.settings.publisher
    if publisher is None:
        raise HTTPException(503, "Chưa cấu hình khóa ký và máy chủ MQTT: không thể phát hành.")
    target = target_other.strip() or target.strip()
    with session_scope(_engine(request)) as session:
        row = visible_version(session, user, scope, version)
        if not user.may_publish(session, target):
            raise HTTPException(403, "Bạn không được phát hành cho phạm vi này.")
        if target != row.scope:
            row = catalogue_ops.new_version_from(
                session, row.content, target, created_by=user.username
            )
        content, new_scope, new_version = row.content, row.scope, row.version
    try:
        manifest = publisher(content)
    except Exception as exc:  # the broker said no, timed out, or the key is missing
        detail = f"Phát hành không thành công: {exc}"
        return RedirectResponse(
            f"/catalogue/{new_version}?scope={new_scope}&error={_quote(detail)}", status_code=303
        )
    with session_scope(_engine(request)) as session:
        catalogue_ops.mark_published(
            session.get(CatalogueVersion, (new_scope, new_version)), manifest
        )
    return RedirectResponse(f"/catalogue/{new_version}?scope={new_scope}", status_code=303)


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text[:300])


def _version_pair(text: str) -> tuple[str, int]:
    scope, _, version = text.partition("|")
    if not version.isdigit() or len(version) > 9:
        raise HTTPException(404, "Không tìm thấy phiên bản danh mục.")
    return scope, int(version)


@router.get("/catalogue-diff", response_class=HTMLResponse)
def catalogue_diff(request: Request, user: CurrentViewer, pair_a: str, pair_b: str):
    """Two versions, each given as "scope|version" (the list page's form)."""
    (scope_a, version_a), (scope_b, version_b) = _version_pair(pair_a), _version_pair(pair_b)
    with session_scope(_engine(request)) as session:
        old = visible_version(session, user, scope_a, version_a)
        new = visible_version(session, user, scope_b, version_b)
        changes = catalogue_ops.diff(old.content, new.content)
    return render(
        request,
        "catalogue_diff.html",
        user,
        old={"scope": scope_a, "version": version_a},
        new={"scope": scope_b, "version": version_b},
        changes=changes,
    )


@router.post("/catalogue/import", response_class=HTMLResponse)
async def catalogue_import(request: Request, user: CurrentEditor):
    form = await request.form()
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise HTTPException(400, "Chưa chọn tệp.")
    data = await upload.read()
    doc, problems = catalogue_ops.import_problems(data, upload.filename or "")
    if doc is None:
        return render(
            request,
            "catalogue_import.html",
            user,
            status_code=400,
            filename=upload.filename,
            problems=problems,
        )
    scope = doc["scope"] if user.role == "central" else user.own_scope()
    with session_scope(_engine(request)) as session:
        if "referrals" not in doc:  # a spreadsheet holds procedures only
            catalogue_ops.keep_referrals(session, doc, scope)
        row = catalogue_ops.new_version_from(session, doc, scope, created_by=user.username)
        target = f"/catalogue/{row.version}?scope={row.scope}"
    return RedirectResponse(target, status_code=303)
