"""A whole box, wired together: voice loop, hardware, and the link to the central server.

`hoixa device run` calls `run_box`. Each conversation becomes a usage report in the durable
outbox (sent whenever the network allows); the box's health goes out as its status; a new
signed catalogue from the server replaces the one the box answers from, and its answers are
pre-rendered in the background; the red light blinks slowly while the server is out of reach.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import TextIO

from hoixa.contract.catalogue import Catalogue
from hoixa.contract.messages import utc_now
from hoixa.device.assistant import Assistant
from hoixa.device.audio.microphone import Microphone
from hoixa.device.audio.speaker import Speaker
from hoixa.device.config import DeviceConfig
from hoixa.device.dialogue import SessionRecord
from hoixa.device.fleet.events import build_event
from hoixa.device.fleet.health import HealthState, software_version
from hoixa.device.fleet.link import FleetLink, open_link
from hoixa.device.hardware import KeyboardButtonDriver, Lights, TalkButton, use_mock_pins_if_no_gpio
from hoixa.device.voice_loop import VoiceLoop
from hoixa.device.watchdog import Watchdog

log = logging.getLogger(__name__)

OFFLINE_CHECK_SECONDS = 2.0


class Box:
    """The running parts of one box, so they can be started, watched and stopped together."""

    def __init__(
        self,
        config: DeviceConfig,
        assistant: Assistant,
        button: TalkButton,
        lights: Lights,
        microphone: Microphone,
        speaker: Speaker,
    ):
        self.config = config
        self.assistant = assistant
        self.lights = lights
        self.button = button
        self.health = HealthState(
            asr=assistant.recognizer.name,
            tts=assistant.synthesizer.name,
            catalogue_version=assistant.catalogue_version,
        )
        self.link: FleetLink | None = open_link(
            config, health=self.health, on_applied=self._catalogue_arrived
        )
        self.watchdog = Watchdog()
        self.loop = VoiceLoop(
            assistant,
            button,
            lights,
            microphone,
            speaker,
            on_conversation_end=self.report,
            heartbeat=self.watchdog.ping,
        )

    def _catalogue_arrived(self, catalogue: Catalogue) -> None:
        log.info("answering from catalogue version %s from now on", catalogue["version"])
        self.assistant.replace_catalogue(catalogue)

    def report(self, record: SessionRecord) -> None:
        """One conversation into the outbox (durable before this returns)."""
        self.health.set_devices(
            microphone_ok=self.loop.microphone_ok, speaker_ok=self.loop.speaker_ok
        )
        if self.loop.last_error:
            self.health.note_error(self.loop.last_error)
        if self.link is None:
            return
        event = build_event(
            record,
            device_id=self.config.fleet.device_id,
            started_at=record.started_at,
            ended_at=record.ended_at or utc_now(),
            catalogue_version=self.assistant.catalogue_version,
            software_version=software_version(),
            privacy=self.config.fleet.privacy,
        )
        try:
            self.link.record_event(event)
        except Exception:  # a report must never stop the box from answering
            log.exception("usage report could not be recorded")

    def _watch_connection(self, stop: threading.Event) -> None:
        while not stop.wait(OFFLINE_CHECK_SECONDS):
            self.lights.set_offline(self.link is not None and not self.link.connected)

    def run(self, stop: threading.Event) -> None:
        if self.link is not None:
            self.link.start()
            threading.Thread(
                target=self._watch_connection, args=(stop,), name="offline-light", daemon=True
            ).start()
        self.watchdog.ready(f"catalogue version {self.assistant.catalogue_version}")
        try:
            self.loop.run(stop)
        finally:
            self.watchdog.stopping()
            if self.link is not None:
                self.link.stop()
            self.lights.close()
            self.button.close()


def build_box(
    config: DeviceConfig, catalogue: Catalogue | None = None, keyboard: TextIO | None = sys.stdin
) -> tuple[Box, bool]:
    """Load everything; (box, True) when mock pins stand in for GPIO (Enter is the button)."""
    mock_pins = use_mock_pins_if_no_gpio()
    assistant = Assistant.load(config, catalogue)
    assistant.prerender_answers()
    button = TalkButton.from_config(config.gpio)
    lights = Lights(config.gpio)
    box = Box(config, assistant, button, lights, Microphone(config.audio), Speaker(config.audio))
    if mock_pins and keyboard is not None:
        KeyboardButtonDriver(button, keyboard, mode=config.gpio.talk_mode).start()
    return box, mock_pins
