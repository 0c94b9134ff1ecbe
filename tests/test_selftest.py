"""The box's self-test, for real: gpiozero mock pins for the lights and the button, real pyaudio
on file-backed ALSA devices (tests/alsa_files.py) fed a real Vietnamese recording, viet-asr,
espeak-ng for the spoken summary, and a real Mosquitto with a per-box password.

The two whole runs go through `hoixa device selftest` in a fresh process each (PortAudio reads
the ALSA configuration once per process); single checks run in this process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soxr
from gpiozero.pins.mock import MockFactory

from alsa_files import write_alsa_files
from conftest import ROOT, SHARED
from hoixa.device.config import AudioConfig, DeviceConfig, FleetConfig, GpioConfig
from hoixa.device.recording import read_wav
from hoixa.device.selftest import (
    FAIL,
    PASS,
    SKIP,
    CheckResult,
    SelftestOptions,
    SelftestRun,
    check_broker,
    check_button,
    check_lights,
    level_bar,
    phrase_score,
    run_selftest,
    spoken_summary,
    summary_line,
)
from hoixa.server import broker_auth
from hoixa.server.mosquitto import Mosquitto, free_port

RATE = 16000
KHACH_SAN = SHARED / "data/speech_vi/sentences/R001.wav"  # 16 kHz, a speaker says "khách sạn"
ACCOUNT = broker_auth.DeviceAccount("hx-79-26734-01", "79", "26734", broker_auth.new_password())
GPIO = GpioConfig()

needs_pyaudio = pytest.mark.skipif(
    importlib.util.find_spec("pyaudio") is None, reason="pyaudio missing"
)


def needs_audio(test):
    """Whole runs: real pyaudio, viet-asr and espeak-ng."""
    test = needs_pyaudio(test)
    test = pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng missing")(test)
    missing = importlib.util.find_spec("vietasr") is None
    return pytest.mark.skipif(missing, reason="viet-asr missing")(test)


needs_broker = pytest.mark.skipif(
    not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()),
    reason="mosquitto is not installed",
)


def new_run(config: DeviceConfig | None = None, factory=None, **options) -> SelftestRun:
    told: list[str] = []
    run = SelftestRun(
        config or DeviceConfig(),
        SelftestOptions(**options),
        pin_factory=factory,
        tell=told.append,
    )
    run.told = told  # what the person was asked to do
    return run


def fleet_config(port: int, password: str = ACCOUNT.password) -> DeviceConfig:
    fleet = FleetConfig(
        device_id=ACCOUNT.device_id,
        province=ACCOUNT.province,
        commune=ACCOUNT.commune,
        broker_host="127.0.0.1",
        broker_port=port,
        password=password,
        tls=False,
    )
    return DeviceConfig(fleet=fleet)


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """A Mosquitto that lets in only enrolled boxes, as on the central server."""
    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        pytest.skip("mosquitto is not installed")
    folder = tmp_path_factory.mktemp("broker")
    files = broker_auth.BrokerFiles(folder / "passwd", folder / "acl")
    files.write_all([ACCOUNT], broker_auth.new_password())
    mosquitto = Mosquitto(
        folder / "run", password_file=files.password_file, acl_file=files.acl_file
    ).start()
    yield mosquitto
    mosquitto.stop()


# ---------------------------------------------------------------- lights and button


def test_lights_cycle_green_blue_yellow_red_then_go_out():
    factory = MockFactory()
    pins = [factory.pin(n) for n in (5, 6, 13, 19)]  # ready, listening, busy, error
    seen: list[tuple[bool, ...]] = []
    done = threading.Event()

    def watch() -> None:  # what someone looking at the box would see, every 5 ms
        while not done.is_set():
            lit = tuple(bool(p.state) for p in pins)
            if not seen or seen[-1] != lit:
                seen.append(lit)
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    run = new_run(factory=factory, light_step_seconds=0.1)
    result = check_lights(run)
    time.sleep(0.05)
    done.set()
    watcher.join()
    assert result.status == PASS and result.data == {"mock_pins": True}
    one_at_a_time = [(True, False, False, False), (False, True, False, False)]
    one_at_a_time += [(False, False, True, False), (False, False, False, True)]
    lit_states = [s for s in seen if any(s)]
    assert lit_states == one_at_a_time
    assert seen[-1] == (False, False, False, False)
    for pin in pins:  # each light went on once and off once, after about one step
        assert [s.state for s in pin.states] == [False, True, False]
        assert pin.states[2].timestamp >= 0.09
    assert "đèn" in run.told[0]


def test_a_press_of_the_button_passes():
    factory = MockFactory()
    run = new_run(factory=factory, button_seconds=5)

    def press() -> None:
        time.sleep(0.3)  # after the person has read the instruction
        factory.pin(17).drive_low()
        time.sleep(0.1)
        factory.pin(17).drive_high()

    threading.Thread(target=press).start()
    started = time.monotonic()
    result = check_button(run)
    assert result.status == PASS and time.monotonic() - started < 2
    assert "bấm nút nói" in run.told[-1]


def test_no_press_fails_and_says_what_to_check():
    run = new_run(factory=MockFactory(), button_seconds=0.3)
    result = check_button(run)
    assert result.status == FAIL
    assert "Không thấy nút được bấm trong 0.3 giây" in result.detail
    assert "kiểm tra dây nối của nút (chân GPIO 17 và chân GND)" in result.advice
    assert result.line().startswith("KHÔNG ĐẠT  Nút nói: ")


def test_a_button_that_never_comes_up_is_stuck():
    factory = MockFactory()
    run = new_run(factory=factory, button_seconds=5, release_seconds=0.3)
    threading.Timer(0.2, factory.pin(17).drive_low).start()
    result = check_button(run)
    assert result.status == FAIL and "kẹt" in result.detail and result.advice


def test_skip_button_skips_without_waiting():
    result = check_button(new_run(factory=MockFactory(), skip_button=True))
    assert result.status == SKIP and result.line().startswith("BỎ QUA     Nút nói: ")


# ---------------------------------------------------------------- broker


@needs_broker
def test_the_broker_is_reached_with_the_box_account(broker):
    result = check_broker(new_run(fleet_config(broker.port)))
    assert result.status == PASS, result.line()
    assert result.data["reason_code"] == 0 and result.detail.endswith(f":{broker.port}.")


@needs_broker
def test_a_wrong_password_is_refused_with_advice(broker):
    result = check_broker(new_run(fleet_config(broker.port, password="not-the-password")))
    assert result.status == FAIL and "từ chối tài khoản" in result.detail
    assert result.data["reason_code"] == 135  # Not authorized (Mosquitto 2.0)
    assert "đăng ký lại máy" in result.advice


def test_a_closed_port_fails_quickly_with_network_advice():
    started = time.monotonic()
    result = check_broker(new_run(fleet_config(free_port()), broker_timeout_seconds=3))
    assert time.monotonic() - started < 3
    assert result.status == FAIL and "Không kết nối được máy chủ" in result.detail
    assert "Kiểm tra dây mạng hoặc Wi-Fi" in result.advice


def test_no_broker_configured_is_skipped_not_failed():
    result = check_broker(new_run(DeviceConfig()))
    assert result.status == SKIP and "Không cấu hình máy chủ" in result.detail


# ---------------------------------------------------------------- wording


def test_phrase_score_forgives_a_letter_and_extra_words_but_not_another_phrase():
    phrase = "đăng ký khai sinh"
    assert phrase_score(phrase, "Đăng ký khai sinh") == 100
    assert phrase_score(phrase, "đăng kí khai sinh") >= 80
    assert phrase_score(phrase, "à tôi muốn đăng ký khai sinh cho con") >= 80
    assert phrase_score(phrase, "đăng ký kết hôn") < 80
    assert phrase_score(phrase, "khai") < 80 and phrase_score(phrase, "") == 0


def test_level_bar_spans_minus_sixty_to_zero_dbfs():
    assert level_bar(-90) == "[" + "░" * 30 + "]"
    assert level_bar(-30) == "[" + "█" * 15 + "░" * 15 + "]"
    assert level_bar(0) == "[" + "█" * 30 + "]"


def test_summary_names_what_failed_and_is_said_without_digits():
    results = [
        CheckResult("speaker", "Loa (tiếng bíp)", PASS, "ok"),
        CheckResult("microphone", "Micrô (ghi âm)", FAIL, "im lặng", "cắm lại"),
        CheckResult("broker", "Kết nối máy chủ", SKIP, "không cấu hình"),
    ]
    assert summary_line(results).startswith(
        "TỔNG KẾT: KHÔNG ĐẠT — 1 mục không đạt (Micrô (ghi âm)), 1 mục đạt, 1 bỏ qua."
    )
    assert spoken_summary(results) == (
        "Tự kiểm tra xong. Có mục không đạt: micrô. Xin xem hướng dẫn trên màn hình."
    )
    assert summary_line(results[:1]) == "TỔNG KẾT: ĐẠT — 1 mục đạt, 0 bỏ qua."


# ---------------------------------------------------------------- audio, for real


@needs_pyaudio
def test_missing_microphone_and_speaker_fail_with_advice(tmp_path, monkeypatch):
    files = write_alsa_files(tmp_path / "alsa")
    for name, value in files.env.items():
        monkeypatch.setenv(name, value)
    config = DeviceConfig(
        data_dir=tmp_path / "box",
        audio=AudioConfig(input_device="no-such-mic", output_device="no-such-speaker"),
    )
    seen: list[CheckResult] = []
    results = run_selftest(
        config,
        SelftestOptions(skip_button=True, light_step_seconds=0.01),
        pin_factory=MockFactory(),
        tell=lambda _text: None,
        on_result=seen.append,
    )
    assert seen == results
    status = {r.key: r.status for r in results}
    assert status == {
        "lights": PASS,
        "speaker": FAIL,
        "button": SKIP,
        "microphone": FAIL,
        "playback": SKIP,
        "recognizer": SKIP,
        "broker": SKIP,
    }
    by_key = {r.key: r for r in results}
    assert by_key["speaker"].advice.startswith("Không tìm thấy loa: kiểm tra dây loa")
    assert by_key["microphone"].advice.startswith("Không tìm thấy micrô: kiểm tra dây micrô")
    assert len(files.output()) == 0  # no summary spoken into a speaker that is not there


def run_cli(tmp_path: Path, heard: bytes, *args: str, stdin: str = "", fleet: str = ""):
    """`hoixa device selftest` in a fresh process hearing `heard` after a second of quiet."""
    files = write_alsa_files(tmp_path / "alsa")
    files.set_input(bytes(2 * RATE) + heard, pad_seconds=8.0)
    config = tmp_path / "device.toml"
    config.write_text(f'[device]\ndata_dir = "{tmp_path / "box"}"\n{fleet}', encoding="utf-8")
    env = {**os.environ, **files.env, "GPIOZERO_PIN_FACTORY": "mock"}
    env["HOIXA_DATA_DIR"] = str(tmp_path / "box")
    proc = subprocess.run(
        [sys.executable, "-m", "hoixa.cli", "device", "selftest", "--config", str(config), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    return proc, files


@needs_audio
@needs_broker
@pytest.mark.skipif(not KHACH_SAN.exists(), reason=f"recording not found: {KHACH_SAN}")
def test_every_check_passes_on_a_working_box(tmp_path, broker):
    """Enter stands in for the button (no GPIO here); a real speaker says "khách sạn"."""
    fleet = (
        f'[fleet]\ndevice_id = "{ACCOUNT.device_id}"\nprovince = "79"\ncommune = "26734"\n'
        f'broker_host = "127.0.0.1"\nbroker_port = {broker.port}\n'
        f'password = "{ACCOUNT.password}"\ntls = false\n'
    )
    recording = read_wav(KHACH_SAN)
    proc, files = run_cli(
        tmp_path, recording, "--json", "--phrase", "khách sạn", stdin="\n", fleet=fleet
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    results = {r["key"]: r for r in doc["results"]}
    order = ["lights", "speaker", "button", "microphone", "playback", "recognizer", "broker"]
    assert list(results) == order
    assert doc["passed"] and all(r["label"] == "ĐẠT" for r in doc["results"]), doc
    assert doc["summary"] == "TỔNG KẾT: ĐẠT — 7 mục đạt, 0 bỏ qua."
    assert results["recognizer"]["data"]["heard"] == "khách sạn"
    assert results["recognizer"]["detail"] == "Nghe được «khách sạn»."
    level = results["microphone"]["data"]
    assert -35 < level["level_dbfs"] < -15 and level["peak_dbfs"] > level["level_dbfs"]
    assert "█" in results["microphone"]["detail"] and "dBFS" in results["microphone"]["detail"]
    assert "» Hãy bấm nút nói một lần" in proc.stderr  # instructions go to stderr with --json

    # What the speaker played: two beeps (speaker check), the cue beeps around the recording,
    # then the recording itself, at the speaker's rate.
    rate = results["speaker"]["data"]["rate"]
    played = files.output()
    start = round(0.8 * rate)
    back = soxr.resample(played[start : start + 3 * rate].astype(np.float32), rate, RATE)
    heard = np.frombuffer(files.infile.read_bytes(), dtype=np.int16)[: 6 * RATE]
    assert correlation(back, heard.astype(np.float32)) > 0.95  # played back what it heard
    # and the summary was spoken after the recogniser's two cue beeps
    summary = played[start + round(3.4 * rate) :]
    assert len(summary) / rate > 1.0 and np.mean(np.abs(summary.astype(np.int32)) > 500) > 0.05


def correlation(back: np.ndarray, source: np.ndarray) -> float:
    """The best match of `back` anywhere in `source` (Pearson correlation at the best lag)."""
    size = len(source) + len(back)
    cross = np.fft.irfft(np.fft.rfft(source, size) * np.conj(np.fft.rfft(back, size)), size)
    lag = int(np.argmax(cross[: len(source) - len(back) + 1]))
    return float(np.corrcoef(back, source[lag : lag + len(back)])[0, 1])


@needs_audio
def test_a_silent_microphone_fails_with_advice_and_exit_code_one(tmp_path):
    proc, files = run_cli(tmp_path, bytes(4 * RATE), "--skip-button")
    assert proc.returncode == 1, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    results = [line for line in lines if line.startswith(("ĐẠT", "KHÔNG ĐẠT", "BỎ QUA"))]
    assert [line.split(":")[0] for line in results] == [
        "ĐẠT        Đèn báo",
        "ĐẠT        Loa (tiếng bíp)",
        "BỎ QUA     Nút nói",
        "KHÔNG ĐẠT  Micrô (ghi âm)",
        "ĐẠT        Phát lại bản ghi",
        "KHÔNG ĐẠT  Nhận dạng giọng nói",
        "BỎ QUA     Kết nối máy chủ",
    ]
    microphone = results[3]
    assert "Không nghe thấy tiếng nào" in microphone
    assert "Cách xử lý: Kiểm tra dây micrô, cắm lại cổng USB" in microphone
    assert "[" + "░" * 30 + "]" in microphone  # the level bar is empty
    assert "Không nhận ra tiếng nào" in results[5]
    assert lines[-1].startswith(
        "TỔNG KẾT: KHÔNG ĐẠT — 2 mục không đạt (Micrô (ghi âm), Nhận dạng giọng nói)"
    )
    assert len(files.output()) > 0  # the speaker works, so the summary was also said
