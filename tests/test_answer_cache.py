"""The answer cache on disk: keys, restarts, LRU eviction, damaged files, prerendering."""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import time

import numpy as np
import pytest

from hoixa.contract import catalogue
from hoixa.device.answers import available_sections
from hoixa.device.config import DeviceConfig, TtsConfig
from hoixa.device.dialogue import Dialogue
from hoixa.device.matcher import Matcher
from hoixa.device.tts.base import Speech, TtsError, speak_stream, split_sentences
from hoixa.device.tts.cache import SUFFIX, AnswerCache, cache_key, fixed_texts
from hoixa.device.tts.espeak_backend import EspeakSynthesizer

MB = 1024 * 1024


class NoiseSynth:
    """A stand-in voice whose audio is noise seeded by the text: the same sentence always gives
    the same bytes, and noise does not compress, so entry sizes are predictable."""

    name = "noise"
    sample_rate = 16000

    def __init__(self, voice_id: str = "noise-1", seconds: float = 1.0):
        self.voice_id = voice_id
        self.seconds = seconds
        self.calls = 0

    def synthesize(self, sentence: str, *, slow: bool) -> Speech:
        self.calls += 1
        seed = int.from_bytes(hashlib.sha256(f"{sentence}{slow}".encode()).digest()[:8], "little")
        samples = np.random.default_rng(seed).integers(
            -20000, 20000, int(self.sample_rate * self.seconds), dtype=np.int16
        )
        return Speech(samples.astype("<i2").tobytes(), self.sample_rate)


class CountingSynth:
    """Passes calls through to a real synthesiser, counting them and how many run at once."""

    def __init__(self, inner, *, delay: float = 0.0):
        self.inner = inner
        self.name, self.voice_id, self.sample_rate = inner.name, inner.voice_id, inner.sample_rate
        self.delay = delay
        self.calls: list[tuple[str, bool]] = []
        self.active = self.max_active = 0
        self._lock = threading.Lock()

    def synthesize(self, sentence: str, *, slow: bool) -> Speech:
        with self._lock:
            self.calls.append((sentence, slow))
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            time.sleep(self.delay)
            return self.inner.synthesize(sentence, slow=slow)
        finally:
            with self._lock:
                self.active -= 1


@pytest.fixture(scope="module")
def espeak() -> EspeakSynthesizer:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    try:
        return EspeakSynthesizer("vi")
    except TtsError as exc:
        pytest.skip(f"espeak-ng cannot speak Vietnamese here: {exc}")


@pytest.fixture(scope="module")
def default_catalogue() -> dict:
    return catalogue.load_default()


@pytest.fixture(scope="module")
def few_procedures(default_catalogue) -> dict:
    """The default catalogue cut to two procedures, to keep prerendering fast."""
    return {**default_catalogue, "procedures": default_catalogue["procedures"][:2]}


def files_on_disk(cache: AnswerCache) -> dict[str, int]:
    return {p.stem: p.stat().st_size for p in cache.folder.glob(f"*{SUFFIX}")}


# -- storing and finding ---------------------------------------------------------------------


def test_round_trip_with_real_speech(tmp_path, espeak):
    cache = AnswerCache(tmp_path, 50 * MB)
    sentence = "Bác mang căn cước đến bộ phận một cửa."
    speech = espeak.synthesize(sentence, slow=False)
    assert cache.get(espeak, sentence, False) is None
    assert cache.put(espeak, sentence, False, speech)
    assert cache.get(espeak, sentence, False) == speech
    assert cache.total_bytes == sum(files_on_disk(cache).values()) < len(speech.pcm)  # packed


def test_key_includes_voice_and_speed(tmp_path):
    cache = AnswerCache(tmp_path, 50 * MB)
    north, south = NoiseSynth("voice-north"), NoiseSynth("voice-south")
    sentence = "Thời gian giải quyết là ba ngày làm việc."
    cache.put(north, sentence, False, north.synthesize(sentence, slow=False))
    assert cache.get(north, sentence, False) is not None
    assert cache.get(north, sentence, True) is None
    assert cache.get(south, sentence, False) is None
    assert cache.get(north, "Thời gian giải quyết là bốn ngày làm việc.", False) is None
    assert cache.get(north, f"  {sentence} ", False) is not None  # spacing is not meaning
    assert len({cache_key(v, s, sentence) for v in ("a", "b") for s in (False, True)}) == 4


def test_survives_a_restart(tmp_path):
    synth = NoiseSynth()
    first = AnswerCache(tmp_path, 50 * MB)
    sentences = [f"Câu số {i}." for i in range(5)]
    for s in sentences:
        first.put(synth, s, False, synth.synthesize(s, slow=False))
    again = AnswerCache(tmp_path, 50 * MB)
    assert len(again) == 5 and again.total_bytes == first.total_bytes
    for s in sentences:
        assert again.get(synth, s, False) == synth.synthesize(s, slow=False)


def test_empty_or_oversized_audio_is_not_kept(tmp_path):
    synth = NoiseSynth(seconds=2.0)  # 64 kB of noise
    cache = AnswerCache(tmp_path, 32 * 1024)
    assert not cache.put(synth, "Câu rỗng.", False, Speech(b"", 16000))
    assert not cache.put(synth, "Câu dài.", False, synth.synthesize("Câu dài.", slow=False))
    assert len(cache) == 0 and not files_on_disk(cache)


# -- eviction --------------------------------------------------------------------------------


def test_lru_eviction_keeps_under_the_limit_and_drops_the_least_recently_used(tmp_path):
    synth = NoiseSynth(seconds=1.0)  # about 32 kB per entry
    entry = len(synth.synthesize("x", slow=False).pcm)
    cache = AnswerCache(tmp_path, int(entry * 3.5))  # room for three entries
    names = ["Một.", "Hai.", "Ba.", "Bốn."]
    for s in names[:3]:
        cache.put(synth, s, False, synth.synthesize(s, slow=False))
    assert len(cache) == 3
    assert cache.get(synth, "Một.", False) is not None  # now "Hai." is the oldest use
    cache.put(synth, "Bốn.", False, synth.synthesize("Bốn.", slow=False))
    assert cache.get(synth, "Hai.", False) is None
    for s in ("Một.", "Ba.", "Bốn."):
        assert cache.get(synth, s, False) is not None
    on_disk = files_on_disk(cache)
    assert len(on_disk) == 3 and sum(on_disk.values()) == cache.total_bytes <= cache.max_bytes


def test_lru_order_survives_a_restart(tmp_path):
    synth = NoiseSynth(seconds=1.0)
    entry = len(synth.synthesize("x", slow=False).pcm)
    cache = AnswerCache(tmp_path, 50 * MB)
    for s in ("Một.", "Hai.", "Ba."):
        cache.put(synth, s, False, synth.synthesize(s, slow=False))
    cache.get(synth, "Một.", False)  # "Hai." is now the least recently used
    smaller = AnswerCache(tmp_path, int(entry * 2.5))  # restart with a lower limit
    assert len(smaller) == 2
    assert smaller.get(synth, "Hai.", False) is None
    assert smaller.get(synth, "Một.", False) is not None


# -- damage ----------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped", "empty"])
def test_damaged_entry_is_a_miss_and_is_removed(tmp_path, caplog, damage):
    synth = NoiseSynth()
    cache = AnswerCache(tmp_path, 50 * MB)
    sentence = "Lệ phí tám nghìn đồng một bản."
    cache.put(synth, sentence, False, synth.synthesize(sentence, slow=False))
    (path,) = tmp_path.glob(f"*{SUFFIX}")
    data = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"\x00garbage" * 1000)
    elif damage == "truncated":  # what a power cut in the middle of a plain write leaves
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":
        path.write_bytes(data[:-100] + bytes(b ^ 0xFF for b in data[-100:]))
    else:
        path.write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        assert cache.get(synth, sentence, False) is None
    assert not path.exists() and len(cache) == 0 and cache.total_bytes == 0
    assert any("damaged" in r.getMessage() for r in caplog.records)


def test_half_written_files_from_a_power_cut_are_cleared_at_start(tmp_path):
    synth = NoiseSynth()
    AnswerCache(tmp_path, 50 * MB).put(synth, "Câu.", False, synth.synthesize("Câu.", slow=False))
    leftover = tmp_path / f".{'0' * 64}.abc.tmp"
    leftover.write_bytes(b"half an entry")
    cache = AnswerCache(tmp_path, 50 * MB)
    assert not leftover.exists()
    assert len(cache) == 1 and cache.get(synth, "Câu.", False) is not None


# -- the catalogue's texts and prerendering --------------------------------------------------


def test_fixed_texts_cover_every_menu_and_section(default_catalogue):
    procedures = default_catalogue["procedures"]
    texts = fixed_texts(default_catalogue, DeviceConfig())
    assert len(texts) == len(procedures) + sum(len(available_sections(p)) for p in procedures)
    assert not any(ch.isdigit() for text in texts for ch in text)  # already in words


def test_dialogue_replies_are_made_of_prerendered_sentences(default_catalogue):
    """What the dialogue really says splits into the sentences prerendering caches; only the
    follow-up prompt ending a section (a fixed prompt, not the catalogue's) is not among them."""
    config = DeviceConfig()
    known = {s for text in fixed_texts(default_catalogue, config) for s in split_sentences(text)}
    dialogue = Dialogue(Matcher(default_catalogue), config)
    dialogue.start()
    menu = dialogue.handle("làm giấy khai sinh")
    assert menu.action == "menu"
    assert set(split_sentences(menu.text)) <= known
    for number in ("hai", "bốn", "năm"):
        answer = dialogue.handle(number)
        assert answer.action == "answer"
        sentences = split_sentences(answer.text)
        cached = [s in known for s in sentences]
        prompt_starts = cached.index(False)
        assert prompt_starts > 0 and not any(cached[prompt_starts:])  # body first, then prompt
        assert len(sentences) - prompt_starts <= 2


def test_prerender_fills_the_cache_and_speaking_then_synthesises_nothing(
    tmp_path, espeak, few_procedures
):
    config = DeviceConfig()
    texts = fixed_texts(few_procedures, config)
    sentences = {s for text in texts for s in split_sentences(text)}
    cache = AnswerCache(tmp_path, 200 * MB)
    assert cache.prerender(espeak, texts) == 2 * len(sentences)  # both speeds
    assert len(cache) == 2 * len(sentences)
    assert cache.prerender(espeak, texts) == 0  # nothing left to do

    counting = CountingSynth(espeak)
    for text in texts:
        for slow in (False, True):
            spoken = list(speak_stream(counting, text, slow=slow, cache=cache))
            assert len(spoken) == len(split_sentences(text))
            assert all(s.pcm for s in spoken)
    assert counting.calls == []


def test_speak_stream_fills_the_cache_as_it_speaks(tmp_path, espeak):
    cache = AnswerCache(tmp_path, 50 * MB)
    counting = CountingSynth(espeak)
    text = "Thủ tục này không mất lệ phí. Bác nộp hồ sơ tại xã."
    first = list(speak_stream(counting, text, slow=True, cache=cache))
    again = list(speak_stream(counting, text, slow=True, cache=cache))
    assert len(counting.calls) == 2 and again == first


def test_prerender_slow_too_false_renders_one_speed(tmp_path, espeak, few_procedures):
    texts = fixed_texts(few_procedures, DeviceConfig())[:2]
    cache = AnswerCache(tmp_path, 50 * MB)
    rendered = cache.prerender(espeak, texts, slow_too=False)
    assert rendered == len({s for t in texts for s in split_sentences(t)})
    first = split_sentences(texts[0])[0]
    assert cache.get(espeak, first, False) and cache.get(espeak, first, True) is None


def test_prerender_stops_when_the_catalogue_does_not_fit(tmp_path, espeak, few_procedures, caplog):
    texts = fixed_texts(few_procedures, DeviceConfig())
    cache = AnswerCache(tmp_path, 1 * MB)
    with caplog.at_level(logging.WARNING):
        rendered = cache.prerender(espeak, texts)
    total = 2 * len({s for t in texts for s in split_sentences(t)})
    assert 0 < rendered < total
    assert cache.total_bytes <= cache.max_bytes
    assert any("cache_max_mb" in r.getMessage() for r in caplog.records)


def test_prerender_honours_a_stop_event(tmp_path, espeak, few_procedures):
    stop = threading.Event()
    stop.set()
    cache = AnswerCache(tmp_path, 50 * MB)
    texts = fixed_texts(few_procedures, DeviceConfig())
    assert cache.prerender(espeak, texts, stop_event=stop) == 0 and len(cache) == 0


def test_a_new_prerender_thread_cancels_the_running_one(tmp_path, espeak, few_procedures):
    texts = fixed_texts(few_procedures, DeviceConfig())
    total = 2 * len({s for t in texts for s in split_sentences(t)})
    cache = AnswerCache(tmp_path, 200 * MB)
    slowed = CountingSynth(espeak, delay=0.01)

    first = cache.start_prerender_thread(slowed, texts)
    assert first.thread is not None and first.thread.daemon
    deadline = time.monotonic() + 30
    while first.rendered < 5 and time.monotonic() < deadline:
        time.sleep(0.005)
    second = cache.start_prerender_thread(slowed, texts)  # a catalogue update mid-way
    assert second.wait(timeout=120) and first.wait(timeout=1)

    assert first.cancelled and not first.completed
    assert 5 <= first.rendered < total
    assert second.completed and first.rendered + second.rendered == total
    assert len(cache) == total and len(slowed.calls) == total  # nothing rendered twice
    assert slowed.max_active == 1  # the two never synthesised at the same time


def test_cache_for_config_lives_under_the_data_folder(tmp_path):
    config = DeviceConfig(data_dir=tmp_path, tts=TtsConfig(cache_max_mb=7))
    cache = AnswerCache.for_config(config)
    assert cache.folder == tmp_path / "tts-cache" and cache.folder.is_dir()
    assert cache.max_bytes == 7 * MB
