import json
import subprocess
import sys

import pytest

from conftest import make_catalogue, make_procedure
from hoixa.contract.catalogue import CatalogueError
from hoixa.device.catalogue_store import (
    CatalogueStore,
    StaleCatalogueError,
    StoreError,
    open_catalogue,
)


def catalogue_v(version: int, n: int = 3) -> dict:
    procs = [make_procedure(f"1.{i:06d}", f"Thủ tục số {i} phiên bản {version}") for i in range(n)]
    return make_catalogue(procs, version=version)


def test_install_then_load_round_trips(tmp_path):
    store = CatalogueStore(tmp_path)
    doc = catalogue_v(1)
    pointer = store.install(doc)
    assert pointer.version == 1
    assert store.load() == doc


def test_referrals_are_stored_and_loaded_with_the_procedures(tmp_path):
    store = CatalogueStore(tmp_path)
    doc = catalogue_v(1)
    doc["referrals"] = [
        {"id": "ref.ly-hon", "name": "ly hôn", "aliases": ["ly dị"], "where": "tòa án khu vực"}
    ]
    store.install(doc)
    assert store.load() == doc


def test_older_or_equal_version_is_refused_and_current_kept(tmp_path):
    store = CatalogueStore(tmp_path)
    store.install(catalogue_v(5))
    for version in (5, 4):
        with pytest.raises(StaleCatalogueError):
            store.install(catalogue_v(version))
    assert store.load()["version"] == 5


def test_invalid_catalogue_is_refused_and_current_kept(tmp_path):
    store = CatalogueStore(tmp_path)
    store.install(catalogue_v(1))
    bad = catalogue_v(2)
    del bad["procedures"][1]["steps"]
    with pytest.raises(CatalogueError, match="steps"):
        store.install(bad)
    assert store.load() == catalogue_v(1)


def test_previous_version_is_kept_and_rollback_restores_it(tmp_path):
    store = CatalogueStore(tmp_path)
    store.install(catalogue_v(1))
    store.install(catalogue_v(2))
    store.install(catalogue_v(3))
    assert store.previous().version == 2
    assert len(list(tmp_path.glob("v*.json"))) == 2  # current and previous only
    store.rollback()
    assert store.load()["version"] == 2
    assert store.previous().version == 3


def test_damaged_current_file_falls_back_to_previous(tmp_path):
    store = CatalogueStore(tmp_path)
    store.install(catalogue_v(1))
    store.install(catalogue_v(2))
    path = tmp_path / store.current().file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert store.load()["version"] == 1


def test_empty_store_gives_the_shipped_default(tmp_path):
    with pytest.raises(StoreError):
        CatalogueStore(tmp_path / "catalogue").load()
    catalogue, origin = open_catalogue(tmp_path)
    assert origin == "default" and len(catalogue["procedures"]) >= 30


_CRASHING_INSTALL = """
import json, os, sys
from hoixa.device.catalogue_store import CatalogueStore
step_to_die = sys.argv[2]
def fault(step):
    if step == step_to_die:
        os._exit(9)  # power cut: no cleanup, no finally blocks
store = CatalogueStore(sys.argv[1], fault=fault)
store.install(json.loads(sys.stdin.read()))
"""


@pytest.mark.parametrize(
    ("step", "expected_version"),
    [("written", 1), ("previous_saved", 1), ("swapped", 2)],
)
def test_power_cut_during_install_leaves_one_complete_catalogue(tmp_path, step, expected_version):
    store = CatalogueStore(tmp_path)
    store.install(catalogue_v(1, n=50))
    new = catalogue_v(2, n=60)
    proc = subprocess.run(
        [sys.executable, "-c", _CRASHING_INSTALL, str(tmp_path), step],
        input=json.dumps(new, ensure_ascii=False),
        text=True,
        capture_output=True,
    )
    assert proc.returncode == 9, proc.stderr
    loaded = store.load()
    assert loaded == (catalogue_v(1, n=50) if expected_version == 1 else new)
    # The next install after the crash works and cleans up what the crash left behind.
    store.install(catalogue_v(3))
    assert store.load()["version"] == 3
    assert not list(tmp_path.glob("*.tmp"))


def test_leftover_temporary_files_do_not_disturb_loading(tmp_path):
    store = CatalogueStore(tmp_path)
    store.install(catalogue_v(1))
    (tmp_path / "v00000002-deadbeef.json.tmp").write_text('{"half": ')
    (tmp_path / "CURRENT.tmp").write_text("{")
    assert store.load()["version"] == 1
