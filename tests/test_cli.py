import json
import os
import subprocess
import sys

from conftest import ROOT, SHARED

SHARED_SPEECH = SHARED / "data/speech_vi"


def hoixa(*args: str, stdin: str | None = None, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "hoixa.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        timeout=60,
    )


def test_match_prints_one_json_object_per_query():
    proc = hoixa("match", "làm hôn thú mất bao lâu", "hôm nay trời mưa không")
    assert proc.returncode == 0, proc.stderr
    first, second = (json.loads(line) for line in proc.stdout.splitlines())
    assert first["action"] == "answer" and first["procedure"]["code"] == "1.000894"
    assert first["category"] == "processing_time" and first["elapsed_ms"] > 0
    assert second["action"] == "not_found" and second["procedure"] is None
    assert all(set(c) == {"code", "name", "score"} for c in first["candidates"])


def test_match_reads_queries_from_stdin():
    proc = hoixa("match", stdin="lam giay khai sinh\n\nnha toi bi chay\n")
    actions = [json.loads(line)["action"] for line in proc.stdout.splitlines()]
    assert actions == ["answer", "emergency"]


def test_match_with_a_broken_catalogue_says_what_is_wrong(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1}', encoding="utf-8")
    proc = hoixa("match", "--catalogue", str(bad), "khai sinh")
    assert proc.returncode == 1
    assert "version" in proc.stderr and "missing" in proc.stderr


def test_chat_holds_a_conversation_on_stdin(tmp_path):
    script = "làm giấy khai sinh\nhai\nnói lại\ncảm ơn\nhài lòng\n"
    proc = hoixa("chat", "--once", stdin=script, env={"HOIXA_DATA_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Xin chào" in out and "Hồ sơ gồm" in out and "hài lòng" in out
    assert out.count("Hồ sơ gồm") == 2  # said, then repeated


def test_install_status_rollback_on_a_box(tmp_path):
    from hoixa.contract import catalogue as cat

    env = {"HOIXA_DATA_DIR": str(tmp_path)}
    doc = cat.load_default()
    for version in (2, 3):
        path = tmp_path / f"v{version}.json"
        path.write_text(cat.dumps({**doc, "version": version}), encoding="utf-8")
        assert hoixa("catalogue", "install", str(path), env=env).returncode == 0
    status = json.loads(hoixa("catalogue", "status", env=env).stdout)
    assert status["origin"] == "store" and status["version"] == 3
    stale = hoixa("catalogue", "install", str(tmp_path / "v2.json"), env=env)
    assert stale.returncode == 1 and "not newer" in stale.stderr
    assert hoixa("catalogue", "rollback", env=env).returncode == 0
    assert json.loads(hoixa("catalogue", "status", env=env).stdout)["version"] == 2


def test_vocabulary_export_contains_catalogue_and_command_words():
    words = hoixa("catalogue", "vocabulary").stdout.split()
    assert {"khai", "sinh", "hôn", "thú", "nói", "lại", "chậm"} <= set(words)
    phrases = hoixa("catalogue", "vocabulary", "--phrases").stdout.splitlines()
    assert "làm giấy khai sinh" in phrases and "cảm ơn" in phrases
    assert "làm hộ chiếu" in phrases  # a referral: the box must hear it to say where to go
    # emergency event words and the "now" / "past" words that decide them can be heard
    from hoixa.device import intents

    said = set(words)
    for word in ("cháy", *intents.NOW_CUES, *intents.PAST_CUES):
        assert set(word.split()) <= said, word


def test_import_portal_writes_a_valid_catalogue_and_reports_skips(tmp_path, shared_records):
    out = tmp_path / "portal.json"
    proc = hoixa(
        "catalogue", "import-portal", str(shared_records), "--commune-only", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    assert "imported" in proc.stdout and "skipped" in proc.stderr
    check = hoixa("catalogue", "validate", str(out))
    assert check.returncode == 0, check.stderr
    answer = json.loads(hoixa("match", "--catalogue", str(out), "đăng ký khai sinh").stdout)
    assert answer["procedure"]["code"] == "1.001193"


def test_import_portal_of_a_missing_folder_is_a_usage_error(tmp_path):
    proc = hoixa("catalogue", "import-portal", str(tmp_path / "none"), "--out", "x.json")
    assert proc.returncode == 2 and "not a folder" in proc.stderr


def test_device_ask_answers_a_recording_end_to_end(tmp_path):
    question = SHARED_SPEECH / "sentences/VIVOSDEV01_R003.wav"
    if not question.exists():
        import pytest

        pytest.skip(f"recording not found: {question}")
    out = tmp_path / "answer.wav"
    proc = hoixa(
        "device",
        "ask",
        str(question),
        "--out",
        str(out),
        "--json",
        env={"HOIXA_DATA_DIR": str(tmp_path / "box")},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["asr"] == "viet-asr" and result["tts"] == "espeak-ng"
    assert result["transcript"] and result["answer_text"]
    assert set(result) >= {
        "action",
        "procedure",
        "category",
        "asr_final_ms",
        "match_ms",
        "first_audio_ms",
        "total_ms",
    }
    assert 0 < result["asr_final_ms"] <= result["first_audio_ms"] <= result["total_ms"]
    import wave

    with wave.open(str(out)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    assert abs(seconds - result["answer_seconds"]) < 0.1 and seconds > 1.0


def test_device_ask_refuses_a_file_that_is_not_a_recording(tmp_path):
    bad = tmp_path / "q.wav"
    bad.write_bytes(b"not a wav")
    proc = hoixa("device", "ask", str(bad), env={"HOIXA_DATA_DIR": str(tmp_path)})
    assert proc.returncode == 1 and "not a readable WAV" in proc.stderr
