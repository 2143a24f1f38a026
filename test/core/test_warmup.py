"""`warm_up` pays the first scan's extra cost at load time (issue 18, point 3): after it, a
scan imports no module and runs no compilation any more (checked in fresh processes)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_FIRST_SCAN = """
import json, sys
from occuseg_core.data.synthetic import generate_scene
from occuseg_core.inference import Segmenter
from occuseg_core.warmup import warm_up
segmenter = Segmenter.from_checkpoint({checkpoint!r}, device="cpu")
scene = generate_scene(3)
seconds = warm_up(segmenter) if {warm} else 0.0
before = set(sys.modules)
segmenter.segment(scene)
print(json.dumps({{"new_modules": sorted(set(sys.modules) - before), "warm_up_s": seconds}}))
"""


def _first_scan(checkpoint, warm: bool) -> dict:
    code = _FIRST_SCAN.format(checkpoint=str(checkpoint), warm=warm)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True)  # fmt: skip
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_after_warm_up_the_first_scan_loads_nothing(random_checkpoint):
    cold = _first_scan(random_checkpoint, warm=False)
    assert any(name.startswith("numba.core") for name in cold["new_modules"])  # what it costs
    warm = _first_scan(random_checkpoint, warm=True)
    assert warm["new_modules"] == [] and warm["warm_up_s"] > 0
