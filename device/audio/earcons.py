"""Short beeps that tell the villager what the box is doing, without words.

Rising two notes: "I am listening, speak now". Falling two notes: "I stopped listening".
A low double buzz: "something went wrong". They are generated, not recorded, so they exist at
any sample rate; each note fades in and out smoothly so the speaker does not click.
"""

from __future__ import annotations

import numpy as np

LEVEL = 0.3  # of full scale: clearly audible, well below the speech level of the voices
ATTACK_SECONDS = 0.008
RELEASE_SECONDS = 0.03

START_NOTES = (660.0, 990.0)  # E5 then B5: a rising fifth
STOP_NOTES = (990.0, 660.0)  # the same fifth, falling
NOTE_SECONDS = 0.1
ERROR_PITCH = 330.0  # E4: an octave below the others, reads as "wrong"
ERROR_PULSE_SECONDS = 0.12
ERROR_GAP_SECONDS = 0.06


def start_listening(rate: int = 16000) -> bytes:
    """Rising two-note beep, about 200 ms."""
    return _to_bytes(np.concatenate([_note(f, NOTE_SECONDS, rate) for f in START_NOTES]))


def stop_listening(rate: int = 16000) -> bytes:
    """Falling two-note beep, about 200 ms."""
    return _to_bytes(np.concatenate([_note(f, NOTE_SECONDS, rate) for f in STOP_NOTES]))


def error(rate: int = 16000) -> bytes:
    """Two low pulses, about 300 ms."""
    pulse = _note(ERROR_PITCH, ERROR_PULSE_SECONDS, rate)
    gap = np.zeros(round(ERROR_GAP_SECONDS * rate))
    return _to_bytes(np.concatenate([pulse, gap, pulse]))


def _note(pitch: float, seconds: float, rate: int) -> np.ndarray:
    """A sine with raised-cosine fade in and out: starts and ends at zero, no clicks."""
    n = round(seconds * rate)
    t = np.arange(n) / rate
    envelope = np.ones(n)
    attack, release = round(ATTACK_SECONDS * rate), round(RELEASE_SECONDS * rate)
    envelope[:attack] = 0.5 - 0.5 * np.cos(np.pi * np.arange(attack) / attack)
    envelope[n - release :] = 0.5 + 0.5 * np.cos(np.pi * np.arange(1, release + 1) / release)
    return LEVEL * envelope * np.sin(2 * np.pi * pitch * t)


def _to_bytes(signal: np.ndarray) -> bytes:
    return np.rint(signal * 32767).astype(np.int16).tobytes()
