"""Sound in and out through real pyaudio on file-backed ALSA devices, beeps, VAD and checks.

The microphone reads tests' own samples from a file and the speaker writes to a file (see
tests/alsa_files.py), so what was "heard" and "said" can be compared with what went in.
"""

from __future__ import annotations

import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("webrtcvad", reason="webrtcvad (device extra) is not installed")
pytest.importorskip("soxr", reason="soxr (device extra) is not installed")

import alsa_files
from alsa_files import open_pyaudio, write_alsa_files
from conftest import SHARED
from hoixa.device.audio import checks, earcons
from hoixa.device.audio.devices import (
    MICROPHONE_LOST,
    NO_MICROPHONE,
    NO_SPEAKER,
    AudioError,
    find_input_device,
    list_devices,
)
from hoixa.device.audio.microphone import Microphone
from hoixa.device.audio.speaker import Speaker
from hoixa.device.audio.vad import (
    FRAME_SECONDS,
    MAX_LENGTH,
    NO_SPEECH,
    SILENCE_AFTER_SPEECH,
    EndOfSpeech,
    frame_dbfs,
    frames,
    speech_flags,
)
from hoixa.device.config import AudioConfig

SPEECH = SHARED / "data/speech_vi"
SENTENCE = SPEECH / "sentences/R002.wav"  # 16 kHz, 4.9 s
WORD_8K = SPEECH / "words/TRAJMAYTEEM001.wav"  # "trạm ATM", 8 kHz
MIC = AudioConfig(input_device="infile", output_device="outfile")
CHUNK = 480  # samples of one 30 ms microphone chunk at 16 kHz


# ---------------------------------------------------------------- helpers


def load_wav(path: Path) -> tuple[np.ndarray, int]:
    if not path.is_file():
        pytest.skip(f"test recording not found: {path} (../shared/data/speech_vi)")
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16), w.getframerate()


def fft_resample(x: np.ndarray, n_out: int) -> np.ndarray:
    """Band-limited resampling by zero-padding/truncating the spectrum (independent of soxr)."""
    spectrum = np.fft.rfft(x.astype(np.float64))
    out = np.zeros(n_out // 2 + 1, dtype=complex)
    keep = min(len(spectrum), len(out))
    out[:keep] = spectrum[:keep]
    return np.fft.irfft(out, n_out) * (n_out / len(x))


def best_lag(captured: np.ndarray, source: np.ndarray, max_lag: int) -> tuple[int, float]:
    """The shift of `captured` against `source` with the highest correlation, and that value."""
    best = (0, -1.0)
    a = source.astype(np.float64)
    for lag in range(-max_lag, max_lag + 1):
        b = captured[lag : lag + len(a)] if lag >= 0 else np.r_[np.zeros(-lag), captured]
        b = b[: len(a)].astype(np.float64)
        if len(b) < len(a):
            continue
        r = float(np.corrcoef(a, b)[0, 1])
        if r > best[1]:
            best = (lag, r)
    return best


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    x = samples.astype(np.float64) * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(x, 8 * len(x)))
    return float(np.fft.rfftfreq(8 * len(x), 1 / rate)[np.argmax(spectrum)])


def as_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def record(mic: Microphone, samples: int) -> np.ndarray:
    chunks = [mic.read() for _ in range(-(-samples // mic.chunk_samples))]
    return np.frombuffer(b"".join(chunks), dtype=np.int16)


# ---------------------------------------------------------------- real pyaudio on files


@pytest.fixture(scope="module")
def alsa(tmp_path_factory):
    """File-backed devices and one PyAudio that sees them, for the whole module."""
    pytest.importorskip("pyaudio", reason="pyaudio (device extra) is not installed")
    if not Path("/usr/share/alsa/alsa.conf").is_file():
        pytest.skip("ALSA's own configuration /usr/share/alsa/alsa.conf is missing")
    files = write_alsa_files(tmp_path_factory.mktemp("alsa"))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in files.env.items():
            patch.setenv(name, value)
        pa = open_pyaudio(files)
        yield files, pa
        pa.terminate()


def test_embedded_alsa_config_is_the_shared_one():
    if not alsa_files.SHARED_CONF.is_file():
        pytest.skip(f"{alsa_files.SHARED_CONF} not found")
    lines = alsa_files.SHARED_CONF.read_text().splitlines()
    settings = [line for line in lines if line.strip() and not line.startswith("#")]
    assert settings == alsa_files.EMBEDDED_CONF.splitlines()


def test_devices_are_listed_with_rates(alsa):
    _, pa = alsa
    devices = {d.name: d for d in list_devices(pa)}
    assert {"infile", "outfile"} <= set(devices)
    assert devices["infile"].can_record and devices["outfile"].can_play
    assert devices["infile"].default_rate > 0
    assert find_input_device(pa, "INFILE").name == "infile"  # any case
    assert find_input_device(pa, str(devices["infile"].index)).name == "infile"
    assert find_input_device(pa, "").can_record  # the default


@pytest.mark.parametrize("spec", ["seeed-voicecard", "99"])
def test_unknown_microphone_is_a_clear_error(alsa, spec):
    _, pa = alsa
    with pytest.raises(AudioError) as caught, Microphone(AudioConfig(input_device=spec), pa=pa):
        pass
    assert caught.value.kind == NO_MICROPHONE
    assert "infile" in str(caught.value)  # says which devices exist


def test_unknown_speaker_is_a_clear_error(alsa):
    _, pa = alsa
    with pytest.raises(AudioError) as caught, Speaker(AudioConfig(output_device="hdmi"), pa=pa):
        pass
    assert caught.value.kind == NO_SPEAKER


def test_microphone_records_a_sentence_unchanged_at_16k(alsa):
    files, pa = alsa
    sentence, rate = load_wav(SENTENCE)
    assert rate == 16000
    files.set_input(sentence.tobytes())
    with Microphone(MIC, pa=pa) as mic:
        assert mic.device_rate == 16000  # the file device takes 16 kHz: no resampling
        captured = record(mic, len(sentence))
    assert abs(len(captured) - len(sentence)) < CHUNK
    lag, r = best_lag(captured, sentence, CHUNK)
    assert abs(lag) <= CHUNK and r > 0.999
    assert np.array_equal(captured[: len(sentence)], sentence)


def test_microphone_upsamples_an_8k_word(alsa):
    files, pa = alsa
    word, rate = load_wav(WORD_8K)
    assert rate == 8000
    files.set_input(word.tobytes(), rate=8000)
    expected = fft_resample(word, 2 * len(word))
    with Microphone(MIC, pa=pa, device_rate=8000) as mic:
        assert mic.device_rate == 8000
        captured = record(mic, len(expected) + 2 * CHUNK)
    lag, r = best_lag(captured, expected, 2 * CHUNK)
    assert abs(lag) <= 2  # soxr's filter delay is compensated: no shift
    assert r > 0.98


def test_microphone_downsamples_48k_and_removes_what_16k_cannot_carry(alsa):
    files, pa = alsa
    sentence, _ = load_wav(SENTENCE)
    at_48k = fft_resample(sentence, 3 * len(sentence))
    whistle = 3000 * np.sin(2 * np.pi * 12000 * np.arange(len(at_48k)) / 48000)
    files.set_input(as_int16(at_48k + whistle).tobytes(), rate=48000)
    with Microphone(MIC, pa=pa, device_rate=48000) as mic:
        captured = record(mic, len(sentence) + 2 * CHUNK)
    lag, r = best_lag(captured, sentence, 2 * CHUNK)
    assert abs(lag) <= 2 and r > 0.99
    # 12 kHz cannot exist at 16 kHz; without filtering it would fold down to 4 kHz.
    aligned = captured[lag : lag + len(sentence)].astype(np.float64) - sentence
    spectrum = np.abs(np.fft.rfft(aligned))
    freqs = np.fft.rfftfreq(len(aligned), 1 / 16000)
    near_4k = spectrum[(freqs > 3950) & (freqs < 4050)].max()
    whistle_peak = 3000 * len(aligned) / 2  # what an unfiltered fold-down would measure
    assert near_4k < whistle_peak / 100


def test_muted_microphone_gives_silence_and_discard_starts_fresh(alsa):
    files, pa = alsa
    tone = as_int16(8000 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000))
    files.set_input(tone.tobytes())
    with Microphone(MIC, pa=pa) as mic:
        mic.muted = True
        assert not np.any(np.frombuffer(mic.read(), np.int16))
        mic.muted = False
        assert np.any(np.frombuffer(mic.read(), np.int16))
        mic.discard()
        assert len(mic.read()) == 2 * CHUNK


def test_lost_microphone_raises_microphone_lost_and_can_be_reopened(alsa):
    files, pa = alsa
    tone = as_int16(8000 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000))
    files.set_input(tone.tobytes())
    mic = Microphone(MIC, pa=pa).open()
    mic.read()
    mic._stream.close()  # what PortAudio sees when the USB microphone is pulled out
    with pytest.raises(AudioError) as caught:
        mic.read()
    assert caught.value.kind == MICROPHONE_LOST
    mic.close()
    assert mic.device is None
    mic.open()  # the voice loop retries after a while
    assert np.array_equal(np.frombuffer(mic.read(), np.int16), tone[:CHUNK])
    mic.close()


def test_microphone_and_speaker_can_start_their_own_portaudio(alsa):
    files, _ = alsa  # its PyAudio stays alive, so a new one sees the same devices
    tone = as_int16(8000 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000))
    files.set_input(tone.tobytes())
    with Microphone(MIC) as mic:
        heard = np.frombuffer(mic.read(), np.int16)
    assert np.array_equal(heard, tone[:CHUNK])
    files.clear_output()
    speaker = Speaker(MIC, device_rate=16000)
    assert speaker.play_pcm(tone, 16000)  # opens itself on first use
    speaker.close()
    assert np.array_equal(files.output(), tone)


def test_speaker_plays_beeps_and_speech_exactly_at_the_device_rate(alsa):
    files, pa = alsa
    sentence, rate = load_wav(SENTENCE)
    beep = earcons.start_listening(16000)
    files.clear_output()
    with Speaker(MIC, pa=pa, device_rate=16000) as speaker:
        finished = speaker.play([(beep, 16000), (sentence, rate)])
    assert finished
    played = files.output()
    expected = np.concatenate([np.frombuffer(beep, np.int16), sentence])
    assert np.array_equal(played, expected)


def test_speaker_resamples_to_its_rate_keeping_pitch_and_length(alsa):
    files, pa = alsa
    files.clear_output()
    with Speaker(MIC, pa=pa, device_rate=48000) as speaker:
        assert speaker.rate == 48000
        assert speaker.play_pcm(earcons.start_listening(16000), 16000)
        assert speaker.play_pcm(earcons.stop_listening(22050), 22050)
    played = files.output()
    first_len = len(earcons.start_listening(48000)) // 2
    second_len = len(earcons.stop_listening(48000)) // 2
    assert abs(len(played) - first_len - second_len) <= 2
    for beep, start in ((earcons.start_listening, 0), (earcons.stop_listening, first_len)):
        half = first_len // 2
        low_high = [
            dominant_hz(played[start + i * half : start + (i + 1) * half], 48000) for i in (0, 1)
        ]
        reference = np.frombuffer(beep(48000), np.int16)
        ref = [dominant_hz(reference[i * half : (i + 1) * half], 48000) for i in (0, 1)]
        assert low_high == pytest.approx(ref, abs=5)


def test_speaker_volume_scales_the_output(alsa):
    files, pa = alsa
    tone = as_int16(10000 * np.sin(2 * np.pi * 500 * np.arange(8000) / 16000))
    files.clear_output()
    with Speaker(AudioConfig(output_device="outfile", volume=0.5), pa=pa, device_rate=16000) as sp:
        sp.play_pcm(tone, 16000)
    played = files.output()
    assert len(played) == len(tone)
    assert np.abs(played).max() == pytest.approx(5000, abs=2)


def test_stop_cuts_playback_short_while_the_next_sentence_is_synthesised(alsa):
    files, pa = alsa
    sentence, rate = load_wav(SENTENCE)
    first, second = sentence[: len(sentence) // 2], sentence[len(sentence) // 2 :]
    files.clear_output()
    speaker = Speaker(MIC, pa=pa, device_rate=16000).open()

    def slow_synthesis():
        yield first, rate
        time.sleep(1.5)  # the second sentence is still being synthesised
        yield second, rate

    threading.Timer(0.3, speaker.stop).start()  # the villager presses the button
    started = time.monotonic()
    finished = speaker.play(slow_synthesis())
    waited = time.monotonic() - started
    played = files.output()
    assert finished is False
    assert waited < 1.5  # it did not wait for the synthesiser to finish
    assert np.array_equal(played, first)

    # The speaker still works after being stopped.
    files.clear_output()
    assert speaker.play_pcm(second, rate) is True
    assert np.array_equal(files.output(), second)
    speaker.close()


def test_stop_within_a_long_answer_leaves_the_rest_unsaid(alsa):
    files, pa = alsa
    piece = as_int16(6000 * np.sin(2 * np.pi * 300 * np.arange(320) / 16000))  # 20 ms
    files.clear_output()
    speaker = Speaker(MIC, pa=pa, device_rate=16000).open()

    def answer():
        for i in range(100):
            if i == 10:
                speaker.stop()  # pressed while the eleventh piece was on its way
            yield piece, 16000

    assert speaker.play(answer()) is False
    speaker.close()
    assert 0 < len(files.output()) <= 10 * len(piece)


def test_speaker_passes_on_synthesis_errors(alsa):
    _, pa = alsa

    def broken():
        yield bytes(640), 16000
        raise RuntimeError("voice model missing")

    with Speaker(MIC, pa=pa, device_rate=16000) as speaker, pytest.raises(RuntimeError):
        speaker.play(broken())


def test_question_recorded_through_the_microphone_ends_after_silence(alsa):
    files, pa = alsa
    sentence, _ = load_wav(SENTENCE)
    files.set_input(sentence.tobytes(), pad_seconds=3.0)
    tracker = EndOfSpeech(silence_end_seconds=1.2, max_question_seconds=15.0)
    with Microphone(MIC, pa=pa) as mic:
        for chunk in mic:
            if tracker.feed(chunk):
                break
    assert tracker.reason == SILENCE_AFTER_SPEECH
    last_voice = energy_bounds(sentence)[1]
    assert tracker.speech_ended_at == pytest.approx(last_voice, abs=0.25)
    assert tracker.seconds == pytest.approx(tracker.speech_ended_at + 1.2, abs=FRAME_SECONDS)


# ---------------------------------------------------------------- earcons


BEEPS = {
    "start": earcons.start_listening,
    "stop": earcons.stop_listening,
    "error": earcons.error,
}


@pytest.mark.parametrize("rate", [16000, 22050, 48000])
def test_beeps_are_short_and_click_free(rate):
    for name, make in BEEPS.items():
        x = np.frombuffer(make(rate), dtype=np.int16).astype(np.int32)
        seconds = len(x) / rate
        assert 0.15 <= seconds <= (0.35 if name == "error" else 0.25), name
        assert abs(x[0]) < 200 and abs(x[-1]) < 200, name  # starts and ends near silence
        peak = np.abs(x).max()
        # no jump bigger than the steepest slope of the loudest sine in the beep
        steepest = 2 * np.pi * 1000 / rate * peak
        assert np.abs(np.diff(x)).max() <= steepest * 1.05, name


def test_start_beep_rises_stop_beep_falls_error_is_low():
    rate = 16000
    halves = {}
    for name, make in BEEPS.items():
        x = np.frombuffer(make(rate), dtype=np.int16)
        mid = len(x) // 2
        halves[name] = (dominant_hz(x[:mid], rate), dominant_hz(x[mid:], rate))
    start, stop, err = halves["start"], halves["stop"], halves["error"]
    assert start[1] > start[0] * 1.3  # rising by more than a third
    assert stop[0] > stop[1] * 1.3  # falling
    assert max(err) < min(start + stop) * 0.8  # the error tone is clearly lower
    assert start != stop


# ---------------------------------------------------------------- voice activity


def energy_bounds(x: np.ndarray, threshold_dbfs: float = -40.0) -> tuple[float, float]:
    """First and last 30 ms frame louder than threshold: speech bounds not judged by webrtcvad."""
    loud = [i for i, f in enumerate(frames(x.tobytes())) if frame_dbfs(f) > threshold_dbfs]
    return loud[0] * FRAME_SECONDS, (loud[-1] + 1) * FRAME_SECONDS


def feed_all(tracker: EndOfSpeech, pcm: bytes, piece: int = 1000) -> None:
    for start in range(0, len(pcm), piece):  # pieces of odd sizes, not whole frames
        if tracker.feed(pcm[start : start + piece]):
            return


def test_speech_is_detected_in_a_real_sentence():
    sentence, _ = load_wav(SENTENCE)
    flags = speech_flags(sentence.tobytes())
    first_voice, last_voice = energy_bounds(sentence)
    voiced = [i * FRAME_SECONDS for i, s in enumerate(flags) if s]
    assert len(voiced) * FRAME_SECONDS > 0.5 * (last_voice - first_voice)
    assert voiced[0] == pytest.approx(first_voice, abs=0.2)


def test_end_of_speech_after_trailing_silence():
    sentence, _ = load_wav(SENTENCE)
    pcm = sentence.tobytes() + bytes(2 * 16000 * 3)
    tracker = EndOfSpeech(silence_end_seconds=1.0, max_question_seconds=15.0)
    feed_all(tracker, pcm)
    first_voice, last_voice = energy_bounds(sentence)
    assert tracker.ended and tracker.reason == SILENCE_AFTER_SPEECH
    assert tracker.speech_started_at == pytest.approx(first_voice, abs=0.2)
    assert tracker.speech_ended_at == pytest.approx(last_voice, abs=0.25)
    assert tracker.seconds == pytest.approx(tracker.speech_ended_at + 1.0, abs=FRAME_SECONDS)


def test_pauses_inside_the_sentence_do_not_end_it():
    sentence, _ = load_wav(SENTENCE)
    tracker = EndOfSpeech(silence_end_seconds=1.2)
    feed_all(tracker, sentence.tobytes())
    assert tracker.state == "speaking"  # the sentence alone never has 1.2 s of silence


def test_silence_is_not_speech_and_ends_with_no_speech():
    silence = bytes(2 * 16000 * 8)
    assert not any(speech_flags(silence))
    tracker = EndOfSpeech(no_speech_seconds=5.0)
    feed_all(tracker, silence)
    assert tracker.reason == NO_SPEECH
    assert tracker.speech_started_at is None
    assert tracker.seconds == pytest.approx(5.0, abs=FRAME_SECONDS)


@pytest.mark.parametrize("level_dbfs", [-60.0, -50.0, -40.0, -30.0])
def test_quiet_white_noise_is_not_speech(level_dbfs):
    rng = np.random.default_rng(7)
    noise = as_int16(rng.standard_normal(16000 * 4) * 32768 * 10 ** (level_dbfs / 20))
    assert not any(speech_flags(noise.tobytes()))
    tracker = EndOfSpeech(no_speech_seconds=3.0)
    feed_all(tracker, noise.tobytes())
    assert tracker.reason == NO_SPEECH


def test_loud_white_noise_is_called_speech_by_webrtcvad():
    """What webrtcvad does: a hiss at -20 dBFS sounds like speech to it. The box relies on
    the question checks and the recogniser for such noise, not on the VAD."""
    rng = np.random.default_rng(7)
    noise = as_int16(rng.standard_normal(16000 * 2) * 32768 * 0.1)
    assert np.mean(speech_flags(noise.tobytes())) > 0.9


def test_the_cap_ends_a_question_that_goes_on():
    sentence, _ = load_wav(SENTENCE)
    tracker = EndOfSpeech(silence_end_seconds=1.2, max_question_seconds=3.0)
    feed_all(tracker, sentence.tobytes())
    assert tracker.reason == MAX_LENGTH
    assert tracker.seconds == pytest.approx(3.0, abs=FRAME_SECONDS)


def test_end_of_speech_reads_the_configuration():
    tracker = EndOfSpeech.from_config(
        AudioConfig(silence_end_seconds=0.6, max_question_seconds=9.0)
    )
    assert (tracker.silence_end_seconds, tracker.max_question_seconds) == (0.6, 9.0)


# ---------------------------------------------------------------- question checks


def with_silence(x: np.ndarray, before: float = 0.5, after: float = 0.5) -> bytes:
    pad = lambda s: np.zeros(round(s * 16000), dtype=np.int16)  # noqa: E731
    return np.concatenate([pad(before), x, pad(after)]).tobytes()


def test_a_good_question_passes():
    sentence, _ = load_wav(SENTENCE)
    found = checks.check_question(sentence.tobytes())
    assert found.ok, found
    assert found.speech_seconds > 2.0
    assert -35 < found.speech_dbfs < -15


def test_silence_is_reported_as_silence():
    found = checks.check_question(bytes(2 * 16000 * 2))
    assert found.problems == (checks.SILENCE,)


def test_a_clipped_shout_says_stand_back():
    sentence, _ = load_wav(SENTENCE)
    loud = sentence.astype(np.float64) * (32767 / np.abs(sentence).max())
    assert checks.CLIPPED not in checks.check_question(as_int16(loud).tobytes()).problems
    shout = as_int16(loud * 2.0)  # 6 dB too hot, clipped by the converter
    assert checks.CLIPPED in checks.check_question(shout.tobytes()).problems


def test_a_whisper_is_too_quiet_not_silence():
    sentence, _ = load_wav(SENTENCE)
    whisper = as_int16(sentence * 10 ** (-22 / 20))
    found = checks.check_question(whisper.tobytes())
    assert checks.TOO_QUIET in found.problems
    assert checks.SILENCE not in found.problems
    assert found.speech_dbfs < checks.TOO_QUIET_DBFS


def test_a_moment_of_speech_is_too_short():
    sentence, _ = load_wav(SENTENCE)
    first_voice, _ = energy_bounds(sentence)
    start = round(first_voice * 16000)
    blip = sentence[start : start + round(0.25 * 16000)]
    found = checks.check_question(with_silence(blip))
    assert found.problems == (checks.TOO_SHORT,)
    assert checks.check_question(with_silence(blip), min_seconds=0.1).ok


def test_a_question_cut_at_the_cap_is_too_long():
    sentence, _ = load_wav(SENTENCE)
    config = AudioConfig(max_question_seconds=3.0)
    cut = sentence[: 3 * 16000].tobytes()
    assert checks.TOO_LONG in checks.check_question(cut, config).problems
    assert checks.TOO_LONG not in checks.check_question(cut, config, hit_cap=False).problems
    assert checks.TOO_LONG not in checks.check_question(sentence.tobytes()).problems
