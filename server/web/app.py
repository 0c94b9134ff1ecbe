"""The console's application: `create_app(database_url, secret_key=…)` → a FastAPI app.

    app = create_app("sqlite:///data/hoixa.db", secret_key=…, publisher=broker_publisher(…))
    uvicorn.run(app, host="127.0.0.1", port=8080)

Pages are Vietnamese HTML rendered on the server (Jinja2, autoescaped), with one local CSS
file and inline SVG charts: nothing is fetched from the Internet. The JSON API lives under
/api/v1 and is described at /api/openapi.json.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from hoixa.contract import topics
from hoixa.server.db import local_date_of, make_engine, utc_now
from hoixa.server.stats import Filter
from hoixa.server.web.auth import NotLoggedIn, csrf_token
from hoixa.server.web.catalogue_ops import Publisher

HERE = Path(__file__).resolve().parent
MAX_BODY_BYTES = 1 << 20  # forms are small; anything bigger is refused with 413
MAX_UPLOAD_BYTES = 20 << 20  # a catalogue file (the national portal's 800 procedures: ~3 MB)
UPLOAD_PATHS = ("/catalogue/import",)
IDLE_TIMEOUT_S = 8 * 3600


@dataclass
class Settings:
    idle_timeout_s: float = IDLE_TIMEOUT_S
    quiet_after: timedelta = timedelta(hours=24)
    publisher: Publisher | None = None  # None: publishing is switched off (no key/broker)
    clock: Callable[[], float] = time.time
    extra: dict[str, Any] = field(default_factory=dict)


EARLIEST_DAY = date(2020, 1, 1)  # before any box existed


def within_service_days(flt: Filter) -> Filter:
    """Dates clamped to the days the service can have data for: per-day figures list every
    day of the range, so "until the year 8253" must not mean three million rows."""
    latest = local_date_of(utc_now()) + timedelta(days=1)
    date_from = max(flt.date_from, EARLIEST_DAY) if flt.date_from else None
    date_to = min(flt.date_to, latest) if flt.date_to else None
    return Filter(date_from, date_to, flt.province, flt.commune)


def parse_filter(params, default_days: int | None = None) -> tuple[Filter, list[str]]:
    """A Filter from query parameters; values that are not dates or codes are dropped and
    named in the returned problems (they never reach SQL as anything but bound values).

    `default_days`: when neither end date is given, the last that many days (Vietnam time,
    today included) rather than everything since the first box: what an official opening
    the console wants to see, and a page that stays fast as the years of data grow. The
    form shows the dates used, so all of it is one edit away."""
    problems: list[str] = []

    def day(name: str) -> date | None:
        text = (params.get(name) or "").strip()
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            problems.append(f"Ngày không hợp lệ: {name}")
            return None

    def code(name: str, pattern: re.Pattern) -> str | None:
        text = (params.get(name) or "").strip()
        if not text:
            return None
        if not pattern.match(text):
            problems.append(f"Mã không hợp lệ: {name}")
            return None
        return text

    flt = Filter(
        day("from"),
        day("to"),
        code("province", topics.PROVINCE_RE),
        code("commune", topics.COMMUNE_RE),
    )
    if default_days and not (params.get("from") or params.get("to")):
        today = local_date_of(utc_now())
        flt = Filter(today - timedelta(days=default_days - 1), today, flt.province, flt.commune)
    return within_service_days(flt), problems


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path.startswith("/reports/")


def create_app(
    database_url: str,
    *,
    secret_key: str,
    publisher: Publisher | None = None,
    idle_timeout_s: float = IDLE_TIMEOUT_S,
    https_only: bool = False,
    clock: Callable[[], float] = time.time,
    engine=None,
) -> FastAPI:
    """The console for one database. `publisher` sends a catalogue to the broker (see
    catalogue_ops.broker_publisher); `https_only` marks the cookie Secure (behind TLS)."""
    if len(secret_key) < 16:
        raise ValueError("secret_key must be at least 16 characters")
    app = FastAPI(
        title="Hỏi Xã — API máy chủ trung tâm",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url=None,  # the Swagger page loads its scripts from a CDN: not offline
        redoc_url=None,
    )
    app.state.engine = engine or make_engine(database_url)
    app.state.settings = Settings(idle_timeout_s, publisher=publisher, clock=clock)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["csrf_token"] = csrf_token
    app.state.templates = templates

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        length = request.headers.get("content-length")
        limit = MAX_UPLOAD_BYTES if request.url.path in UPLOAD_PATHS else MAX_BODY_BYTES
        if request.method == "POST" and length is None:
            return Response("Thiếu độ dài dữ liệu (Content-Length).", status_code=411)
        if length is not None and (not length.isdigit() or int(length) > limit):
            return Response("Dữ liệu gửi lên quá lớn.", status_code=413)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:"
        )
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key,
        session_cookie="hoixa_session",
        max_age=int(idle_timeout_s),
        same_site="lax",
        https_only=https_only,
    )

    @app.exception_handler(NotLoggedIn)
    async def not_logged_in(request: Request, exc: NotLoggedIn):
        if _wants_json(request):
            return JSONResponse(
                {"detail": "Cần đăng nhập."},
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="hoixa"'},
            )
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if _wants_json(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": exc.status_code, "message": exc.detail, "user": None},
            status_code=exc.status_code,
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        if _wants_json(request):
            return JSONResponse({"detail": "Tham số không hợp lệ."}, status_code=422)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": 422, "message": "Dữ liệu gửi lên không hợp lệ.", "user": None},
            status_code=422,
        )

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    from hoixa.server.web import api, pages, reports

    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(reports.router)
    return app
