"""Paying the first scan's extra cost at load time.

The first `Segmenter.segment` of a process took 1.5-2.4x a steady call on the real scan (944 ms
against 555-605 ms here, 2026-12-06; up to 18x on a busy machine, issue 18). Profiled, the extra
is (1) numba: the first call of a cached compiled function imports numba's typing machinery
(about 200 modules, 0.37 s; the occupancy density's neighbour counts are the first numba code a
scan meets), and (2) torch and spconv kernels and buffers used for the first time. Neither
depends on the scan's size: one run on a small box of random points pays both (the real scan's
first call then took 609 ms). `occuseg segment` and the ROS nodes (`warmup` parameter) run it
right after loading the model; `occuseg bench` and `demo` warm up on their own scan.
"""

from __future__ import annotations

import time

import numpy as np

WARM_UP_POINTS = 4000


def warm_up(segmenter) -> float:
    """Segments a 1 m box of random grey points once; returns the seconds it took."""
    from occuseg_core.types import Scene

    rng = np.random.default_rng(0)
    xyz = rng.uniform(0.0, 1.0, size=(WARM_UP_POINTS, 3)).astype(np.float32)
    start = time.perf_counter()
    segmenter.segment(Scene(xyz=xyz, colors=np.full_like(xyz, 0.5), name="warmup"))
    return time.perf_counter() - start
