"""The box checks itself, for the commune staff member standing next to it.

`hoixa device selftest` cycles the lights, beeps, waits for the button, records three seconds
and plays them back with the level shown, asks for a fixed phrase and recognises it, and
connects to the central server. Each check says ĐẠT / KHÔNG ĐẠT / BỎ QUA in plain Vietnamese
and, when it fails, what to do about it; the printed lines are the record, and the summary is
also spoken by the box's own voice when the speaker works.

The checks use the same parts as the running box (device/hardware.py, device/audio/,
device/asr/, device/tts/), so a pass here means the box itself can use them. The hoixa-device
service holds the GPIO pins and the sound card: stop it before the self-test.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

import numpy as np

from hoixa.device.audio import earcons
from hoixa.device.audio.checks import CLIPPED, SILENCE, TOO_QUIET, check_question
from hoixa.device.audio.devices import (
    DEVICE_BUSY,
    NO_MICROPHONE,
    NO_SPEAKER,
    AudioError,
    open_portaudio,
)
from hoixa.device.audio.microphone import Microphone
from hoixa.device.audio.speaker import Speaker
from hoixa.device.audio.vad import EndOfSpeech
from hoixa.device.config import DeviceConfig

log = logging.getLogger(__name__)

RATE = 16000
PASS, FAIL, SKIP = "pass", "fail", "skip"
LABELS = {PASS: "ĐẠT", FAIL: "KHÔNG ĐẠT", SKIP: "BỎ QUA"}

STOP_SERVICE = "nếu dịch vụ Hỏi Xã đang chạy, dừng nó trước (sudo systemctl stop hoixa-device)"
CALL_TECHNICIAN = "báo kỹ thuật viên"
# A transcript this close to the phrase (rapidfuzz, 0–100, on normalised text) counts as
# heard: one wrong tone or letter in "đăng ký khai sinh" still scores above 85.
PHRASE_MATCH = 80
LEVEL_FLOOR_DBFS = -60.0  # the left end of the level bar
LEVEL_BAR_CELLS = 30


@dataclass(frozen=True)
class CheckResult:
    """One check: what it found, in words for staff, and what to do when it failed."""

    key: str  # lights, speaker, button, microphone, playback, recognizer, broker
    title: str
    status: str  # PASS, FAIL or SKIP
    detail: str
    advice: str = ""  # what to do; given for every FAIL
    data: dict[str, Any] = field(default_factory=dict)  # measurements, for --json

    @property
    def passed(self) -> bool:
        return self.status == PASS

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def line(self) -> str:
        text = f"{LABELS[self.status]:<10} {self.title}: {self.detail}"
        return f"{text} Cách xử lý: {self.advice}" if self.advice else text


@dataclass(frozen=True)
class SelftestOptions:
    skip_button: bool = False
    button_seconds: float = 20.0  # how long to wait for the press
    release_seconds: float = 5.0  # a button still down after this long is stuck
    record_seconds: float = 3.0
    phrase: str = "đăng ký khai sinh"
    phrase_seconds: float = 6.0  # longest recording of the phrase
    broker_timeout_seconds: float = 10.0
    light_step_seconds: float = 0.6  # each light stays on this long
    speak_summary: bool = True


class SelftestRun:
    """What the checks share: the configuration, one PortAudio, the speaker, the recording."""

    def __init__(
        self,
        config: DeviceConfig,
        options: SelftestOptions,
        *,
        pin_factory: Any = None,
        keyboard: TextIO | None = None,
        tell: Callable[[str], None],
    ):
        self.config = config
        self.options = options
        self.pin_factory = pin_factory
        self.keyboard = keyboard
        self.tell = tell
        self.recording: bytes | None = None  # the microphone check's three seconds
        self.microphone_opens: bool | None = None
        self.speaker_works: bool | None = None
        self._pa: Any = None
        self._speaker: Speaker | None = None

    def portaudio(self) -> Any:
        if self._pa is None:
            self._pa = open_portaudio()
        return self._pa

    def speaker(self) -> Speaker:
        if self._speaker is None:
            self._speaker = Speaker(self.config.audio, pa=self.portaudio())
        return self._speaker

    def microphone(self) -> Microphone:
        return Microphone(self.config.audio, pa=self.portaudio())

    def beep(self, pcm: bytes) -> None:
        """A cue for the person; a speaker fault is the speaker check's to report."""
        try:
            self.speaker().play_pcm(pcm, RATE)
        except AudioError as exc:
            log.info("cue not played: %s", exc)

    def close(self) -> None:
        if self._speaker is not None:
            self._speaker.close()
        if self._pa is not None:
            self._pa.terminate()
            self._pa = None


# -- the checks ------------------------------------------------------------------------------


def check_lights(run: SelftestRun) -> CheckResult:
    """Each light in turn, through the box's own light states; every pin is read back."""
    from gpiozero.pins.mock import MockFactory

    from hoixa.device.hardware import ERROR, IDLE, LISTENING, SPEAKING, Lights

    title = "Đèn báo"
    order = [(IDLE, "ready", "xanh lá"), (LISTENING, "listening", "xanh dương")]
    order += [(SPEAKING, "busy", "vàng"), (ERROR, "error", "đỏ")]
    run.tell("Hãy nhìn các đèn: xanh lá, xanh dương, vàng, đỏ sẽ lần lượt sáng.")
    try:
        lights = Lights(run.config.gpio, pin_factory=run.pin_factory)
    except Exception as exc:  # GPIOZeroError, lgpio.error, no permission: the same advice
        return CheckResult(
            "lights",
            title,
            FAIL,
            f"Không điều khiển được chân GPIO của đèn ({exc}).",
            f"{STOP_SERVICE.capitalize()}; nếu vẫn lỗi, {CALL_TECHNICIAN}.",
        )
    wrong = []
    try:
        for state, name, colour in order:
            lights.show(state)
            lit = [n for _, n, _ in order if getattr(lights, n).is_lit]
            if lit != [name]:
                wrong.append(colour)
            time.sleep(run.options.light_step_seconds)
        for led in (lights.ready, lights.listening, lights.busy, lights.error):
            led.off()
        mock = isinstance(lights.ready.pin_factory, MockFactory)
    finally:
        lights.close()
    if wrong:
        return CheckResult(
            "lights",
            title,
            FAIL,
            f"Chân GPIO của đèn {', '.join(wrong)} không đổi trạng thái.",
            f"Kiểm tra dây nối của đèn đó; nếu vẫn lỗi, {CALL_TECHNICIAN}.",
        )
    note = " (máy này không có GPIO: chân giả lập)" if mock else ""
    return CheckResult(
        "lights",
        title,
        PASS,
        f"Bốn đèn đã lần lượt sáng rồi tắt{note}. Nếu có đèn không sáng khi nhìn, kiểm tra "
        "bóng đèn và dây nối của đèn đó.",
        data={"mock_pins": mock},
    )


def check_speaker(run: SelftestRun) -> CheckResult:
    """The box's own beeps (rising, then falling) through the configured speaker."""
    title = "Loa (tiếng bíp)"
    run.tell("Hãy nghe: máy phát hai tiếng bíp.")
    try:
        speaker = run.speaker()
        speaker.play_pcm(earcons.start_listening(RATE) + earcons.stop_listening(RATE), RATE)
    except AudioError as exc:
        run.speaker_works = False
        return CheckResult(
            "speaker", title, FAIL, f"Không phát được tiếng ({exc}).", _speaker_advice(exc.kind)
        )
    run.speaker_works = True
    name = speaker.device.name if speaker.device else "mặc định"
    return CheckResult(
        "speaker",
        title,
        PASS,
        f"Đã phát tiếng bíp qua loa «{name}». Nếu không nghe thấy: bật nguồn loa, tăng âm "
        "lượng, kiểm tra dây loa.",
        data={"device": name, "rate": speaker.rate},
    )


def check_button(run: SelftestRun) -> CheckResult:
    """A press and a release within the time allowed; a button held down from the start is
    given the same time to come up, or it is stuck."""
    from hoixa.device.hardware import PRESS, RELEASE, KeyboardButtonDriver, TalkButton

    title, opts = "Nút nói", run.options
    if opts.skip_button:
        return CheckResult("button", title, SKIP, "Bỏ qua theo yêu cầu (--skip-button).")
    try:
        button = TalkButton.from_config(run.config.gpio, pin_factory=run.pin_factory)
    except Exception as exc:  # GPIOZeroError, lgpio.error, no permission: the same advice
        return CheckResult(
            "button",
            title,
            FAIL,
            f"Không đọc được chân GPIO của nút ({exc}).",
            f"{STOP_SERVICE.capitalize()}; nếu vẫn lỗi, {CALL_TECHNICIAN}.",
        )
    stuck = CheckResult(
        "button",
        title,
        FAIL,
        "Nút luôn ở trạng thái bấm (bị kẹt).",
        "Kiểm tra nút có bị kẹt không và dây nối của nút có bị chạm nhau không.",
    )
    try:
        if button.is_pressed and button.wait_for(RELEASE, opts.release_seconds) is None:
            return stuck
        keys = ""
        if run.keyboard is not None and hasattr(button.pin, "drive_low"):
            KeyboardButtonDriver(button, run.keyboard, mode="tap").start()
            keys = " (máy này không có GPIO: bấm Enter thay cho nút)"
        run.tell(f"Hãy bấm nút nói một lần, trong vòng {opts.button_seconds:g} giây{keys}.")
        if button.wait_for(PRESS, opts.button_seconds) is None:
            return CheckResult(
                "button",
                title,
                FAIL,
                f"Không thấy nút được bấm trong {opts.button_seconds:g} giây.",
                "Bấm lại dứt khoát rồi chạy lại; nếu vẫn không được, kiểm tra dây nối của nút "
                f"(chân GPIO {run.config.gpio.button_pin} và chân GND).",
            )
        if button.wait_for(RELEASE, opts.release_seconds) is None:
            return stuck
    finally:
        button.close()
    return CheckResult("button", title, PASS, "Đã nhận được một lần bấm và nhả nút.")


def check_microphone(run: SelftestRun) -> CheckResult:
    """Three seconds after the rising beep; the level decides, as for a villager's question."""
    title, seconds = "Micrô (ghi âm)", run.options.record_seconds
    run.tell(f"Sau tiếng bíp, hãy nói vài tiếng vào micrô trong {seconds:g} giây.")
    run.beep(earcons.start_listening(RATE))
    try:
        pcm = _record(run, lambda captured: len(captured) >= seconds * RATE * 2)
    except AudioError as exc:
        run.microphone_opens = False
        return CheckResult(
            "microphone", title, FAIL, f"Không ghi âm được ({exc}).", _microphone_advice(exc.kind)
        )
    run.microphone_opens = True
    run.beep(earcons.stop_listening(RATE))
    run.recording = pcm
    samples = np.frombuffer(pcm, dtype=np.int16)
    peak = _dbfs(float(np.max(np.abs(samples.astype(np.int32)))) if len(samples) else 0.0)
    check = check_question(pcm, run.config.audio, hit_cap=False, min_seconds=0.0)
    level = check.speech_dbfs if SILENCE not in check.problems else _rms_dbfs(samples)
    shown = f"{level_bar(level)} mức {level:.0f} dBFS, đỉnh {peak:.0f} dBFS"
    data = {"peak_dbfs": round(peak, 1), "level_dbfs": round(level, 1)}
    data |= {"speech_seconds": round(check.speech_seconds, 2), "problems": list(check.problems)}
    if not np.any(samples):
        return CheckResult(
            "microphone",
            title,
            FAIL,
            f"Không nghe thấy tiếng nào, hoàn toàn im lặng. {shown}",
            "Kiểm tra dây micrô, cắm lại cổng USB; xem micrô có bị tắt tiếng (mute) không.",
            data,
        )
    if SILENCE in check.problems:
        return CheckResult(
            "microphone",
            title,
            FAIL,
            f"Chỉ có tiếng ồn nền, không nghe thấy giọng nói. {shown}",
            "Nói to và gần micrô hơn rồi chạy lại; nếu vẫn vậy, kiểm tra dây micrô, cắm lại "
            "cổng USB.",
            data,
        )
    if CLIPPED in check.problems:
        return CheckResult(
            "microphone",
            title,
            FAIL,
            f"Tiếng quá to, bị rè. {shown}",
            "Đứng xa micrô hơn một chút, hoặc giảm độ nhạy micrô.",
            data,
        )
    if TOO_QUIET in check.problems:
        return CheckResult(
            "microphone",
            title,
            FAIL,
            f"Tiếng quá nhỏ. {shown}",
            "Nói to hơn, gần micrô hơn; nếu vẫn nhỏ, tăng độ nhạy micrô.",
            data,
        )
    return CheckResult("microphone", title, PASS, f"Nghe thấy giọng nói. {shown}", data=data)


def check_playback(run: SelftestRun) -> CheckResult:
    """The recording, played back, so the person hears what the box hears."""
    title = "Phát lại bản ghi"
    if run.recording is None:
        return CheckResult("playback", title, SKIP, "Bỏ qua: micrô chưa ghi được gì.")
    if run.speaker_works is False:
        return CheckResult("playback", title, SKIP, "Bỏ qua: loa không phát được (xem ở trên).")
    run.tell("Đang phát lại đoạn vừa ghi: hãy nghe xem có rõ không.")
    try:
        run.speaker().play_pcm(run.recording, RATE)
    except AudioError as exc:
        return CheckResult(
            "playback", title, FAIL, f"Không phát lại được ({exc}).", _speaker_advice(exc.kind)
        )
    seconds = len(run.recording) / 2 / RATE
    return CheckResult(
        "playback",
        title,
        PASS,
        f"Đã phát lại {seconds:.0f} giây vừa ghi. Nếu nghe rè hoặc không rõ, kiểm tra micrô "
        "và loa.",
    )


def check_recognizer(run: SelftestRun) -> CheckResult:
    """The fixed phrase, recorded until the person stops, recognised as the box would."""
    from hoixa.device.asr.base import AsrError
    from hoixa.device.asr.select import load_recognizer

    title, phrase = "Nhận dạng giọng nói", run.options.phrase
    if run.microphone_opens is False:
        return CheckResult("recognizer", title, SKIP, "Bỏ qua: micrô không mở được.")
    try:
        recognizer = load_recognizer(run.config.asr, _recogniser_phrases(run.config))
    except AsrError as exc:
        return CheckResult(
            "recognizer",
            title,
            FAIL,
            f"Bộ nhận dạng không khởi động được ({exc}).",
            f"Cài lại phần mềm hoặc mô hình nhận dạng: {CALL_TECHNICIAN}.",
        )
    run.tell(f"Sau tiếng bíp, hãy nói rõ: «{phrase}».")
    run.beep(earcons.start_listening(RATE))
    session = recognizer.start()
    end = EndOfSpeech(
        silence_end_seconds=1.0,
        max_question_seconds=run.options.phrase_seconds,
        no_speech_seconds=run.options.phrase_seconds,
    )
    try:
        _record(run, lambda _: end.ended, lambda chunk: (session.feed(chunk), end.feed(chunk)))
    except AudioError as exc:
        return CheckResult(
            "recognizer", title, FAIL, f"Không ghi âm được ({exc}).", _microphone_advice(exc.kind)
        )
    run.beep(earcons.stop_listening(RATE))
    heard = session.finish().text
    score = phrase_score(phrase, heard)
    data = {"phrase": phrase, "heard": heard, "score": score, "engine": recognizer.name}
    if not heard:
        return CheckResult(
            "recognizer",
            title,
            FAIL,
            "Không nhận ra tiếng nào.",
            "Nói to, rõ, gần micrô hơn rồi chạy lại.",
            data,
        )
    if score < PHRASE_MATCH:
        return CheckResult(
            "recognizer",
            title,
            FAIL,
            f"Nghe được «{heard}», khác với «{phrase}».",
            f"Nói chậm, rõ từng tiếng rồi chạy lại; nếu lần nào cũng sai, {CALL_TECHNICIAN}.",
            data,
        )
    return CheckResult("recognizer", title, PASS, f"Nghe được «{heard}».", data=data)


def check_broker(run: SelftestRun) -> CheckResult:
    """A real MQTT connection with the box's account and TLS settings, then a clean goodbye.

    The client id differs from the box's own (a second connection with the same id would
    throw the running box off the broker), and there is no Last Will: the server must not
    see this box "lost" because of a test.
    """
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    fleet, title = run.config.fleet, "Kết nối máy chủ"
    if not fleet.broker_host:
        return CheckResult(
            "broker",
            title,
            SKIP,
            "Không cấu hình máy chủ (fleet.broker_host trống): máy chạy riêng, không gửi báo cáo.",
        )
    where = f"{fleet.broker_host}:{fleet.broker_port}"
    data: dict[str, Any] = {"broker": where, "tls": fleet.tls}
    network = (
        "Kiểm tra dây mạng hoặc Wi-Fi của máy và thử vào mạng bằng máy khác cùng chỗ; nếu mạng "
        f"vẫn tốt, {CALL_TECHNICIAN} (máy chủ {where})."
    )
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"{fleet.device_id or 'hoixa'}-selftest",
        protocol=mqtt.MQTTv5,
        reconnect_on_failure=False,
    )
    client.username_pw_set(fleet.username or fleet.device_id or None, fleet.password or None)
    client.connect_timeout = run.options.broker_timeout_seconds
    answers: dict[str, Any] = {}
    client.on_connect = lambda c, u, f, code, p: answers.setdefault("connack", code)
    client.on_disconnect = lambda c, u, f, code, p: answers.setdefault("closed", code)
    run.tell(f"Đang kết nối máy chủ {where}…")
    try:
        if fleet.tls:
            client.tls_set(
                ca_certs=fleet.ca_file or None,
                certfile=fleet.client_cert or None,
                keyfile=fleet.client_key or None,
            )
    except (OSError, ValueError) as exc:
        return CheckResult(
            "broker",
            title,
            FAIL,
            f"Không đọc được tệp chứng chỉ bảo mật của máy ({exc}).",
            f"Tệp chứng chỉ bị thiếu hoặc hỏng: {CALL_TECHNICIAN} để đăng ký lại máy.",
            data,
        )
    try:
        client.connect(fleet.broker_host, fleet.broker_port, keepalive=30)
    except ssl.SSLError as exc:
        return CheckResult(
            "broker",
            title,
            FAIL,
            f"Lỗi chứng chỉ bảo mật khi kết nối {where} ({exc}).",
            "Kiểm tra ngày giờ của máy (chứng chỉ cần giờ đúng); nếu giờ đúng, "
            f"{CALL_TECHNICIAN} để đăng ký lại máy.",
            data,
        )
    except socket.gaierror as exc:
        return CheckResult(
            "broker",
            title,
            FAIL,
            f"Không tìm thấy máy chủ {fleet.broker_host} ({exc}).",
            network,
            data,
        )
    except (OSError, ValueError) as exc:
        return CheckResult(
            "broker", title, FAIL, f"Không kết nối được máy chủ {where} ({exc}).", network, data
        )
    deadline = time.monotonic() + run.options.broker_timeout_seconds
    try:
        while not answers and time.monotonic() < deadline:
            client.loop(timeout=0.1)
    finally:
        client.disconnect()
    code = answers.get("connack")
    if code is None:
        return CheckResult(
            "broker",
            title,
            FAIL,
            f"Máy chủ {where} không trả lời.",
            f"Có thể sai cổng hoặc sai cài đặt bảo mật (TLS); {network}",
            data,
        )
    data["reason_code"] = code.value
    if code.is_failure:
        return CheckResult(
            "broker",
            title,
            FAIL,
            f"Máy chủ {where} từ chối tài khoản của máy ({code}).",
            f"Tài khoản có thể sai mật khẩu hoặc đã bị thu hồi: {CALL_TECHNICIAN} để đăng ký "
            "lại máy.",
            data,
        )
    return CheckResult("broker", title, PASS, f"Đã kết nối máy chủ {where}.", data=data)


CHECKS: tuple[Callable[[SelftestRun], CheckResult], ...] = (
    check_lights,
    check_speaker,
    check_button,
    check_microphone,
    check_playback,
    check_recognizer,
    check_broker,
)


# -- running them ----------------------------------------------------------------------------


def run_selftest(
    config: DeviceConfig,
    options: SelftestOptions | None = None,
    *,
    pin_factory: Any = None,
    keyboard: TextIO | None = None,
    tell: Callable[[str], None] = print,
    on_result: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Every check in order (a check that crashes fails alone), then the summary spoken.

    `tell` gives the person instructions; `on_result` sees each result as it comes.
    `keyboard`: on mock pins (no GPIO), lines read from it press the button.
    """
    options = options or SelftestOptions()
    run = SelftestRun(config, options, pin_factory=pin_factory, keyboard=keyboard, tell=tell)
    results = []
    try:
        for check in CHECKS:
            result = _guarded(check, run)
            results.append(result)
            if on_result is not None:
                on_result(result)
        if options.speak_summary and run.speaker_works:
            _speak(run, spoken_summary(results))
    finally:
        run.close()
    return results


def summary_line(results: list[CheckResult]) -> str:
    failed = [r.title for r in results if r.failed]
    counts = {s: sum(r.status == s for r in results) for s in LABELS}
    tail = f"{counts[PASS]} mục đạt, {counts[SKIP]} bỏ qua"
    if not failed:
        return f"TỔNG KẾT: ĐẠT — {tail}."
    return (
        f"TỔNG KẾT: KHÔNG ĐẠT — {len(failed)} mục không đạt ({', '.join(failed)}), {tail}. "
        "Làm theo «Cách xử lý» ở các dòng KHÔNG ĐẠT rồi chạy lại."
    )


def spoken_summary(results: list[CheckResult]) -> str:
    failed = [r.title.split(" (")[0].lower() for r in results if r.failed]
    if not failed:
        return "Tự kiểm tra xong. Tất cả các mục đều đạt."
    return (
        f"Tự kiểm tra xong. Có mục không đạt: {', '.join(failed)}. Xin xem hướng dẫn trên màn hình."
    )


def selftest_command(
    config_path: str | None,
    *,
    skip_button: bool = False,
    as_json: bool = False,
    phrase: str = SelftestOptions.phrase,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    stderr: TextIO = sys.stderr,
) -> int:
    """`hoixa device selftest`: 0 when nothing failed, 1 otherwise."""
    from hoixa.device.config import load_config
    from hoixa.device.hardware import use_mock_pins_if_no_gpio

    config = load_config(config_path)
    mock_pins = use_mock_pins_if_no_gpio()
    talk = stderr if as_json else stdout

    def tell(text: str) -> None:
        print(f"» {text}", file=talk, flush=True)

    def show(result: CheckResult) -> None:
        if not as_json:
            print(result.line(), file=stdout, flush=True)

    print("Hỏi Xã — tự kiểm tra máy", file=talk, flush=True)
    results = run_selftest(
        config,
        SelftestOptions(skip_button=skip_button, phrase=phrase),
        keyboard=stdin if mock_pins else None,
        tell=tell,
        on_result=show,
    )
    passed = not any(r.failed for r in results)
    if as_json:
        doc = {"passed": passed, "summary": summary_line(results)}
        doc["results"] = [asdict(r) | {"label": LABELS[r.status]} for r in results]
        print(json.dumps(doc, ensure_ascii=False), file=stdout, flush=True)
    else:
        print(summary_line(results), file=stdout, flush=True)
    return 0 if passed else 1


# -- helpers ---------------------------------------------------------------------------------


def phrase_score(phrase: str, heard: str) -> float:
    """How close what was heard is to the phrase, 0–100; extra words around it are allowed."""
    from rapidfuzz import fuzz

    from hoixa.vietnamese import normalize

    want, got = normalize(phrase), normalize(heard)
    if not want or not got:
        return 0.0
    score = fuzz.ratio(want, got)
    if len(got) > len(want):
        score = max(score, fuzz.partial_ratio(want, got))
    return round(score, 1)


def level_bar(dbfs: float) -> str:
    """[████████░░░░] from LEVEL_FLOOR_DBFS (empty) to 0 dBFS (full)."""
    share = min(1.0, max(0.0, (dbfs - LEVEL_FLOOR_DBFS) / -LEVEL_FLOOR_DBFS))
    cells = round(share * LEVEL_BAR_CELLS)
    return "[" + "█" * cells + "░" * (LEVEL_BAR_CELLS - cells) + "]"


def _record(
    run: SelftestRun,
    done: Callable[[bytearray], bool],
    each: Callable[[bytes], object] = lambda _chunk: None,
) -> bytes:
    microphone = run.microphone()
    captured = bytearray()
    try:
        microphone.open()
        microphone.discard()
        while not done(captured):
            chunk = microphone.read()
            captured += chunk
            each(chunk)
    finally:
        microphone.close()
    return bytes(captured)


def _recogniser_phrases(config: DeviceConfig) -> list[str]:
    """The catalogue's phrases, only when Vosk may be used (viet-asr does not need them)."""
    asr = config.asr
    if asr.backend == "viet-asr" or (asr.backend == "auto" and not asr.vosk_model):
        return []
    from hoixa.device.catalogue_store import open_catalogue
    from hoixa.device.vocabulary import phrases

    return phrases(open_catalogue(config.data_dir)[0])


def _speak(run: SelftestRun, text: str) -> None:
    from hoixa.device.tts.base import TtsError, speak_stream
    from hoixa.device.tts.select import load_synthesizer

    try:
        synthesizer = load_synthesizer(run.config.tts)
        speech = speak_stream(synthesizer, text, slow=False)
        run.speaker().play((s.pcm, s.sample_rate) for s in speech)
    except (TtsError, AudioError) as exc:
        run.tell(f"Không đọc được kết quả thành tiếng ({exc}); xem kết quả trên màn hình.")


def _guarded(check: Callable[[SelftestRun], CheckResult], run: SelftestRun) -> CheckResult:
    try:
        return check(run)
    except Exception as exc:  # one broken part must not hide the results of the others
        log.exception("self-test check %s crashed", check.__name__)
        key = check.__name__.removeprefix("check_")
        return CheckResult(
            key,
            key,
            FAIL,
            f"Lỗi không mong đợi: {type(exc).__name__}: {exc}.",
            f"Chụp lại màn hình này và {CALL_TECHNICIAN}.",
        )


def _speaker_advice(kind: str) -> str:
    if kind == DEVICE_BUSY:
        return f"Loa đang bị chương trình khác dùng: {STOP_SERVICE}, rồi chạy lại."
    if kind == NO_SPEAKER:
        return "Không tìm thấy loa: kiểm tra dây loa, cắm lại cổng USB hoặc jack, bật nguồn loa."
    return f"Kiểm tra dây loa, cắm lại cổng USB; nếu vẫn lỗi, {CALL_TECHNICIAN}."


def _microphone_advice(kind: str) -> str:
    if kind == DEVICE_BUSY:
        return f"Micrô đang bị chương trình khác dùng: {STOP_SERVICE}, rồi chạy lại."
    if kind == NO_MICROPHONE:
        return "Không tìm thấy micrô: kiểm tra dây micrô, cắm lại cổng USB."
    return f"Kiểm tra dây micrô, cắm lại cổng USB; nếu vẫn lỗi, {CALL_TECHNICIAN}."


def _dbfs(amplitude: float) -> float:
    return 20 * float(np.log10(amplitude / 32768)) if amplitude > 0 else -120.0


def _rms_dbfs(samples: np.ndarray) -> float:
    if not len(samples):
        return -120.0
    return _dbfs(float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))))
