"""The fleet bench's simulator against a real Mosquitto, small: 20 boxes connect, verify and ack
a catalogue update, and every event they send is counted once by a shared-subscription consumer.

bench/ is not a package, so the runner is imported by path.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "fleet"
BOXES = 20

pytestmark = pytest.mark.skipif(
    not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()),
    reason="mosquitto is not installed",
)


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_fleet_run", BENCH / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("auth", [False, True], ids=["anonymous", "accounts-and-acl"])
def test_twenty_boxes_connect_apply_the_update_and_every_event_is_counted(tmp_path, auth):
    run = _load()
    already = set(multiprocessing.active_children())  # other tests' processes, if any
    result = run.run_size(
        BOXES,
        procs=2,
        events_s=1.0,
        consumers=(1,),
        storm_timeout_s=10,
        update_timeout_s=10,
        drain_s=5,
        folder=tmp_path,
        auth=auth,
    )
    assert result.error is None, result.error

    storm = result.storm
    assert (storm.connected, storm.subscribed) == (BOXES, BOXES)
    assert storm.all_connack_s is not None and storm.all_connack_s < 10

    update = result.update
    assert (update.applied, update.rejected, update.pending) == (BOXES, 0, 0)
    assert update.invalid_acks == 0  # every ack passed the server's own checks
    assert update.t100_s is not None and update.t100_s < 10
    assert result.meets_goal

    (events,) = result.events
    assert events.acked > BOXES  # each box sent more than one event
    assert events.unacked == 0
    assert events.delivered == events.published == events.acked
    assert events.lost == events.dropped_by_broker == 0
    assert events.delivered_per_s > 0 and events.broker_cpu_us_per_event > 0

    # Nothing is left running: simulators, consumer, broker.
    assert set(multiprocessing.active_children()) <= already
    assert "terminating" in (tmp_path / "broker" / "mosquitto.log").read_text()


def test_boxes_are_spread_one_per_commune_over_the_provinces():
    run = _load()
    places = [run.simbox.place_of(i) for i in range(3300)]
    assert len({commune for _, commune, _ in places}) == 3300
    assert len({device for _, _, device in places}) == 3300
    assert len({province for province, _, _ in places}) == 34
