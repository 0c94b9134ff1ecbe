"""espeak-ng: the voice every box has (a Debian package, no model files), robotic but clear.

It is the embedded default and the fallback when no Piper voice is installed. Each sentence is
one `espeak-ng --stdout` run (a few milliseconds); the WAV it writes is read back with `wave`.

Speed. The configured rates are Piper length scales (larger is slower); espeak-ng wants words
per minute, so wpm = 161 / length_scale: the default normal rate 1.15 gives 140 wpm and the
slow rate 1.5 gives 107 wpm (espeak-ng's own default is 175). When slow, 20 ms more silence
goes between words (`-g 2`) as well.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave

from hoixa.device.config import TtsConfig
from hoixa.device.tts.base import Speech, TtsError, end_with_pause, pause_for

WPM_AT_LENGTH_SCALE_ONE = 161
MIN_WPM, MAX_WPM = 80, 300
NORMAL_WORD_GAP, SLOW_WORD_GAP = 0, 2  # -g: extra silence between words, in 10 ms units
VIETNAMESE_VOICES = ("vi", "vi-vn-x-central", "vi-vn-x-south")
_TIMEOUT_SECONDS = 60
_INSTALL_HINT = "install it with: sudo apt-get install espeak-ng"


def words_per_minute(length_scale: float) -> int:
    """espeak-ng's -s for a Piper-style length scale (1.15 → 140, 1.5 → 107)."""
    if length_scale <= 0:
        raise TtsError(f"speaking rate must be positive, not {length_scale}")
    return max(MIN_WPM, min(MAX_WPM, round(WPM_AT_LENGTH_SCALE_ONE / length_scale)))


class EspeakSynthesizer:
    """One espeak-ng voice at two speeds."""

    name = "espeak-ng"

    def __init__(
        self,
        voice: str = "vi",
        *,
        normal_rate: float = 1.15,
        slow_rate: float = 1.5,
        binary: str = "espeak-ng",
    ):
        found = shutil.which(binary)
        if not found:
            raise TtsError(f"the espeak-ng program ({binary}) is not installed; {_INSTALL_HINT}")
        self.binary = found
        self.voice = voice
        self.normal_wpm = words_per_minute(normal_rate)
        self.slow_wpm = words_per_minute(slow_rate)
        self._check_voice()
        probe = self._run("a", self.normal_wpm, NORMAL_WORD_GAP)
        self.sample_rate = probe.getframerate()
        version = self._version()
        self.voice_id = (
            f"espeak-ng {version}:{voice}:{self.normal_wpm}/{self.slow_wpm}wpm"
            f":gap{NORMAL_WORD_GAP}/{SLOW_WORD_GAP}:pause{pause_for(False)}/{pause_for(True)}"
        )

    @classmethod
    def from_config(cls, config: TtsConfig) -> EspeakSynthesizer:
        return cls(config.espeak_voice, normal_rate=config.normal_rate, slow_rate=config.slow_rate)

    def synthesize(self, sentence: str, *, slow: bool) -> Speech:
        if not sentence.strip():
            return Speech(b"", self.sample_rate)
        wpm, gap = (self.slow_wpm, SLOW_WORD_GAP) if slow else (self.normal_wpm, NORMAL_WORD_GAP)
        wav = self._run(sentence, wpm, gap)
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise TtsError(
                f"espeak-ng wrote {wav.getnchannels()} channel(s) of {wav.getsampwidth()}-byte "
                "samples; expected 16-bit mono"
            )
        pcm = wav.readframes(wav.getnframes())  # --stdout leaves the length unset: reads all
        return end_with_pause(pcm, wav.getframerate(), pause_for(slow))

    def _check_voice(self) -> None:
        """Refuse a voice espeak-ng does not list: it would quietly fall back to another one
        ("vi-vn-x-centre" is read as plain "vi"), and the box would speak the wrong accent."""
        base = self.voice.split("+", 1)[0].lower()  # "vi+f3": a voice with a variant
        known = self._installed_voices()
        if known and base not in known:
            raise TtsError(
                f"espeak-ng has no voice {self.voice!r}; list the installed ones with "
                f"`espeak-ng --voices=vi` (Vietnamese: {', '.join(VIETNAMESE_VOICES)}) and set "
                f"tts.espeak_voice, or {_INSTALL_HINT}"
            )

    def _installed_voices(self) -> set[str]:
        """Names -v accepts: language codes and voice files ("vi", "aav/vi"); empty if unknown."""
        try:
            out = subprocess.run(
                [self.binary, "--voices"], capture_output=True, text=True, timeout=10, check=False
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            return set()
        names: set[str] = set()
        for line in out.splitlines()[1:]:  # Pty Language Age/Gender VoiceName File Other
            columns = line.split()
            if len(columns) >= 5:
                names.update(n.lower() for n in (columns[1], columns[4], columns[4].split("/")[-1]))
        return names

    def _run(self, text: str, wpm: int, gap: int) -> wave.Wave_read:
        command = [self.binary, "-v", self.voice, "-b", "1", "-s", str(wpm), "-g", str(gap)]
        try:
            done = subprocess.run(
                [*command, "--stdout"],
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TtsError(f"espeak-ng could not be run ({exc}); {_INSTALL_HINT}") from exc
        message = done.stderr.decode("utf-8", "replace").strip()
        if done.returncode != 0 or not done.stdout:
            if "voice" in message.lower():
                raise TtsError(
                    f"espeak-ng has no voice {self.voice!r} ({message}); list the installed "
                    "ones with `espeak-ng --voices=vi` (Vietnamese: "
                    f"{', '.join(VIETNAMESE_VOICES)}) and set tts.espeak_voice, or {_INSTALL_HINT}"
                )
            raise TtsError(f"espeak-ng failed (exit {done.returncode}): {message or 'no audio'}")
        try:
            return wave.open(io.BytesIO(done.stdout), "rb")
        except (wave.Error, EOFError) as exc:
            raise TtsError(f"espeak-ng wrote audio that is not a WAV file: {exc}") from exc

    def _version(self) -> str:
        try:
            out = subprocess.run(
                [self.binary, "--version"], capture_output=True, text=True, timeout=10, check=False
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"
        # "eSpeak NG text-to-speech: 1.51  Data at: …"
        return out.split(":", 1)[1].split()[0] if ":" in out else "unknown"
