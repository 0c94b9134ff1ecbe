"""Who is asking, and what they may see or change: the console's one place for access rules.

Every page and API route depends on `viewer` (or `editor` for changes). A `Viewer` carries
the user's role and place, and every filter, box and catalogue scope goes through it, so a
province admin's requests are narrowed to their province whatever the URL says.

Sessions are Starlette's signed cookie (HttpOnly, SameSite=Lax); on top, the session holds
the time of the last request and is refused after `idle_timeout` without one. Each session
has a random CSRF token that every form POST must send back in a hidden field.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from hoixa.contract import topics
from hoixa.server.db import Device, User, session_scope
from hoixa.server.stats import Filter

_hasher = PasswordHasher()
# Verified against when the username does not exist, so timing does not tell which exist.
_DUMMY_HASH = _hasher.hash("not a password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        check_password(_DUMMY_HASH, password)
        return None
    return user if check_password(user.password_hash, password) else None


def add_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    province: str | None = None,
    commune: str | None = None,
) -> User:
    """Create a console account (the database's constraints check role and place)."""
    if role not in ("central", "province", "commune"):
        raise ValueError(f"unknown role {role!r}")
    if province is not None and not topics.PROVINCE_RE.match(province):
        raise ValueError("province code must be 2 digits")
    if commune is not None and not topics.COMMUNE_RE.match(commune):
        raise ValueError("commune code must be 5 digits")
    if role == "province" and province is None:
        raise ValueError("a province admin needs --province")
    if role == "commune" and (province is None or commune is None):
        raise ValueError("a commune viewer needs --province and --commune")
    if len(password) < 8:
        raise ValueError("the password must have at least 8 characters")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        province=province if role != "central" else None,
        commune=commune if role == "commune" else None,
        active=True,
    )
    session.add(user)
    return user


class NotLoggedIn(Exception):
    """Raised by the dependencies; pages answer with a redirect, the API with 401."""


@dataclass(frozen=True)
class Viewer:
    """A logged-in user and the part of the country they may see."""

    user_id: int
    username: str
    role: str
    province: str | None
    commune: str | None

    @property
    def can_edit(self) -> bool:
        return self.role in ("central", "province")

    @property
    def role_label(self) -> str:
        if self.role == "central":
            return "Quản trị trung ương"
        if self.role == "province":
            return f"Quản trị tỉnh {self.province}"
        return f"Xã {self.commune} (chỉ xem)"

    def narrow(self, flt: Filter) -> Filter:
        """The filter asked for, forced inside this user's place."""
        if self.role == "central":
            return flt
        if self.role == "province":
            return Filter(flt.date_from, flt.date_to, self.province, flt.commune)
        return Filter(flt.date_from, flt.date_to, self.province, self.commune)

    def sees_box(self, device: Device) -> bool:
        if self.role == "central":
            return True
        if device.province != self.province:
            return False
        return self.role == "province" or device.commune == self.commune

    def box_conditions(self) -> list:
        if self.role == "central":
            return []
        conditions = [Device.province == self.province]
        if self.role == "commune":
            conditions.append(Device.commune == self.commune)
        return conditions

    def sees_catalogue(self, session: Session, scope: str) -> bool:
        """Catalogue scopes this user may look at: those that reach their boxes."""
        if self.role == "central" or scope == "all":
            return True
        if scope.startswith("province/"):
            return scope == f"province/{self.province}"
        if self.role == "commune":
            return scope == f"commune/{self.commune}"
        return self.may_publish(session, scope)  # a commune of their province

    def may_publish(self, session: Session, scope: str) -> bool:
        """Central: anywhere. Province admin: its province, or a commune with a box in it."""
        if not topics.SCOPE_RE.match(scope):
            return False
        if self.role == "central":
            return True
        if self.role != "province":
            return False
        if scope == f"province/{self.province}":
            return True
        if scope.startswith("commune/"):
            commune = scope.split("/", 1)[1]
            in_province = session.scalar(
                select(Device.device_id)
                .where(Device.commune == commune, Device.province == self.province)
                .limit(1)
            )
            return in_province is not None
        return False

    def own_scope(self) -> str:
        """The scope a draft made by this user belongs to."""
        return "all" if self.role == "central" else f"province/{self.province}"


# -- sessions and CSRF ---------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def start_session(request: Request, user: User) -> None:
    request.session.clear()  # no session fixation: nothing from before the login survives
    request.session.update(
        uid=user.id,
        csrf=secrets.token_urlsafe(32),
        seen=request.app.state.settings.clock(),
    )


def _from_session(request: Request) -> int | None:
    settings = request.app.state.settings
    uid, seen = request.session.get("uid"), request.session.get("seen")
    if uid is None or seen is None:
        return None
    now = settings.clock()
    if now - float(seen) > settings.idle_timeout_s:
        request.session.clear()
        return None
    request.session["seen"] = now
    return int(uid)


def _from_basic_auth(request: Request) -> User | None:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        username, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    with session_scope(request.app.state.engine) as session:
        user = authenticate(session, username, password)
        if user is not None:
            session.expunge(user)
        return user


def _viewer_of(user: User) -> Viewer:
    return Viewer(user.id, user.username, user.role, user.province, user.commune)


def viewer(request: Request) -> Viewer:
    """The logged-in user (session cookie, or HTTP basic for the API), else NotLoggedIn."""
    cached = getattr(request.state, "viewer", None)
    if cached is not None:
        return cached
    uid = _from_session(request)
    user: User | None = None
    if uid is not None:
        with session_scope(request.app.state.engine) as session:
            user = session.get(User, uid)
            if user is not None and not user.active:
                user = None
            if user is not None:
                session.expunge(user)
    elif request.url.path.startswith("/api/") or request.url.path.startswith("/reports/"):
        user = _from_basic_auth(request)
    if user is None:
        raise NotLoggedIn()
    request.state.viewer = _viewer_of(user)
    return request.state.viewer


async def check_csrf(request: Request) -> None:
    """Every form POST: the hidden `csrf` field must equal the session's token."""
    form = await request.form()
    sent = form.get("csrf")
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(403, "Yêu cầu không hợp lệ (mã CSRF sai hoặc thiếu). Tải lại trang.")


async def editor(request: Request) -> Viewer:
    """A user allowed to change things, on a POST with a valid CSRF token."""
    user = viewer(request)
    await check_csrf(request)
    if not user.can_edit:
        raise HTTPException(403, "Tài khoản này chỉ được xem.")
    return user
