"""A wired box against a real Mosquitto: reports go out, catalogue updates come in, and the
offline light follows the link."""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import replace

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from hoixa.contract import messages, signing, topics
from hoixa.contract.catalogue import load_default
from hoixa.device.assistant import Assistant
from hoixa.device.box import Box
from hoixa.device.config import DeviceConfig, FleetConfig
from hoixa.device.hardware import Lights, TalkButton
from hoixa.device.tts.select import load_synthesizer
from hoixa.server.catalogue_publisher import publish_catalogue
from hoixa.server.mosquitto import Mosquitto


class NoRecognizer:
    name = "none"
    sample_rate = 16000

    def start(self):
        raise AssertionError("not used here")


def wait_until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


@pytest.fixture
def broker(tmp_path):
    broker = Mosquitto(tmp_path / "broker").start()
    yield broker
    broker.stop()


@pytest.fixture
def key():
    return Ed25519PrivateKey.generate()


@pytest.fixture
def box(tmp_path, broker, key):
    Device.pin_factory = MockFactory()
    public = tmp_path / "central.pub"
    public.write_bytes(signing.public_pem(key.public_key()))
    config = DeviceConfig(
        commune_name="xã Tân Phú",
        data_dir=tmp_path / "box",
        fleet=FleetConfig(
            device_id="hx-79-26734-01",
            province="79",
            commune="26734",
            broker_host="127.0.0.1",
            broker_port=broker.port,
            tls=False,
            catalogue_public_key=str(public),
            keepalive_seconds=5,
        ),
    )
    assistant = Assistant(
        config, load_default(), NoRecognizer(), load_synthesizer(config.tts), cache=None
    )
    button, lights = TalkButton.from_config(config.gpio), Lights(config.gpio)
    box = Box(config, assistant, button, lights, microphone=None, speaker=None)
    stop = threading.Event()
    thread = threading.Thread(target=box.run, args=(stop,), daemon=True)
    thread.start()
    yield box
    stop.set()
    thread.join(timeout=15)
    Device.pin_factory.reset()
    Device.pin_factory = None


def subscriber(broker, topic_filter: str) -> tuple[mqtt.Client, list]:
    received = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_message = lambda _c, _u, msg: received.append(msg)
    client.connect("127.0.0.1", broker.port)
    client.subscribe(topic_filter, qos=1)
    client.loop_start()
    return client, received


def test_a_conversation_becomes_a_valid_usage_report(broker, box):
    client, received = subscriber(broker, topics.ALL_EVENTS)
    dialogue = box.assistant.new_conversation()
    dialogue.start()
    dialogue.handle("con trâu nhà tôi bị ốm")  # not understood: transcript kept
    dialogue.handle("làm hôn thú cần giấy tờ gì")
    dialogue.record.turns[-1].latency_ms = {"asr_final": 90.0, "match": 1.2}
    dialogue.record.turns[-1].asr_confidence = 0.6
    dialogue.handle("cảm ơn")
    dialogue.satisfaction_by_button(True)
    box.report(dialogue.record)
    wait_until(lambda: received)
    event = messages.decode(received[0].payload, "hoixa.event/1")
    assert received[0].topic == "hoixa/v1/dev/79/26734/hx-79-26734-01/events"
    assert event["session_id"] == dialogue.record.session_id
    assert event["procedures"] == ["1.000894"] and event["satisfaction"] == "satisfied"
    assert event["satisfaction_by"] == "button"
    first, second = event["turns"][:2]
    assert first["action"] == "not_found" and first["heard"] == "con trâu nhà tôi bị ốm"
    assert "heard" not in second  # privacy: understood questions are not kept
    assert second["latency_ms"] == {"asr_final": 90.0, "match": 1.2}
    assert second["asr_confidence"] == 0.6
    client.loop_stop()


def test_a_signed_catalogue_from_the_server_is_answered_from_at_once(broker, box, key):
    wait_until(lambda: box.link.connected)
    new = copy.deepcopy(load_default())
    new["version"] = version = load_default()["version"] + 1
    new["scope"] = "province/79"
    marriage = next(p for p in new["procedures"] if p["code"] == "1.000894")
    marriage["aliases"].append("xin phép lấy vợ ở xã")
    server = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    server.connect("127.0.0.1", broker.port)
    server.loop_start()
    publish_catalogue(server, new, key)
    wait_until(lambda: box.assistant.catalogue_version == version, timeout=30)
    decision = box.assistant.matcher.match("xin phép lấy vợ ở xã")
    assert decision.action == "answer" and decision.procedure["code"] == "1.000894"
    assert box.health.catalogue_version == version
    server.loop_stop()


def test_the_offline_light_follows_the_broker(broker, box):
    wait_until(lambda: box.link.connected)
    wait_until(lambda: not box.lights.offline)
    broker.stop()
    wait_until(lambda: box.lights.offline, timeout=30)
    broker.start()
    wait_until(lambda: box.link.connected and not box.lights.offline, timeout=60)


def test_no_broker_configured_means_no_link(tmp_path):
    Device.pin_factory = MockFactory()
    try:
        config = DeviceConfig(data_dir=tmp_path, fleet=replace(FleetConfig(), broker_host=""))
        assistant = Assistant(
            config, load_default(), NoRecognizer(), load_synthesizer(config.tts), cache=None
        )
        box = Box(
            config,
            assistant,
            TalkButton.from_config(config.gpio),
            Lights(config.gpio),
            microphone=None,
            speaker=None,
        )
        assert box.link is None
        box.report(assistant.new_conversation().record)  # nothing to send to: no error
    finally:
        Device.pin_factory.reset()
        Device.pin_factory = None
