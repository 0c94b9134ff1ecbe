"""The wire contract for the fleet link: topics, payload schemas, signatures, packaging."""

import copy

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hoixa.contract import catalogue as cat
from hoixa.contract import messages, packaging, signing, topics


def test_device_topics_carry_province_commune_and_device():
    place = topics.DevicePlace("79", "26734", "box-0001")
    assert place.events() == "hoixa/v1/dev/79/26734/box-0001/events"
    assert topics.parse_device_topic(place.status()) == (place, "status")
    assert place.scopes() == ["all", "province/79", "commune/26734"]


@pytest.mark.parametrize(
    "topic",
    ["hoixa/v1/dev/79/26734/box-0001/other", "hoixa/v2/dev/79/26734/b01/events", "x/y"],
)
def test_foreign_topics_are_refused(topic):
    with pytest.raises(topics.TopicError):
        topics.parse_device_topic(topic)


def test_bad_place_is_refused():
    for args in (("7", "26734", "box-1"), ("79", "2673", "box-1"), ("79", "26734", "Box 1")):
        with pytest.raises(topics.TopicError):
            topics.DevicePlace(*args)


def test_catalogue_topics_round_trip():
    assert topics.catalogue_manifest("province/79") == "hoixa/v1/catalogue/province/79/manifest"
    assert topics.parse_catalogue_topic(topics.catalogue_chunk("commune/26734", 3)) == (
        "commune/26734",
        "chunk",
        3,
    )
    assert topics.parse_catalogue_topic("hoixa/v1/catalogue/all/manifest") == (
        "all",
        "manifest",
        None,
    )
    with pytest.raises(topics.TopicError):
        topics.catalogue_manifest("province/Hà Nội")


def event() -> dict:
    return {
        "schema": "hoixa.event/1",
        "event_id": messages.new_id(),
        "device_id": "box-0001",
        "session_id": messages.new_id(),
        "started_at": messages.utc_now(),
        "ended_at": messages.utc_now(),
        "catalogue_version": 3,
        "turns": [
            {"action": "answer", "procedure": "1.001193", "category": "fees", "confidence": 0.8}
        ],
        "termination": "thanks",
        "satisfaction": "satisfied",
    }


def test_a_valid_event_round_trips():
    doc = event()
    assert messages.decode(messages.encode(doc, "hoixa.event/1"), "hoixa.event/1") == doc


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d.pop("event_id"), "event_id"),
        (lambda d: d.update(started_at="2026-11-23 10:00"), "started_at"),
        (lambda d: d["turns"][0].update(category="weather"), "turns/0/category"),
        (lambda d: d.update(schema="hoixa.event/2"), "schema"),
        (lambda d: d.update(extra=1), "extra"),
    ],
)
def test_invalid_events_are_refused_with_the_field(change, reason):
    doc = event()
    change(doc)
    with pytest.raises(messages.PayloadError) as err:
        messages.validate(doc, "hoixa.event/1")
    assert reason in err.value.reason


def test_garbage_bytes_are_refused_cleanly():
    for data in (b"\xff\xfe", b"{not json", b"[1, 2]", b"x" * (2 << 20)):
        with pytest.raises(messages.PayloadError):
            messages.decode(data, "hoixa.status/1")


@pytest.fixture(scope="module")
def key():
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def published(key):
    doc = cat.load_default()
    doc["version"] = 7
    return doc, *packaging.package(doc, key, chunk_bytes=8000)


def test_package_and_unpack(key, published):
    doc, manifest, chunks = published
    assert len(chunks) > 1 and manifest["version"] == 7
    assert packaging.unpack(manifest, dict(enumerate(chunks)), key.public_key()) == doc


def test_signature_from_another_key_is_refused(published):
    _, manifest, chunks = published
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(packaging.UpdateRejected) as err:
        packaging.unpack(manifest, dict(enumerate(chunks)), other)
    assert err.value.code == "bad_signature"


def test_a_forged_manifest_field_breaks_the_signature(key, published):
    _, manifest, chunks = published
    forged = dict(manifest, version=99)
    with pytest.raises(packaging.UpdateRejected) as err:
        packaging.unpack(forged, dict(enumerate(chunks)), key.public_key())
    assert err.value.code == "bad_signature"


def test_truncated_missing_or_altered_chunks_are_refused(key, published):
    _, manifest, chunks = published
    for broken, code in (
        ({**dict(enumerate(chunks)), 1: chunks[1][:-10]}, "bad_chunk"),
        ({i: c for i, c in enumerate(chunks) if i != 0}, "missing_chunk"),
        ({**dict(enumerate(chunks)), 0: bytes(len(chunks[0]))}, "bad_chunk"),
    ):
        with pytest.raises(packaging.UpdateRejected) as err:
            packaging.unpack(manifest, broken, key.public_key())
        assert err.value.code == code


def test_validly_signed_but_wrong_content_hash_is_refused(key, published):
    doc, manifest, _ = published
    other_doc = copy.deepcopy(doc)
    other_doc["title"] = "changed"
    _, other_chunks = packaging.package(other_doc, key, chunk_bytes=8000)
    tampered = dict(
        manifest,
        chunks=[
            {"index": i, "size": len(c), "sha256": packaging._sha256(c)}
            for i, c in enumerate(other_chunks)
        ],
    )
    tampered = signing.sign(tampered, key)  # signed, but content hash is the old one
    with pytest.raises(packaging.UpdateRejected) as err:
        packaging.unpack(tampered, dict(enumerate(other_chunks)), key.public_key())
    assert err.value.code == "bad_hash"


def test_keys_round_trip_through_pem(tmp_path, key):
    public = signing.generate_keypair(tmp_path / "central.key", tmp_path / "central.pub")
    assert (tmp_path / "central.key").stat().st_mode & 0o777 == 0o600
    assert signing.key_id(signing.load_public_key(tmp_path / "central.pub")) == signing.key_id(
        public
    )
    private = signing.load_private_key(tmp_path / "central.key")
    manifest = signing.sign({"schema": "x", "version": 1}, private)
    signing.verify(manifest, public)


def test_a_rejection_must_say_why():
    ack = {
        "schema": "hoixa.ack/1",
        "device_id": "box-0001",
        "at": messages.utc_now(),
        "scope": "province/79",
        "version": 4,
        "result": "rejected",
        "catalogue_version": 3,
    }
    with pytest.raises(messages.PayloadError, match="reason"):
        messages.validate(ack, "hoixa.ack/1")
    messages.validate({**ack, "reason": "stale_version: 4 <= 5"}, "hoixa.ack/1")
