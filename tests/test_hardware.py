"""The talk button, the lights and the keyboard stand-in, on gpiozero's mock pins."""

from __future__ import annotations

import io
import threading
import time

import pytest

gpiozero = pytest.importorskip("gpiozero", reason="gpiozero (device extra) is not installed")
from gpiozero import Device  # noqa: E402
from gpiozero.pins.mock import MockFactory  # noqa: E402

from hoixa.device.config import GpioConfig  # noqa: E402
from hoixa.device.hardware import (  # noqa: E402
    PRESS,
    RELEASE,
    KeyboardButtonDriver,
    Lights,
    TalkButton,
    use_mock_pins_if_no_gpio,
)

GPIO = GpioConfig()


@pytest.fixture
def mock_pins():
    previous = Device.pin_factory
    factory = MockFactory()
    Device.pin_factory = factory
    yield factory
    factory.reset()
    Device.pin_factory = previous


@pytest.fixture
def button(mock_pins):
    talk = TalkButton.from_config(GPIO)
    yield talk
    talk.close()


@pytest.fixture
def lights(mock_pins):
    box = Lights(GPIO)
    yield box
    box.close()


def press(pin, hold: float = 0.02, gap: float = 0.02) -> None:
    pin.drive_low()
    time.sleep(hold)
    pin.drive_high()
    time.sleep(gap)


def press_later(pin, delays: list[float]) -> threading.Thread:
    """Press the mock pin after each delay (seconds since the previous press)."""

    def run():
        for delay in delays:
            time.sleep(delay)
            press(pin)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_button_pin_has_pull_up_and_configured_number(button, mock_pins):
    pin = mock_pins.pin(GPIO.button_pin)
    assert button.pin is pin
    assert pin.pull == "up"
    assert not button.is_pressed  # pulled high = not pressed


def test_press_and_release_come_in_order_with_timestamps(button, mock_pins):
    pin = mock_pins.pin(GPIO.button_pin)
    pin.drive_low()
    assert button.is_pressed
    time.sleep(0.05)
    pin.drive_high()
    pin.drive_low()
    pin.drive_high()

    events = [button.next_event(timeout=0.5) for _ in range(4)]
    assert [e.kind for e in events] == [PRESS, RELEASE, PRESS, RELEASE]
    stamps = [e.at for e in events]
    assert stamps == sorted(stamps)
    assert stamps[1] - stamps[0] >= 0.04  # the hold lasted about 50 ms
    assert button.next_event(timeout=0.05) is None


def test_next_event_waits_for_a_press_from_another_thread(button, mock_pins):
    press_later(mock_pins.pin(GPIO.button_pin), [0.1])
    event = button.wait_for(PRESS, timeout=2.0)
    assert event is not None and event.kind == PRESS


def test_wait_for_release_skips_the_press(button, mock_pins):
    press(mock_pins.pin(GPIO.button_pin))
    event = button.wait_for(RELEASE, timeout=0.5)
    assert event is not None and event.kind == RELEASE
    assert button.next_event(timeout=0.05) is None


def test_clear_forgets_earlier_presses(button, mock_pins):
    press(mock_pins.pin(GPIO.button_pin))
    button.clear()
    assert button.next_event(timeout=0.05) is None


def test_count_presses_one_means_one(button, mock_pins):
    press_later(mock_pins.pin(GPIO.button_pin), [0.05])
    assert button.count_presses(window_s=0.6, timeout=2.0) == 1


def test_count_presses_two_within_the_window(button, mock_pins):
    press_later(mock_pins.pin(GPIO.button_pin), [0.05, 0.2])
    assert button.count_presses(window_s=0.8, timeout=2.0) == 2


def test_count_presses_leaves_a_press_after_the_window_for_later(button, mock_pins):
    press_later(mock_pins.pin(GPIO.button_pin), [0.05, 0.6])
    assert button.count_presses(window_s=0.3, timeout=2.0) == 1
    later = button.wait_for(PRESS, timeout=2.0)
    assert later is not None


def test_count_presses_counts_presses_made_before_the_call(button, mock_pins):
    pin = mock_pins.pin(GPIO.button_pin)
    press(pin)
    press(pin)
    assert button.count_presses(window_s=0.5, timeout=0.1) == 2


def test_count_presses_zero_when_nobody_presses(button):
    started = time.monotonic()
    assert button.count_presses(window_s=0.5, timeout=0.2) == 0
    assert time.monotonic() - started < 0.5  # gave up after the timeout, not the window


def lit(lights: Lights) -> dict[str, bool]:
    return {
        name: bool(getattr(lights, name).is_lit) for name in ("ready", "listening", "busy", "error")
    }


def toggles(pin, seconds: float) -> int:
    """How many times the pin changed during the next `seconds`."""
    pin.clear_states()
    time.sleep(seconds)
    return len(pin.states) - 1


@pytest.mark.parametrize(
    ("state", "on_pin"),
    [
        ("idle", GPIO.led_ready_pin),
        ("listening", GPIO.led_listening_pin),
        ("speaking", GPIO.led_busy_pin),
        ("error", GPIO.led_error_pin),
    ],
)
def test_steady_states_light_exactly_one_pin(lights, mock_pins, state, on_pin):
    lights.show("thinking")  # from a blinking state, so the blink must stop too
    lights.show(state)
    pins = [GPIO.led_ready_pin, GPIO.led_listening_pin, GPIO.led_busy_pin, GPIO.led_error_pin]
    states = {p: mock_pins.pin(p).state for p in pins}
    assert states == {p: p == on_pin for p in pins}
    assert toggles(mock_pins.pin(on_pin), 0.4) == 0  # steady


def test_lights_start_idle(lights):
    assert lights.state == "idle"
    assert lit(lights) == {"ready": True, "listening": False, "busy": False, "error": False}


def test_thinking_blinks_busy_fast_and_nothing_else(lights, mock_pins):
    lights.show("thinking")
    busy = mock_pins.pin(GPIO.led_busy_pin)
    assert toggles(busy, 0.7) >= 3  # on/off every 0.15 s
    assert not any(
        mock_pins.pin(p).state
        for p in (GPIO.led_ready_pin, GPIO.led_listening_pin, GPIO.led_error_pin)
    )


def test_offline_overlay_shows_only_while_idle(lights, mock_pins):
    error = mock_pins.pin(GPIO.led_error_pin)
    ready = mock_pins.pin(GPIO.led_ready_pin)
    lights.show("offline")
    assert lights.state == "idle" and lights.offline
    assert ready.state
    assert toggles(error, 1.3) >= 1  # slow blink: about once a second
    error.clear_states()
    time.sleep(0.3)
    assert len(error.states) <= 2  # slow, unlike the thinking blink

    lights.show("listening")
    assert lit(lights) == {"ready": False, "listening": True, "busy": False, "error": False}
    assert toggles(error, 1.2) == 0

    lights.show("idle")  # still offline: the overlay comes back
    assert ready.state
    assert toggles(error, 1.3) >= 1

    lights.set_offline(False)
    assert not error.state
    assert toggles(error, 1.2) == 0
    assert ready.state


def test_unknown_light_state_is_refused(lights):
    with pytest.raises(ValueError, match="unknown light state"):
        lights.show("happy")


def test_keyboard_driver_hold_mode_toggles(button):
    KeyboardButtonDriver(button, io.StringIO("\n\n\n"), mode="hold", gap_seconds=0.01).run()
    kinds = []
    while (event := button.next_event(timeout=0.05)) is not None:
        kinds.append(event.kind)
    # press, release, press — and the end of input releases the held button
    assert kinds == [PRESS, RELEASE, PRESS, RELEASE]
    assert not button.is_pressed


def test_keyboard_driver_tap_mode_and_numbers(button):
    KeyboardButtonDriver(button, io.StringIO("\n2\n"), mode="tap", gap_seconds=0.01).run()
    kinds = []
    while (event := button.next_event(timeout=0.05)) is not None:
        kinds.append(event.kind)
    assert kinds == [PRESS, RELEASE] * 3


def test_keyboard_driver_answers_the_satisfaction_question(button):
    KeyboardButtonDriver(button, io.StringIO("2\n"), gap_seconds=0.02).start()
    assert button.count_presses(window_s=0.8, timeout=2.0) == 2


def test_keyboard_driver_refuses_real_pins():
    class RealPinButton:
        pin = object()

    with pytest.raises(TypeError, match="mock pins"):
        KeyboardButtonDriver(RealPinButton(), io.StringIO(""))  # type: ignore[arg-type]


@pytest.fixture
def no_pin_factory(monkeypatch):
    previous = Device.pin_factory
    Device.pin_factory = None
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    yield
    if Device.pin_factory is not None and Device.pin_factory is not previous:
        Device.pin_factory.close()
    Device.pin_factory = previous


def test_mock_pins_chosen_when_not_a_raspberry_pi(no_pin_factory, tmp_path):
    model = tmp_path / "model"
    model.write_text("Some Laptop\0")
    assert use_mock_pins_if_no_gpio(model) is True
    assert isinstance(Device.pin_factory, MockFactory)
    assert use_mock_pins_if_no_gpio(model) is True  # already chosen: stays


def test_real_pins_kept_on_a_raspberry_pi(no_pin_factory, tmp_path):
    model = tmp_path / "model"
    model.write_text("Raspberry Pi 4 Model B Rev 1.5\0")
    assert use_mock_pins_if_no_gpio(model) is False
    assert Device.pin_factory is None  # gpiozero picks the real factory itself


def test_operator_choice_of_pin_factory_is_respected(no_pin_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "lgpio")
    assert use_mock_pins_if_no_gpio(tmp_path / "absent") is False
    assert Device.pin_factory is None


def test_missing_model_file_means_no_gpio(no_pin_factory, tmp_path):
    assert use_mock_pins_if_no_gpio(tmp_path / "absent") is True
