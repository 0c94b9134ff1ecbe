"""Broker security against a real Mosquitto: passwords, the per-box ACL, revocation, TLS.

What Mosquitto 2.0.11 does, as these tests pin down (MQTT v5 clients):
- wrong password, unknown user, anonymous: CONNACK 135 (Not authorized), never 134;
- a publish outside the account's ACL: PUBACK 135, and the message goes nowhere;
- a subscription outside the ACL: SUBACK grants it (QoS 1), then nothing is delivered; read
  access is checked per message at delivery, for retained messages and shared subscriptions too;
- revoking a box and sending SIGHUP: new connections get CONNACK 135, and the broker also
  drops the box's open connection;
- TLS with require_certificate: a client without a certificate from the CA gets no CONNACK.
"""

from __future__ import annotations

import gc
import shutil
import ssl
import subprocess
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from hoixa.contract import topics
from hoixa.server import broker_auth, tls
from hoixa.server.mosquitto import Mosquitto, TlsFiles

pytestmark = pytest.mark.skipif(
    not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()),
    reason="mosquitto is not installed",
)

NOT_AUTHORIZED = 135
WAIT_S = 5.0

A = broker_auth.DeviceAccount("box-a", "79", "26734", broker_auth.new_password())
B = broker_auth.DeviceAccount("box-b", "79", "26737", broker_auth.new_password())
C = broker_auth.DeviceAccount("box-c", "01", "00004", broker_auth.new_password())
SERVER_PASSWORD = broker_auth.new_password()
SERVER = broker_auth.DEFAULT_SERVER_USERNAME


class Client:
    """A paho MQTT v5 client driven step by step: each call waits for the broker's answer."""

    def __init__(self, port: int, username: str | None, password: str | None = None, **tls_args):
        self.port = port
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"{username or 'anonymous'}-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
        )
        if username:
            self.client.username_pw_set(username, password)
        if tls_args:
            self.client.tls_set(**tls_args)
        self._cond = threading.Condition()
        self._answers: dict = {}
        self.messages: list[mqtt.MQTTMessage] = []
        self.client.on_connect = lambda c, u, f, rc, p: self._answer("connack", rc)
        self.client.on_disconnect = lambda c, u, f, rc, p: self._answer("disconnect", rc)
        self.client.on_publish = lambda c, u, mid, rc, p: self._answer(("puback", mid), rc)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self._answer(("suback", mid), rcs)
        self.client.on_message = self._on_message

    def _answer(self, key, value) -> None:
        with self._cond:
            self._answers[key] = value
            self._cond.notify_all()

    def _on_message(self, client, userdata, msg) -> None:
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()

    def wait(self, key, timeout: float = WAIT_S):
        with self._cond:
            self._cond.wait_for(lambda: key in self._answers, timeout)
            return self._answers.get(key)

    def connect(self):
        """The CONNACK reason code, or None when the broker closed without one."""
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.client.loop_start()
        with self._cond:
            self._cond.wait_for(
                lambda: "connack" in self._answers or "disconnect" in self._answers, WAIT_S
            )
            return self._answers.get("connack")

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        return self.wait(("puback", info.mid)).value

    def subscribe(self, topic_filter: str) -> int:
        _, mid = self.client.subscribe(topic_filter, qos=1)
        (granted,) = self.wait(("suback", mid))
        return granted.value

    def wait_for_message(self, topic: str, payload: bytes) -> None:
        with self._cond:
            arrived = self._cond.wait_for(
                lambda: any(m.topic == topic and m.payload == payload for m in self.messages),
                WAIT_S,
            )
        assert arrived, f"{topic} {payload!r} did not arrive"

    def received(self) -> list[tuple[str, bytes]]:
        with self._cond:
            return [(m.topic, m.payload) for m in self.messages]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def clients():
    opened: list[Client] = []

    def open_client(*args, **kwargs) -> Client:
        opened.append(Client(*args, **kwargs))
        return opened[-1]

    yield open_client
    for client in opened:
        client.close()


def secured_broker(folder: Path, **kwargs) -> tuple[Mosquitto, broker_auth.BrokerFiles]:
    files = broker_auth.BrokerFiles(folder / "passwd", folder / "acl")
    files.write_all([A, B, C], SERVER_PASSWORD)
    broker = Mosquitto(
        folder / "broker", password_file=files.password_file, acl_file=files.acl_file, **kwargs
    )
    return broker.start(), files


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    broker, _ = secured_broker(tmp_path_factory.mktemp("secured"))
    yield broker
    broker.stop()


@pytest.fixture
def own_broker(tmp_path):
    """A broker of the test's own, for tests that change the accounts."""
    broker, files = secured_broker(tmp_path)
    yield broker, files
    broker.stop()


# -- files, without a broker ---------------------------------------------------------------


def test_hashes_match_mosquitto_passwd_both_ways(tmp_path):
    if not shutil.which("mosquitto_passwd"):
        pytest.skip("mosquitto_passwd is not installed")
    path = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(path), "box-a", "s3cret"], check=True)
    theirs = broker_auth.read_password_file(path)["box-a"]
    assert broker_auth.check_password("s3cret", theirs)
    assert not broker_auth.check_password("s3cret!", theirs)
    ours = broker_auth.hash_password("s3cret")
    assert ours.split("$")[1:3] == theirs.split("$")[1:3]  # same algorithm and iterations
    assert broker_auth.check_password("s3cret", ours)
    assert ours != broker_auth.hash_password("s3cret")  # salted


def test_acl_gives_each_box_its_own_topics_and_scopes_only(tmp_path):
    files = broker_auth.BrokerFiles(tmp_path / "passwd", tmp_path / "acl")
    files.write_all([A, B, C], SERVER_PASSWORD)
    blocks = {}
    for block in files.acl_file.read_text().split("\nuser ")[1:]:
        name, *lines = block.strip().splitlines()
        blocks[name] = set(lines)
    assert set(blocks) == {SERVER, "box-a", "box-b", "box-c"}
    assert blocks["box-a"] == {
        "topic write hoixa/v1/dev/79/26734/box-a/events",
        "topic write hoixa/v1/dev/79/26734/box-a/status",
        "topic write hoixa/v1/dev/79/26734/box-a/ack",
        "topic read hoixa/v1/catalogue/all/#",
        "topic read hoixa/v1/catalogue/province/79/#",
        "topic read hoixa/v1/catalogue/commune/26734/#",
    }
    anonymous_section = files.acl_file.read_text().split("\nuser ")[0].splitlines()
    assert all(line.startswith("#") or not line.strip() for line in anonymous_section)
    assert not [line for line in files.acl_file.read_text().splitlines() if "%" in line]
    assert files.enrolled() == {a.device_id: a.place for a in (A, B, C)}
    assert files.password_file.stat().st_mode & 0o777 == broker_auth.NEW_FILE_MODE
    assert A.password not in repr(A)


def test_enrol_replace_revoke_keep_both_files_consistent(tmp_path):
    files = broker_auth.BrokerFiles(tmp_path / "passwd", tmp_path / "acl")
    files.write_all([A, B], SERVER_PASSWORD)
    server_hash = broker_auth.read_password_file(files.password_file)[SERVER]
    files.password_file.chmod(0o600)

    assert files.enrol(C) is True
    with pytest.raises(broker_auth.AccountError):
        files.enrol(C)  # an enrolled id is never silently taken over
    with pytest.raises(broker_auth.AccountError):
        files.enrol(broker_auth.DeviceAccount(SERVER, "79", "26734", "x"))

    moved = broker_auth.DeviceAccount("box-b2", "79", "26740", "new-password")
    assert files.replace("box-b", moved) is True
    assert files.revoke("box-a") is True
    assert files.revoke("box-a") is False  # nothing left to do, no reload needed

    hashes = broker_auth.read_password_file(files.password_file)
    assert set(hashes) == {SERVER, "box-b2", "box-c"}
    assert hashes[SERVER] == server_hash  # untouched entries are kept as they were
    assert broker_auth.check_password("new-password", hashes["box-b2"])
    assert files.enrolled()["box-b2"].commune == "26740"
    assert set(files.enrolled()) == {"box-b2", "box-c"}
    assert files.password_file.stat().st_mode & 0o777 == 0o600  # mode survives a rewrite
    assert not list(tmp_path.glob(".passwd.*")) and not list(tmp_path.glob(".acl.*"))


def test_a_box_left_half_enrolled_by_a_crash_can_be_enrolled_again(tmp_path):
    files = broker_auth.BrokerFiles(tmp_path / "passwd", tmp_path / "acl")
    files.write_all([A], SERVER_PASSWORD)
    # As if enrolment had stopped after the ACL and before the password file:
    files.acl_file.write_text(broker_auth.acl_text(SERVER, [A.place, B.place]))
    assert set(files.enrolled()) == {"box-a"}
    assert files.enrol(B) is True
    assert set(files.enrolled()) == {"box-a", "box-b"}


# -- passwords and ACL on a real broker -------------------------------------------------------


def test_a_box_publishes_its_own_events_and_status(broker, clients):
    server = clients(broker.port, SERVER, SERVER_PASSWORD)
    assert server.connect() == 0
    assert server.subscribe(topics.ALL_EVENTS) == 1
    box = clients(broker.port, A.device_id, A.password)
    assert box.connect() == 0
    assert box.publish(A.place.events(), b"event-1") == 0
    assert box.publish(A.place.status(), b"online", retain=True) == 16  # no subscriber: fine
    server.wait_for_message(A.place.events(), b"event-1")


def test_a_box_cannot_write_for_another_box(broker, clients):
    server = clients(broker.port, SERVER, SERVER_PASSWORD)
    assert server.connect() == 0
    assert server.subscribe(topics.ALL_EVENTS) == 1
    box = clients(broker.port, A.device_id, A.password)
    assert box.connect() == 0
    assert box.publish(B.place.events(), b"forged") == NOT_AUTHORIZED
    assert box.publish(topics.catalogue_manifest("all"), b"forged") == NOT_AUTHORIZED
    assert box.publish(A.place.branch + "/other", b"forged") == NOT_AUTHORIZED
    box.publish(A.place.events(), b"after")  # same connection, so it arrives after the others
    server.wait_for_message(A.place.events(), b"after")
    assert not [t for t, p in server.received() if p == b"forged"]


def test_a_box_reads_only_the_catalogue_scopes_it_follows(broker, clients):
    server = clients(broker.port, SERVER, SERVER_PASSWORD)
    assert server.connect() == 0
    for scope in ("all", "province/79", "province/01", "commune/26734", "commune/26737"):
        assert server.publish(topics.catalogue_manifest(scope), scope.encode(), retain=True) < 128
    box = clients(broker.port, A.device_id, A.password)
    assert box.connect() == 0

    # Mosquitto 2.0.11 grants any subscription and filters what it delivers.
    assert box.subscribe(topics.catalogue_filter("province/01")) == 1
    assert box.subscribe(f"{topics.ROOT}/catalogue/#") == 1
    assert box.subscribe(topics.ALL_EVENTS) == 1
    server.publish(topics.catalogue_manifest("province/01"), b"live province/01")
    server.publish(topics.catalogue_chunk("commune/26737", 0), b"live commune/26737")
    server.publish(topics.catalogue_manifest("province/79"), b"live province/79")
    # The server's messages arrive in order: once the last is in, the others had their chance.
    box.wait_for_message(topics.catalogue_manifest("province/79"), b"live province/79")
    assert sorted(p for _, p in box.received()) == sorted(
        [b"all", b"province/79", b"commune/26734", b"live province/79"]
    )


def test_wrong_password_unknown_user_and_anonymous_are_refused(broker, clients):
    assert clients(broker.port, A.device_id, "wrong").connect() == NOT_AUTHORIZED
    assert clients(broker.port, A.device_id, B.password).connect() == NOT_AUTHORIZED
    assert clients(broker.port, "box-z", "whatever").connect() == NOT_AUTHORIZED
    assert clients(broker.port, None).connect() == NOT_AUTHORIZED


def test_the_server_reads_events_through_a_shared_subscription(broker, clients):
    group = topics.shared("ingest", topics.ALL_EVENTS)
    assert group == "$share/ingest/hoixa/v1/dev/+/+/+/events"
    workers = [clients(broker.port, SERVER, SERVER_PASSWORD) for _ in range(2)]
    for worker in workers:
        assert worker.connect() == 0
        assert worker.subscribe(group) == 1
    box = clients(broker.port, A.device_id, A.password)
    assert box.connect() == 0
    sent = [f"shared-{i}".encode() for i in range(20)]
    for payload in sent:
        assert box.publish(A.place.events(), payload) == 0
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        got = [p for w in workers for t, p in w.received() if p.startswith(b"shared-")]
        if len(got) >= len(sent):
            break
        time.sleep(0.05)
    assert sorted(got) == sorted(sent)  # each event to exactly one worker of the group


def test_revoked_box_is_shut_out_after_reload_and_enrolled_box_let_in(own_broker, clients):
    broker, files = own_broker
    box = clients(broker.port, A.device_id, A.password)
    assert box.connect() == 0
    newcomer = broker_auth.DeviceAccount("box-d", "79", "26734", broker_auth.new_password())
    assert clients(broker.port, newcomer.device_id, newcomer.password).connect() == NOT_AUTHORIZED

    assert files.revoke(A.device_id) is True
    assert files.enrol(newcomer) is True
    broker_auth.reload(broker.pid)

    assert box.wait("disconnect") is not None  # Mosquitto drops the revoked box's connection
    deadline = time.monotonic() + WAIT_S
    while (refused := clients(broker.port, A.device_id, A.password).connect()) == 0:
        assert time.monotonic() < deadline, "the broker did not reload its password file"
        time.sleep(0.1)
    assert refused == NOT_AUTHORIZED
    late = clients(broker.port, newcomer.device_id, newcomer.password)
    assert late.connect() == 0
    assert late.publish(newcomer.place.events(), b"hello") == 16  # allowed, nobody listening
    assert clients(broker.port, B.device_id, B.password).connect() == 0


# -- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca = tls.make_ca(folder / "ca")
    return {
        "ca": ca,
        "server": tls.make_server_cert(folder / "server", ca, ["localhost", "127.0.0.1"]),
        "box": tls.make_client_cert(folder / "boxes", ca, A.device_id),
        "other_ca": (other := tls.make_ca(folder / "other")),
        "stranger": tls.make_client_cert(folder / "strangers", other, A.device_id),
    }


def test_generated_certificates_say_what_they_are_for(pki):
    from cryptography import x509

    server = x509.load_pem_x509_certificate(pki["server"].cert.read_bytes())
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    box = x509.load_pem_x509_certificate(pki["box"].cert.read_bytes())
    assert box.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "box-a"
    ca = x509.load_pem_x509_certificate(pki["ca"].cert.read_bytes())
    assert box.issuer == ca.subject and server.issuer == ca.subject
    assert pki["box"].key.stat().st_mode & 0o777 == 0o600


def tls_broker(folder: Path, pki, require_certificate: bool) -> Mosquitto:
    files = TlsFiles(pki["ca"].cert, pki["server"].cert, pki["server"].key, require_certificate)
    return secured_broker(folder, tls=files)[0]


# paho does not close its socket when the TLS handshake fails; collected here, not later.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_tls_clients_must_trust_the_broker_ca(tmp_path, pki, clients):
    broker = tls_broker(tmp_path, pki, require_certificate=False)
    try:
        trusting = clients(broker.port, A.device_id, A.password, ca_certs=str(pki["ca"].cert))
        assert trusting.connect() == 0
        assert trusting.publish(A.place.events(), b"over tls") == 16
        for ca_certs in (str(pki["other_ca"].cert), None):  # another CA; the system's CAs
            with pytest.raises(ssl.SSLCertVerificationError):
                clients(broker.port, A.device_id, A.password, ca_certs=ca_certs).connect()
        plain = clients(broker.port, A.device_id, A.password)
        assert plain.connect() is None  # plain MQTT on the TLS port gets no CONNACK
    finally:
        broker.stop()
        gc.collect()


def test_required_client_certificate_must_come_from_the_ca(tmp_path, pki, clients):
    broker = tls_broker(tmp_path, pki, require_certificate=True)
    ca = str(pki["ca"].cert)
    try:
        signed = clients(
            broker.port, A.device_id, A.password,
            ca_certs=ca, certfile=str(pki["box"].cert), keyfile=str(pki["box"].key),
        )  # fmt: skip
        assert signed.connect() == 0
        without = clients(broker.port, A.device_id, A.password, ca_certs=ca)
        assert without.connect() is None
        stranger = clients(
            broker.port, A.device_id, A.password,
            ca_certs=ca, certfile=str(pki["stranger"].cert), keyfile=str(pki["stranger"].key),
        )  # fmt: skip
        assert stranger.connect() is None
    finally:
        broker.stop()
