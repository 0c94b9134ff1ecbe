"""The MQTT topic tree shared by boxes and the central server (version 1).

Everything a box sends lives under its own branch, with its province and commune in the path
so the broker's ACL and the server's subscriptions can select by place:

    hoixa/v1/dev/<province>/<commune>/<device>/events   box → server  QoS 1   conversation events
    hoixa/v1/dev/<province>/<commune>/<device>/status   box → server  QoS 1   retained presence
                                                                              and health (also
                                                                              the Last Will)
    hoixa/v1/dev/<province>/<commune>/<device>/ack      box → server  QoS 1   catalogue update
                                                                              applied / rejected

Catalogues go the other way, retained per scope, so a box that was offline for a month gets
the latest one the moment it reconnects:

    hoixa/v1/catalogue/all/manifest                     server → boxes  signed manifest
    hoixa/v1/catalogue/province/<province>/manifest
    hoixa/v1/catalogue/commune/<commune>/manifest
    hoixa/v1/catalogue/<scope>/chunk/<index>            the compressed content, in pieces

Province codes have 2 digits and commune codes 5 (the official list of administrative
units); device ids are lower-case letters, digits and dashes. Documented for people in
docs/fleet-protocol.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROOT = "hoixa/v1"
DEVICE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")
PROVINCE_RE = re.compile(r"^[0-9]{2}$")
COMMUNE_RE = re.compile(r"^[0-9]{5}$")
SCOPE_RE = re.compile(r"^(all|province/[0-9]{2}|commune/[0-9]{5})$")


class TopicError(ValueError):
    """A topic or identifier outside the contract."""


@dataclass(frozen=True)
class DevicePlace:
    """Where a box is: the three levels of its topic branch."""

    province: str
    commune: str
    device_id: str

    def __post_init__(self) -> None:
        if not PROVINCE_RE.match(self.province):
            raise TopicError(f"province code must be 2 digits, not {self.province!r}")
        if not COMMUNE_RE.match(self.commune):
            raise TopicError(f"commune code must be 5 digits, not {self.commune!r}")
        if not DEVICE_ID_RE.match(self.device_id):
            raise TopicError(
                f"device id must be 3-63 lower-case letters, digits or dashes, "
                f"not {self.device_id!r}"
            )

    @property
    def branch(self) -> str:
        return f"{ROOT}/dev/{self.province}/{self.commune}/{self.device_id}"

    def events(self) -> str:
        return f"{self.branch}/events"

    def status(self) -> str:
        return f"{self.branch}/status"

    def ack(self) -> str:
        return f"{self.branch}/ack"

    def scopes(self) -> list[str]:
        """The catalogue scopes this box follows, widest first."""
        return ["all", f"province/{self.province}", f"commune/{self.commune}"]


def parse_device_topic(topic: str) -> tuple[DevicePlace, str]:
    """(place, kind) of a box's topic, kind being 'events', 'status' or 'ack'."""
    parts = topic.split("/")
    if (
        len(parts) != 7
        or "/".join(parts[:3]) != f"{ROOT}/dev"
        or parts[6]
        not in (
            "events",
            "status",
            "ack",
        )
    ):
        raise TopicError(f"not a device topic: {topic!r}")
    return DevicePlace(parts[3], parts[4], parts[5]), parts[6]


def check_scope(scope: str) -> str:
    if not SCOPE_RE.match(scope):
        raise TopicError(f"scope must be all, province/NN or commune/NNNNN, not {scope!r}")
    return scope


def catalogue_manifest(scope: str) -> str:
    return f"{ROOT}/catalogue/{check_scope(scope)}/manifest"


def catalogue_chunk(scope: str, index: int) -> str:
    return f"{ROOT}/catalogue/{check_scope(scope)}/chunk/{index}"


def catalogue_filter(scope: str) -> str:
    """Subscription for one scope's manifest and chunks."""
    return f"{ROOT}/catalogue/{check_scope(scope)}/#"


def parse_catalogue_topic(topic: str) -> tuple[str, str, int | None]:
    """(scope, 'manifest' | 'chunk', chunk index or None) of a catalogue topic."""
    prefix = f"{ROOT}/catalogue/"
    if not topic.startswith(prefix):
        raise TopicError(f"not a catalogue topic: {topic!r}")
    rest = topic[len(prefix) :].split("/")
    if rest[-1] == "manifest":
        return check_scope("/".join(rest[:-1])), "manifest", None
    if len(rest) >= 3 and rest[-2] == "chunk" and rest[-1].isdigit():
        return check_scope("/".join(rest[:-2])), "chunk", int(rest[-1])
    raise TopicError(f"not a catalogue topic: {topic!r}")


# Server side: every box's messages, shareable between several ingestion workers.
ALL_EVENTS = f"{ROOT}/dev/+/+/+/events"
ALL_STATUS = f"{ROOT}/dev/+/+/+/status"
ALL_ACKS = f"{ROOT}/dev/+/+/+/ack"


def shared(group: str, topic_filter: str) -> str:
    """An MQTT 5 shared subscription: the broker spreads messages across the group."""
    return f"$share/{group}/{topic_filter}"
