"""How long a box takes to install and load a large catalogue from its TinyDB store.

Goal (issue 2): loading 2,000 procedures takes under a second here. Reported as measured
figures, and as a ratio to the goal, from one run:

    .venv/bin/python bench/catalogue/load.py [--procedures 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench/understanding"))

from synth_catalogue import generate  # noqa: E402

from hoixa.contract import catalogue as cat  # noqa: E402
from hoixa.device.catalogue_store import CatalogueStore  # noqa: E402
from hoixa.device.matcher import Matcher  # noqa: E402

LOAD_GOAL_S = 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procedures", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    doc = generate(args.procedures, seed=1, base=cat.load_default())
    with tempfile.TemporaryDirectory() as tmp:
        store = CatalogueStore(Path(tmp))
        start = time.perf_counter()
        store.install(doc)
        install_s = time.perf_counter() - start
        size_mb = sum(p.stat().st_size for p in Path(tmp).glob("v*.json")) / 1e6
        loads, builds = [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            loaded = store.load()
            loads.append(time.perf_counter() - start)
            start = time.perf_counter()
            Matcher(loaded)
            builds.append(time.perf_counter() - start)
    assert loaded == doc
    load_s, build_s = statistics.median(loads), statistics.median(builds)
    print(f"procedures:            {len(doc['procedures'])}")
    print(f"store file:            {size_mb:.1f} MB")
    print(f"install (validate+write+fsync): {install_s:.2f} s")
    print(f"load from TinyDB:      {load_s * 1000:.0f} ms (median of {args.repeat})")
    print(f"matcher index build:   {build_s * 1000:.0f} ms")
    print(f"load + index:          {(load_s + build_s) * 1000:.0f} ms")
    print(f"load / goal ({LOAD_GOAL_S:.0f} s):     {load_s / LOAD_GOAL_S:.2f}")
    print(f"(load + index) / goal: {(load_s + build_s) / LOAD_GOAL_S:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
