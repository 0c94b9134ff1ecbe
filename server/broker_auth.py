"""Who may connect to the broker and what each account may touch: Mosquitto's password file
and ACL file, generated from the list of enrolled boxes.

Each box logs in with its device id as username and may only write its own three topics
(events, status, ack) and read the catalogue scopes it follows (all, its province, its
commune). The server account reads every box's topics and writes the catalogues; it may also
read the catalogue topics, because the publisher reads the retained manifest and chunks to
know which old chunks to clear. Nobody else gets anything: the ACL has no anonymous section
and no patterns.

Why explicit `user` blocks rather than `pattern … %u` lines: a box's topics contain its
province and commune, which are not in its username, so a pattern could only say
`hoixa/v1/dev/+/+/%u/…`; that would let a box report under any place, and could not limit
its catalogue reads to its own province and commune.

Mosquitto 2.0 checks read access per message when it delivers (retained ones too), not at
SUBSCRIBE time: a box subscribing to another province's catalogue gets a successful SUBACK
and then nothing. The same delivery check covers shared subscriptions
(`$share/<group>/<filter>`), so no `$share/...` line is needed (tests/test_broker_security.py
checks both).

Passwords are hashed here exactly as `mosquitto_passwd` does by default in 2.0 (PBKDF2-SHA512,
101 iterations, 12-byte salt: the `$7$` format), so no password ever appears on a command
line. Mosquitto reads both files at start and on SIGHUP (`reload(pid)`, or
`systemctl reload mosquitto` for the Debian service).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import grp
import hashlib
import hmac
import os
import re
import secrets
import signal
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hoixa.contract import topics

DEFAULT_SERVER_USERNAME = "hoixa-server"
PBKDF2_ITERATIONS = 101  # mosquitto_passwd's default; the broker hashes on every CONNECT
SALT_BYTES = 12
SERVER_USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
NEW_FILE_MODE = 0o640  # readable by the mosquitto group, which Debian's broker runs as


class AccountError(ValueError):
    """An account that cannot be written: bad name, duplicate, unknown device."""


@dataclass(frozen=True)
class DeviceAccount:
    """One box's broker login. The username is the device id."""

    device_id: str
    province: str
    commune: str
    password: str

    def __post_init__(self) -> None:
        topics.DevicePlace(self.province, self.commune, self.device_id)  # or TopicError
        if not self.password:
            raise AccountError(f"empty password for {self.device_id}")

    @property
    def place(self) -> topics.DevicePlace:
        return topics.DevicePlace(self.province, self.commune, self.device_id)

    def __repr__(self) -> str:  # never print a password in a log or a traceback
        return f"DeviceAccount({self.device_id!r}, {self.province!r}, {self.commune!r}, ***)"


def new_password() -> str:
    """A random password for a box (192 bits: PBKDF2's low iteration count does not matter)."""
    return secrets.token_urlsafe(24)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The `$7$` hash Mosquitto 2.0 expects after `username:` in its password file."""
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    derived = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, PBKDF2_ITERATIONS)
    return (
        f"$7${PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}$"
        f"{base64.b64encode(derived).decode()}"
    )


def check_password(password: str, hashed: str) -> bool:
    """Whether `password` matches a `$7$` hash (ours or mosquitto_passwd's)."""
    try:
        _, kind, iterations, salt, derived = hashed.split("$")
        if kind != "7":
            return False
        expected, salt_bytes = base64.b64decode(derived), base64.b64decode(salt)
        secret = password.encode("utf-8")
        actual = hashlib.pbkdf2_hmac("sha512", secret, salt_bytes, int(iterations), len(expected))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def read_password_file(path: Path) -> dict[str, str]:
    """username → hash, in file order; a missing file is empty."""
    entries: dict[str, str] = {}
    if not path.exists():
        return entries
    for line in path.read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            username, _, hashed = line.partition(":")
            entries[username] = hashed
    return entries


def password_file_text(entries: dict[str, str]) -> str:
    return "".join(f"{username}:{hashed}\n" for username, hashed in entries.items())


def acl_text(server_username: str, places: Iterable[topics.DevicePlace]) -> str:
    """The whole ACL file: the server's block, then one block per box, sorted by device id."""
    prefix = f"{topics.ROOT}/dev/+/+/+"
    lines = [
        "# Generated by hoixa.server.broker_auth from the enrolled boxes: do not edit by hand.",
        "# No anonymous section and no patterns: an account gets exactly what its block says.",
        "",
        f"user {server_username}",
        f"topic read {prefix}/events",
        f"topic read {prefix}/status",
        f"topic read {prefix}/ack",
        f"topic readwrite {topics.ROOT}/catalogue/#",
    ]
    for place in sorted(places, key=lambda p: p.device_id):
        lines += [
            "",
            f"user {place.device_id}",
            f"topic write {place.events()}",
            f"topic write {place.status()}",
            f"topic write {place.ack()}",
            *(f"topic read {topics.catalogue_filter(scope)}" for scope in place.scopes()),
        ]
    return "\n".join(lines) + "\n"


def read_acl_places(path: Path) -> dict[str, topics.DevicePlace]:
    """device id → place, read back from an ACL file this module wrote (via its events line)."""
    places: dict[str, topics.DevicePlace] = {}
    if not path.exists():
        return places
    user = None
    for line in path.read_text("utf-8").splitlines():
        words = line.split()
        if words[:1] == ["user"] and len(words) == 2:
            user = words[1]
        elif len(words) == 3 and words[:2] == ["topic", "write"] and words[2].endswith("/events"):
            place, _ = topics.parse_device_topic(words[2])
            if place.device_id != user:  # also catches a line before any `user`
                raise AccountError(f"{path}: user {user} writes {words[2]}")
            places[user] = place
    return places


def _write_atomically(path: Path, text: str) -> None:
    """Replace `path` by a complete new file (same mode and owner), never a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        old = path.stat()
        mode, uid, gid = old.st_mode & 0o777, old.st_uid, old.st_gid
    except FileNotFoundError:
        mode, uid, gid = NEW_FILE_MODE, os.geteuid(), _broker_group()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            if os.geteuid() == 0:
                os.fchown(fh.fileno(), uid, gid)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _broker_group() -> int:
    """The `mosquitto` group if it exists (Debian's broker must read the files), else ours."""
    try:
        return grp.getgrnam("mosquitto").gr_gid
    except KeyError:
        return os.getegid()


@dataclass(frozen=True)
class BrokerFiles:
    """The password file and ACL file of one broker, and the name of the server's account.

    Every change rewrites both files atomically under a lock (so two provisioning runs cannot
    lose each other's change) and returns True when the broker must reload them. A box counts
    as enrolled when it is in both files; a leftover of an interrupted change in only one of
    them is dropped by the next write.
    """

    password_file: Path
    acl_file: Path
    server_username: str = DEFAULT_SERVER_USERNAME

    def __post_init__(self) -> None:
        if not SERVER_USERNAME_RE.match(self.server_username):
            raise AccountError(f"server username {self.server_username!r} is not allowed")

    def write_all(self, devices: Iterable[DeviceAccount], server_password: str) -> None:
        """Write both files from scratch: the server account and exactly these boxes."""
        if not server_password:
            raise AccountError("empty server password")
        devices = list(devices)
        seen: set[str] = set()
        for account in devices:
            self._check_new_id(account.device_id, seen)
            seen.add(account.device_id)
        hashes = {self.server_username: hash_password(server_password)}
        hashes |= {a.device_id: hash_password(a.password) for a in devices}
        with self._locked():
            self._write(hashes, {a.device_id: a.place for a in devices}, removing=True)

    def enrolled(self) -> dict[str, topics.DevicePlace]:
        """The boxes that can log in now (once the broker has reloaded), with their places."""
        hashes = read_password_file(self.password_file)
        return {d: p for d, p in read_acl_places(self.acl_file).items() if d in hashes}

    def enrol(self, account: DeviceAccount) -> bool:
        """Add a new box. Refuses a device id already enrolled (use `replace` for that)."""
        with self._locked():
            hashes, places = self._state()
            self._check_new_id(account.device_id, places)
            hashes[account.device_id] = hash_password(account.password)
            places[account.device_id] = account.place
            self._write(hashes, places, removing=False)
        return True

    def replace(self, old_device_id: str, account: DeviceAccount) -> bool:
        """A box swapped for another (or the same id with a new password or place)."""
        with self._locked():
            hashes, places = self._state()
            if old_device_id not in places:
                raise AccountError(f"{old_device_id} is not enrolled")
            if account.device_id != old_device_id:
                self._check_new_id(account.device_id, places)
            for table in (hashes, places):
                del table[old_device_id]
            hashes[account.device_id] = hash_password(account.password)
            places[account.device_id] = account.place
            self._write(hashes, places, removing=True)
        return True

    def revoke(self, device_id: str) -> bool:
        """Retire a box: it can no longer log in after the reload. False if it was not enrolled."""
        with self._locked():
            hashes, places = self._state()
            if device_id not in places:
                return False
            for table in (hashes, places):
                del table[device_id]
            self._write(hashes, places, removing=True)
        return True

    # -- internals ---------------------------------------------------------------------------

    def _check_new_id(self, device_id: str, taken: Iterable[str]) -> None:
        if device_id == self.server_username:
            raise AccountError(f"{device_id} is the server's account name")
        if device_id in taken:
            raise AccountError(f"{device_id} is already enrolled")

    def _state(self) -> tuple[dict[str, str], dict[str, topics.DevicePlace]]:
        hashes = read_password_file(self.password_file)
        if self.server_username not in hashes:
            raise AccountError(
                f"{self.password_file} has no entry for {self.server_username}: run write_all"
            )
        places = self.enrolled()
        kept = {u: h for u, h in hashes.items() if u in places or u == self.server_username}
        return kept, places

    def _write(
        self, hashes: dict[str, str], places: dict[str, topics.DevicePlace], *, removing: bool
    ) -> None:
        # The password file is what lets a box in: written last when adding, first when
        # removing, so an interruption never leaves a box able to log in without its ACL.
        acl = acl_text(self.server_username, places.values())
        passwords = password_file_text(hashes)
        if removing:
            _write_atomically(self.password_file, passwords)
            _write_atomically(self.acl_file, acl)
        else:
            _write_atomically(self.acl_file, acl)
            _write_atomically(self.password_file, passwords)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        lock_path = self.acl_file.with_name(self.acl_file.name + ".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def reload(pid: int) -> None:
    """Make a running Mosquitto re-read its password and ACL files (SIGHUP).

    For Debian's service use `systemctl reload mosquitto`, which sends the same signal.
    """
    os.kill(pid, signal.SIGHUP)
