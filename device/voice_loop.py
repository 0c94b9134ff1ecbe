"""The box's main loop: the button, the lights, listening, answering aloud.

One conversation per villager: the first press starts it; each press (held while speaking,
or tapped and ended by a pause, by configuration) is one turn: a rising beep, listening,
a falling beep, the answer aloud. Pressing while the box speaks stops it and listens
(barge-in). The conversation ends when the dialogue says so, or when nobody presses for a
while. Whatever goes wrong with the microphone or speaker is said or shown, logged, and the
loop carries on; no audio is kept after a turn, only its text goes to the usage report.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from hoixa.device.assistant import Assistant, Timings
from hoixa.device.audio import earcons
from hoixa.device.audio.checks import (
    CLIPPED,
    SILENCE,
    TOO_LONG,
    TOO_QUIET,
    TOO_SHORT,
    check_question,
)
from hoixa.device.audio.devices import AudioError
from hoixa.device.audio.microphone import Microphone
from hoixa.device.audio.speaker import Speaker
from hoixa.device.audio.vad import EndOfSpeech
from hoixa.device.dialogue import Dialogue, Reply, SessionRecord
from hoixa.device.hardware import (
    ERROR,
    IDLE,
    LISTENING,
    PRESS,
    SPEAKING,
    THINKING,
    Lights,
    TalkButton,
)

log = logging.getLogger(__name__)

RATE = 16000
FOLLOW_UP_SECONDS = 30.0  # after an answer, this long to press again before the session ends
SATISFACTION_TAP_SECONDS = 0.6  # a press shorter than this answers by button, longer speaks
SATISFACTION_WINDOW_SECONDS = 1.5  # presses counted together: one = satisfied, two = not
SHORT_ANSWER_SECONDS = 0.1  # "có", "không" are short: lower bar when a yes/no is expected
DEVICE_RETRY_SECONDS = 5.0
BARGE_IN_POLL_SECONDS = 0.02


MICROPHONE_DOWN = "Xin lỗi, micrô của máy đang bị lỗi. Bác vui lòng báo cán bộ xã giúp."


class MicrophoneDown(RuntimeError):
    """The microphone failed during a turn: the conversation ends, the box retries later."""


@dataclass
class Heard:
    """One recorded question, already recognised; the audio itself is not kept."""

    text: str
    confidence: float
    problems: tuple[str, ...]
    timings: Timings


class VoiceLoop:
    """Runs conversations until `stop` is set. Every part is passed in, so tests can drive it."""

    def __init__(
        self,
        assistant: Assistant,
        button: TalkButton,
        lights: Lights,
        microphone: Microphone,
        speaker: Speaker,
        *,
        on_conversation_end: Callable[[SessionRecord], None] | None = None,
        follow_up_seconds: float = FOLLOW_UP_SECONDS,
        heartbeat: Callable[[], None] = lambda: None,
    ):
        self.assistant = assistant
        self.config = assistant.config
        self.button = button
        self.lights = lights
        self.microphone = microphone
        self.speaker = speaker
        self.on_conversation_end = on_conversation_end
        self.follow_up_seconds = follow_up_seconds
        # Called only where the loop makes progress (systemd's watchdog: device/watchdog.py).
        self.heartbeat = heartbeat
        self.microphone_ok: bool | None = None
        self.speaker_ok: bool | None = None
        self.last_error: str | None = None
        self._asr_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="asr-final")

    # -- the loop ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        self.lights.show(IDLE)
        while not stop.is_set():
            self.heartbeat()
            if self.button.wait_for(PRESS, timeout=0.5) is None:
                continue
            try:
                record = self.conversation(stop)
            except Exception:  # the box must keep running whatever one conversation did
                log.exception("conversation failed")
                self.lights.show(ERROR)
                time.sleep(DEVICE_RETRY_SECONDS)
                continue
            if self.on_conversation_end:
                self.on_conversation_end(record)
            self.lights.show(IDLE)

    def conversation(self, stop: threading.Event) -> SessionRecord:
        """One villager, from the first press until the dialogue ends or they walk away."""
        dialogue = self.assistant.new_conversation()
        dialogue.start()  # the greeting is said only if the first question is not heard
        first_turn = True
        while not stop.is_set():
            self.heartbeat()
            try:
                heard = self.listen(dialogue)
            except MicrophoneDown:
                dialogue.record.termination = "error"
                break
            reply = self._reply(dialogue, heard, first_turn)
            first_turn = False
            interrupted = self.say(reply, heard.timings)
            if dialogue.record.turns:
                dialogue.record.turns[-1].latency_ms = {
                    k.removesuffix("_ms"): v for k, v in vars(heard.timings).items() if v
                }
            if reply.ended:
                break
            if interrupted:
                continue  # they pressed while the box spoke: listen straight away
            if not self._wait_for_next_turn(dialogue, stop):
                break
            if dialogue.state == "ended":
                break
        dialogue.abandon()
        return dialogue.record

    # -- a turn -----------------------------------------------------------------------------

    def listen(self, dialogue: Dialogue) -> Heard:
        """Beep, record until the button is released (or a pause, in tap mode), beep again;
        the recogniser runs while the person speaks."""
        self._play(earcons.start_listening(RATE), RATE)
        self.lights.show(LISTENING)
        timings = Timings()
        try:
            pcm, hit_cap = self._record()
            self.microphone_ok = True
        except AudioError as exc:
            self._device_failed("microphone", exc)
            raise MicrophoneDown from exc
        ended = time.perf_counter()
        # The falling beep plays while the recogniser finishes, so it costs no extra wait.
        final = self._asr_pool.submit(self._recognise, pcm)
        self.lights.show(THINKING)
        self._play(earcons.stop_listening(RATE), RATE)
        transcript = final.result()
        timings.asr_final_ms = round((time.perf_counter() - ended) * 1000, 1)
        short_ok = dialogue.state in ("confirm", "choice", "satisfaction")
        check = check_question(
            pcm,
            self.config.audio,
            hit_cap=hit_cap,
            min_seconds=SHORT_ANSWER_SECONDS if short_ok else None,
        )
        del pcm  # no audio is kept after a turn
        return Heard(transcript.text, transcript.confidence, check.problems, timings)

    def _record(self) -> tuple[bytes, bool]:
        """PCM of one question and whether it hit the maximum length."""
        mode = self.config.gpio.talk_mode
        end = EndOfSpeech.from_config(self.config.audio)
        limit = int(self.config.audio.max_question_seconds * RATE * 2)
        captured = bytearray()
        if self.microphone.device is None:
            self.microphone.open()
        self.microphone.discard()  # the beep and anything before it
        while len(captured) < limit:
            self.heartbeat()
            chunk = self.microphone.read()
            captured += chunk
            end.feed(chunk)
            if mode == "hold" and not self.button.is_pressed:
                break
            if mode == "tap" and end.ended:
                break
        return bytes(captured), len(captured) >= limit

    def _recognise(self, pcm: bytes):
        session = self.assistant.recognizer.start()
        step = RATE // 10 * 2
        for i in range(0, len(pcm), step):
            session.feed(pcm[i : i + step])
        return session.finish()

    def _reply(self, dialogue: Dialogue, heard: Heard, first_turn: bool) -> Reply:
        problems = set(heard.problems)
        if heard.text.strip():
            reply = self.assistant.respond(dialogue, heard.text, heard.timings)
        elif problems & {CLIPPED, TOO_QUIET, TOO_LONG}:
            kind = next(p for p in (CLIPPED, TOO_QUIET, TOO_LONG) if p in problems)
            reply = dialogue.audio_problem(kind)
        elif first_turn and problems & {SILENCE, TOO_SHORT}:
            reply = dialogue.start()  # they pressed but said nothing: explain how it works
        else:
            reply = self.assistant.respond(dialogue, "", heard.timings)
        if dialogue.record.turns:
            turn = dialogue.record.turns[-1]
            turn.asr_confidence = round(heard.confidence, 3)
            turn.audio_problem = turn.audio_problem or (
                heard.problems[0] if heard.problems else None
            )
        return reply

    def say(self, reply: Reply, timings: Timings | None = None) -> bool:
        """Speak a reply; True if the person pressed the button to interrupt it."""
        self.lights.show(SPEAKING)
        self.button.clear()
        start = time.perf_counter()
        first = []

        def pieces():
            for speech in self.assistant.speak(reply):
                self.heartbeat()
                if not first:
                    first.append(time.perf_counter())
                yield speech.pcm, speech.sample_rate

        done = threading.Event()
        watcher = threading.Thread(target=self._watch_for_barge_in, args=(done,), daemon=True)
        watcher.start()
        try:
            finished = self.speaker.play(pieces())
            self.speaker_ok = True
        except AudioError as exc:
            self._device_failed("speaker", exc)
            finished = True
        finally:
            done.set()
        if timings is not None and first:
            timings.first_audio_ms = round(timings.asr_final_ms + (first[0] - start) * 1000, 1)
        return not finished

    def _watch_for_barge_in(self, done: threading.Event) -> None:
        while not done.is_set():
            if self.button.is_pressed and self.speaker.playing:
                log.info("barge-in: stopping speech to listen")
                self.speaker.stop()
                return
            done.wait(BARGE_IN_POLL_SECONDS)

    # -- between turns ----------------------------------------------------------------------

    def _wait_for_next_turn(self, dialogue: Dialogue, stop: threading.Event) -> bool:
        """Wait for the next press; answer a satisfaction question by taps. False: gone."""
        self.lights.show(IDLE)
        event = self.button.wait_for(PRESS, timeout=self.follow_up_seconds)
        if event is None or stop.is_set():
            return False
        if dialogue.state == "satisfaction":
            released = self.button.wait_for("release", timeout=SATISFACTION_TAP_SECONDS)
            if released is not None:  # a short tap: answer by counting presses
                more = self.button.count_presses(
                    SATISFACTION_WINDOW_SECONDS, timeout=SATISFACTION_WINDOW_SECONDS
                )
                reply = dialogue.satisfaction_by_button(satisfied=more == 0)
                self.say(reply)
                return False
        return True

    # -- devices ----------------------------------------------------------------------------

    def _play(self, pcm: bytes, rate: int) -> None:
        try:
            self.speaker.play_pcm(pcm, rate)
            self.speaker_ok = True
        except AudioError as exc:
            self._device_failed("speaker", exc)

    def _device_failed(self, which: str, exc: AudioError) -> None:
        """Log it, show it on the red light, and say it when the speaker still works."""
        log.error("%s problem (%s): %s", which, exc.kind, exc)
        self.last_error = f"{which}: {exc.kind}"
        self.lights.show(ERROR)
        if which == "speaker":
            self.speaker_ok = False
            return
        self.microphone_ok = False
        self.microphone.close()
        self._play(earcons.error(RATE), RATE)
        try:
            self.speaker.play((s.pcm, s.sample_rate) for s in self.assistant.speak(MICROPHONE_DOWN))
        except AudioError:
            self.speaker_ok = False
