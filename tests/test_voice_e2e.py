"""The whole box, end to end, through REAL pyaudio: file-backed ALSA devices stand in for the
microphone and the speaker (tests/alsa_files.py), the talk button is a gpiozero mock pin,
recognition is viet-asr and speech espeak-ng, both for real.

Each case runs the box in a fresh process (PortAudio reads the ALSA configuration once per
process): it taps the button, lets the box listen to in.raw and answer into out.raw, and
prints the conversation record. The test then checks what the box played (beeps, then
speech) and what it recorded.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alsa_files import write_alsa_files
from conftest import ROOT, SHARED
from hoixa.device.recording import read_wav

pytestmark = [
    pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng not installed"),
    pytest.mark.skipif(importlib.util.find_spec("vietasr") is None, reason="viet-asr missing"),
    pytest.mark.skipif(importlib.util.find_spec("pyaudio") is None, reason="pyaudio missing"),
]

RATE = 16000
SENTENCE = SHARED / "data/speech_vi/sentences/VIVOSDEV01_R003.wav"

RUN_BOX = r"""
import dataclasses, json, sys, threading, time
from pathlib import Path
from gpiozero import Device
from gpiozero.pins.mock import MockFactory
Device.pin_factory = MockFactory()
from hoixa.device.assistant import Assistant
from hoixa.device.audio.microphone import Microphone
from hoixa.device.audio.speaker import Speaker
from hoixa.device.config import AudioConfig, DeviceConfig, GpioConfig
from hoixa.device.hardware import Lights, TalkButton
from hoixa.device.voice_loop import VoiceLoop

config = DeviceConfig(
    data_dir=Path(sys.argv[1]),
    gpio=GpioConfig(talk_mode="tap"),
    audio=AudioConfig(silence_end_seconds=0.8),
)
assistant = Assistant.load(config)
speaker = Speaker(config.audio)
button = TalkButton.from_config(config.gpio, bounce_seconds=None)
lights = Lights(config.gpio)
records = []
loop = VoiceLoop(assistant, button, lights, Microphone(config.audio), speaker,
                 on_conversation_end=records.append, follow_up_seconds=1.0)
stop = threading.Event()
thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
thread.start()
button.pin.drive_low(); time.sleep(0.05); button.pin.drive_high()
deadline = time.monotonic() + 90
while not records and time.monotonic() < deadline:
    time.sleep(0.05)
stop.set()
thread.join(10)
print(json.dumps({"rate": speaker.rate, "asr": assistant.recognizer.name,
                  "records": [dataclasses.asdict(r) for r in records]}, ensure_ascii=False))
"""


def run_box(tmp_path: Path, heard: bytes) -> tuple[dict, np.ndarray]:
    files = write_alsa_files(tmp_path / "alsa")
    # Half a second of room sound first (opening the stream reads a little ahead), then
    # the question, then enough silence for the pause that ends a tapped question.
    files.set_input(bytes(RATE) + heard, pad_seconds=4.0)
    env = {**os.environ, **files.env, "HOIXA_DATA_DIR": str(tmp_path / "box")}
    proc = subprocess.run(
        [sys.executable, "-c", RUN_BOX, str(tmp_path / "box")],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result, files.output()


def dominant_pitch(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def assert_beeps_then_speech(played: np.ndarray, rate: int) -> None:
    note = int(0.08 * rate)  # inside each 100 ms note
    start_low, start_high = played[:note], played[int(0.1 * rate) : int(0.1 * rate) + note]
    assert abs(dominant_pitch(start_low, rate) - 660) < 30
    assert abs(dominant_pitch(start_high, rate) - 990) < 30
    stop_high = played[int(0.2 * rate) : int(0.2 * rate) + note]
    stop_low = played[int(0.3 * rate) : int(0.3 * rate) + note]
    assert abs(dominant_pitch(stop_high, rate) - 990) < 30
    assert abs(dominant_pitch(stop_low, rate) - 660) < 30
    speech = played[int(0.4 * rate) :]
    loud = np.abs(speech.astype(np.int32)) > 500
    assert loud.mean() > 0.05 and len(speech) / rate > 1.5  # a spoken answer, not silence


@pytest.mark.skipif(not SENTENCE.exists(), reason=f"recording not found: {SENTENCE}")
def test_a_spoken_question_is_heard_answered_and_recorded(tmp_path):
    result, played = run_box(tmp_path, read_wav(SENTENCE))
    assert result["asr"] == "viet-asr"
    [record] = result["records"]
    [turn] = record["turns"]
    assert turn["heard"].strip()  # real Vietnamese speech gave real text
    assert turn["action"] in {"answer", "menu", "clarify", "not_found", "emergency"}
    assert turn["asr_confidence"] is not None and turn["latency_ms"]["asr_final"] > 0
    assert turn["audio_problem"] is None
    assert_beeps_then_speech(played, result["rate"])


def test_silence_at_the_microphone_gets_the_instructions(tmp_path):
    result, played = run_box(tmp_path, bytes(2 * RATE))
    [record] = result["records"]
    assert record["turns"] == [] and record["termination"] == "abandoned"
    assert_beeps_then_speech(played, result["rate"])
    assert len(played) / result["rate"] > 8  # the greeting explains how to use the box
