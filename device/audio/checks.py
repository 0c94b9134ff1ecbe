"""Judge a recorded question before recognition, so the box can say what to do differently.

A recogniser given a clipped shout or a whisper returns confident nonsense; it is kinder to
say "please stand back a little" or "please speak a little louder" straight away. The
thresholds below were set on the real Vietnamese recordings in ../shared/data/speech_vi
(16 kHz read sentences and 8 kHz single words), as each comment says.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hoixa.device.config import AudioConfig

from .vad import FRAME_SAMPLES, FRAME_SECONDS, MODE, RATE, speech_flags

# A sample at or above CLIP_LEVEL counts as "at full scale" (-0.2 dBFS: converters that clip
# sit at ±32767, some USB microphones' gain control clamps slightly below).
CLIP_LEVEL = 32000
# Share of the speech samples at full scale that means "clipped". The 15 read sentences
# scaled so their loudest sample just touches full scale have 0.002–0.042 % of their speech
# samples there; clipped 3 dB too hot, 0.016–1.2 %; 6 dB too hot, 0.19–4.6 %. 0.1 % is more
# than twice the worst clean case and catches every 6 dB overload.
CLIPPED_SHARE = 0.001
# Speech quieter than this (RMS over the speech frames) is "too quiet". The read sentences
# measure -21…-29 dBFS, the quietest recorded words -38…-41; -45 flags only speech well below
# anything in that set, where the signal sinks towards the room noise (-50…-56 there).
TOO_QUIET_DBFS = -45.0
# Speech frames less than this far apart count as one stretch of speech (syllable gaps).
BRIDGE_SECONDS = 0.3

SILENCE = "silence"
TOO_SHORT = "too_short"
TOO_LONG = "too_long"
CLIPPED = "clipped"
TOO_QUIET = "too_quiet"


@dataclass(frozen=True)
class QuestionCheck:
    """What was found in a recording; `problems` is empty when it is fit to recognise."""

    duration_seconds: float
    speech_seconds: float
    speech_dbfs: float
    clipped_share: float
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_question(
    pcm: bytes,
    config: AudioConfig | None = None,
    *,
    hit_cap: bool | None = None,
    min_seconds: float | None = None,
    mode: int = MODE,
) -> QuestionCheck:
    """Judge 16 kHz int16 mono PCM.

    `hit_cap`: listening stopped at max_question_seconds (EndOfSpeech knows); when None, a
    recording as long as the cap counts as cut off. `min_seconds` overrides
    config.min_question_seconds: one-word answers ("không", "đúng") measure 0.1–0.35 s of
    speech on the test recordings, so a yes/no answer needs a lower bar than a question.
    """
    config = config or AudioConfig()
    if min_seconds is None:
        min_seconds = config.min_question_seconds
    samples = np.frombuffer(pcm, dtype=np.int16)
    duration = len(samples) / RATE
    flags = speech_flags(pcm, mode)
    speech = _speech_samples(samples, flags)
    speech_seconds = _bridged_seconds(flags)
    judged = speech if len(speech) else samples
    clipped_share = (
        float(np.mean(np.abs(judged.astype(np.int32)) >= CLIP_LEVEL)) if len(judged) else 0.0
    )
    speech_dbfs = _dbfs(speech)
    if hit_cap is None:
        hit_cap = duration >= config.max_question_seconds - FRAME_SECONDS

    problems: list[str] = []
    if not any(flags):
        problems.append(SILENCE)
    elif speech_seconds < min_seconds:
        problems.append(TOO_SHORT)
    if clipped_share >= CLIPPED_SHARE:
        problems.append(CLIPPED)
    if any(flags) and speech_dbfs < TOO_QUIET_DBFS:
        problems.append(TOO_QUIET)
    if hit_cap:
        problems.append(TOO_LONG)
    return QuestionCheck(
        duration_seconds=duration,
        speech_seconds=speech_seconds,
        speech_dbfs=speech_dbfs,
        clipped_share=clipped_share,
        problems=tuple(problems),
    )


def _speech_samples(samples: np.ndarray, flags: list[bool]) -> np.ndarray:
    parts = [samples[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] for i, s in enumerate(flags) if s]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


def _bridged_seconds(flags: list[bool]) -> float:
    """Length of speech, counting short pauses between speech frames as speech."""
    bridge = round(BRIDGE_SECONDS / FRAME_SECONDS)
    total, last = 0, None
    for i, speech in enumerate(flags):
        if not speech:
            continue
        total += 1 if last is None or i - last > bridge else i - last
        last = i
    return total * FRAME_SECONDS


def _dbfs(samples: np.ndarray) -> float:
    if len(samples) == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    return 20 * np.log10(rms / 32768) if rms > 0 else -120.0
