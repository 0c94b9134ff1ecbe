"""The big talk button and the four lights, over gpiozero; a keyboard stand-in for laptops.

The button only reports what the hand did (press, release, how many presses); whether a
press means "hold to talk" or "tap, then silence ends it" is the voice loop's decision. The
lights show one state at a time, plus the "offline" overlay shown while idle.

On a machine without GPIO, `use_mock_pins_if_no_gpio()` selects gpiozero's mock pins and
`KeyboardButtonDriver` turns Enter presses into button presses, so `hoixa device run` works
on a laptop.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from hoixa.device.config import GpioConfig

BOUNCE_SECONDS = 0.05  # a cheap arcade button chatters for 5–20 ms; 50 ms hides it safely
PRESS = "press"
RELEASE = "release"


@dataclass(frozen=True)
class ButtonEvent:
    kind: str  # PRESS or RELEASE
    at: float  # time.monotonic() when gpiozero reported it


class TalkButton:
    """The talk button (to ground, internal pull-up) as a thread-safe queue of events."""

    def __init__(
        self, pin: int, *, bounce_seconds: float | None = BOUNCE_SECONDS, pin_factory: Any = None
    ) -> None:
        from gpiozero import Button

        self._events: deque[ButtonEvent] = deque()
        self._changed = threading.Condition()
        self._button = Button(
            pin, pull_up=True, bounce_time=bounce_seconds, pin_factory=pin_factory
        )
        self._button.when_pressed = lambda: self._push(PRESS)
        self._button.when_released = lambda: self._push(RELEASE)

    @classmethod
    def from_config(cls, gpio: GpioConfig, **kwargs: Any) -> TalkButton:
        return cls(gpio.button_pin, **kwargs)

    @property
    def pin(self) -> Any:
        """The gpiozero pin (a MockPin on a laptop: KeyboardButtonDriver drives it)."""
        return self._button.pin

    @property
    def is_pressed(self) -> bool:
        return bool(self._button.is_pressed)

    def close(self) -> None:
        self._button.close()

    def _push(self, kind: str) -> None:
        with self._changed:
            self._events.append(ButtonEvent(kind, time.monotonic()))
            self._changed.notify_all()

    def next_event(self, timeout: float | None = None) -> ButtonEvent | None:
        """The oldest event not yet taken; waits up to `timeout` (None: for ever)."""
        return self._take(lambda _event: True, timeout)

    def wait_for(self, kind: str, timeout: float | None = None) -> ButtonEvent | None:
        """The next event of `kind`, dropping others before it; None if none in time."""
        return self._take(lambda event: event.kind == kind, timeout)

    def clear(self) -> None:
        """Forget presses made earlier (e.g. while the box was speaking)."""
        with self._changed:
            self._events.clear()

    def count_presses(self, window_s: float = 1.5, timeout: float | None = None) -> int:
        """Wait for a press, then count presses within `window_s` of it (0: nobody pressed).

        For "press once if satisfied, twice if not". Later presses stay in the queue.
        """
        first = self.wait_for(PRESS, timeout)
        if first is None:
            return 0
        deadline = first.at + window_s
        with self._changed:
            while (left := deadline - time.monotonic()) > 0:
                self._changed.wait(left)
            inside = [e for e in self._events if e.at <= deadline]
            for event in inside:
                self._events.remove(event)
        return 1 + sum(event.kind == PRESS for event in inside)

    def _take(
        self, wanted: Callable[[ButtonEvent], bool], timeout: float | None
    ) -> ButtonEvent | None:
        """Pop events until one is wanted (unwanted ones are dropped)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while True:
                while self._events:
                    event = self._events.popleft()
                    if wanted(event):
                        return event
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._changed.wait(left)


IDLE = "idle"
LISTENING = "listening"
THINKING = "thinking"
SPEAKING = "speaking"
ERROR = "error"
OFFLINE = "offline"
STATES = (IDLE, LISTENING, THINKING, SPEAKING, ERROR, OFFLINE)

FAST_BLINK_SECONDS = 0.15  # "busy thinking": lively but not alarming
SLOW_BLINK_SECONDS = 1.0  # "offline": a calm reminder, easy to tell from the fast blink
_ON, _OFF, _FAST, _SLOW = "on", "off", "fast", "slow"


class Lights:
    """Ready (green), listening (blue), busy (yellow) and error (red) lights.

    idle: ready on · listening: listening on · thinking: busy blinking fast · speaking: busy
    on · error: error on · offline: shown while idle, ready on and error blinking slowly.
    """

    def __init__(self, gpio: GpioConfig, *, pin_factory: Any = None) -> None:
        from gpiozero import LED

        self.ready = LED(gpio.led_ready_pin, pin_factory=pin_factory)
        self.listening = LED(gpio.led_listening_pin, pin_factory=pin_factory)
        self.busy = LED(gpio.led_busy_pin, pin_factory=pin_factory)
        self.error = LED(gpio.led_error_pin, pin_factory=pin_factory)
        self._modes: dict[str, str] = {}
        self._lock = threading.Lock()
        self.state = IDLE
        self.offline = False
        self._render()

    def show(self, state: str) -> None:
        """Show one state; "offline" means idle with the offline overlay switched on."""
        if state not in STATES:
            raise ValueError(f"unknown light state {state!r}; expected one of {STATES}")
        with self._lock:
            if state == OFFLINE:
                self.offline, state = True, IDLE
            self.state = state
            self._render()

    def set_offline(self, offline: bool) -> None:
        """Switch the offline overlay on or off (it shows only while idle)."""
        with self._lock:
            self.offline = offline
            self._render()

    def close(self) -> None:
        for led in (self.ready, self.listening, self.busy, self.error):
            led.close()

    def _render(self) -> None:
        plan = {"ready": _OFF, "listening": _OFF, "busy": _OFF, "error": _OFF}
        if self.state == IDLE:
            plan["ready"] = _ON
            if self.offline:
                plan["error"] = _SLOW
        elif self.state == LISTENING:
            plan["listening"] = _ON
        elif self.state == THINKING:
            plan["busy"] = _FAST
        elif self.state == SPEAKING:
            plan["busy"] = _ON
        elif self.state == ERROR:
            plan["error"] = _ON
        for name, mode in plan.items():
            if self._modes.get(name) != mode:  # re-starting a blink would make it stutter
                _drive(getattr(self, name), mode)
                self._modes[name] = mode


def _drive(led: Any, mode: str) -> None:
    if mode == _ON:
        led.on()
    elif mode == _OFF:
        led.off()
    else:
        period = FAST_BLINK_SECONDS if mode == _FAST else SLOW_BLINK_SECONDS
        led.blink(on_time=period, off_time=period, background=True)


DEVICE_TREE_MODEL = Path("/proc/device-tree/model")


def use_mock_pins_if_no_gpio(model_file: Path = DEVICE_TREE_MODEL) -> bool:
    """Select gpiozero's mock pins unless this is a Raspberry Pi; True if mock pins are used.

    GPIOZERO_PIN_FACTORY, when set, is respected (as gpiozero itself does).
    """
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    if Device.pin_factory is not None:
        return isinstance(Device.pin_factory, MockFactory)
    chosen = os.environ.get("GPIOZERO_PIN_FACTORY", "").strip().lower()
    if chosen and chosen != "mock":
        return False
    if chosen == "mock" or not _is_raspberry_pi(model_file):
        Device.pin_factory = MockFactory()
        return True
    return False


def _is_raspberry_pi(model_file: Path) -> bool:
    try:
        return "raspberry pi" in model_file.read_text(errors="replace").lower()
    except OSError:
        return False


class KeyboardButtonDriver:
    """Press the mock talk button from the keyboard (a laptop has no button).

    Each line read from `stream` (normally the terminal) acts on the button:
    - Enter, in hold mode: toggles — the first Enter presses and holds the button (speak
      now), the next Enter releases it (question over);
    - Enter, in tap mode: one short press and release;
    - a number N then Enter, in either mode: N short presses (for "press once if satisfied,
      twice if not").
    At the end of the stream a held button is released.
    """

    def __init__(
        self, button: TalkButton, stream: TextIO, mode: str = "hold", gap_seconds: float = 0.1
    ) -> None:
        if mode not in ("hold", "tap"):
            raise ValueError(f"mode must be 'hold' or 'tap', not {mode!r}")
        if not hasattr(button.pin, "drive_low"):
            raise TypeError("KeyboardButtonDriver needs gpiozero mock pins")
        self.button = button
        self.stream = stream
        self.mode = mode
        self.gap_seconds = gap_seconds
        self._held = False

    def start(self) -> threading.Thread:
        """Read the stream on a background thread."""
        thread = threading.Thread(target=self.run, name="keyboard-button", daemon=True)
        thread.start()
        return thread

    def run(self) -> None:
        for line in self.stream:
            self.handle(line.strip())
        if self._held:
            self._release()

    def handle(self, line: str) -> None:
        if line.isdigit():
            if self._held:
                self._release()
            for _ in range(int(line)):
                self._click()
        elif self.mode == "tap":
            self._click()
        elif self._held:
            self._release()
        else:
            self._press()

    def _press(self) -> None:
        self.button.pin.drive_low()  # pull-up: pressed connects the pin to ground
        self._held = True
        time.sleep(self.gap_seconds)

    def _release(self) -> None:
        self.button.pin.drive_high()
        self._held = False
        time.sleep(self.gap_seconds)

    def _click(self) -> None:
        self._press()
        self._release()
