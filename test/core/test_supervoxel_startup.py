"""A fresh process does not recompile (issue 18, point 4): the mesh verb runs the C union-find
without importing numba, the C kernels agree bit for bit with the numba ones, and numba's
on-disk cache serves a second process (no compilation event)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from test_supervoxel_cli import wavy_mesh

from occuseg_core.io import write_ply
from occuseg_core.supervoxel import felzenszwalb_segment, graph


def _tied_graph(seed: int) -> tuple[int, np.ndarray, np.ndarray]:
    """A random graph whose weights repeat (ties) and include -0.0 and negatives."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    edges = rng.integers(0, n, (int(rng.integers(1, 3 * n)), 2))
    weights = rng.choice(np.array([-0.5, -0.0, 0.0, 0.01, 0.02, 0.3, 1.0], np.float32), len(edges))
    weights = weights + rng.choice([0, 1], len(edges)) * rng.random(len(edges)).astype(np.float32)
    return n, edges, weights.astype(np.float32)


def test_compiled_kernels_are_built_where_a_compiler_is():
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler here: setup.py leaves the optional extension out")
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file():
        pytest.skip("no Python headers (python3-dev) here: setup.py leaves the extension out")
    assert graph.compiled_kernels() is not None, "setup.py did not build _felzenszwalb"


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("min_size", [0, 3, 20])
def test_c_and_numba_kernels_agree_bit_for_bit(seed, min_size):
    if graph.compiled_kernels() is None:
        pytest.skip("the C extension is not built (no compiler): nothing to compare")
    n, edges, weights = _tied_graph(seed)
    k = float(np.random.default_rng(seed).uniform(0.0, 0.5))
    keys = weights + np.float32(0.0)
    bits = keys.view(np.uint32)
    keys = np.where(bits >= np.uint32(0x80000000), ~bits, bits | np.uint32(0x80000000))
    numba_order = graph._radix_argsort_uint32(keys)
    np.testing.assert_array_equal(graph.argsort_weights(weights), numba_order)
    np.testing.assert_array_equal(numba_order, np.argsort(weights + np.float32(0), kind="stable"))
    expected = graph._segment_sorted_edges(
        n, edges.astype(np.int64), weights, numba_order, np.float32(k), min_size
    )
    np.testing.assert_array_equal(felzenszwalb_segment(n, edges, weights, k, min_size), expected)


_MESH_VERB = """
import json, sys
from occuseg_core.cli import main
code = main(["supervoxels", sys.argv[1], "--out", sys.argv[2]])
print(json.dumps({"code": code, "numba": "numba" in sys.modules, "torch": "torch" in sys.modules}))
"""


def test_mesh_verb_imports_neither_numba_nor_torch(tmp_path, rng):
    if graph.compiled_kernels() is None:
        pytest.skip("the C extension is not built (no compiler): the verb falls back to numba")
    ply, out = tmp_path / "mesh.ply", tmp_path / "segs.json"
    write_ply(ply, wavy_mesh(rng))
    run = subprocess.run([sys.executable, "-c", _MESH_VERB, str(ply), str(out)],
                         capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report == {"code": 0, "numba": False, "torch": False}
    assert len(json.loads(out.read_text())["segIndices"]) > 0


_NUMBA_KERNELS = """
import json
import numpy as np
from numba.core import event
from occuseg_core.supervoxel import segment_voxels
rng = np.random.default_rng(0)
coords = np.unique(rng.integers(0, 10, (300, 3)), axis=0).astype(np.int32)
with event.install_recorder("numba:compile") as recorder:
    labels = segment_voxels(coords, rng.random((len(coords), 3)).astype(np.float32), None)
print(json.dumps({"compiled": len(recorder.buffer), "labels": labels.tolist()}))
"""


@pytest.mark.slow
def test_a_second_process_reads_numba_cache(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"))

    def once() -> dict:
        run = subprocess.run([sys.executable, "-c", _NUMBA_KERNELS], capture_output=True,
                             text=True, timeout=300, env=env, check=True)  # fmt: skip
        return json.loads(run.stdout.strip().splitlines()[-1])

    first, second = once(), once()
    assert first["compiled"] > 0  # an empty cache folder: everything compiles
    assert any((tmp_path / "numba").rglob("*.nbi"))
    assert second["compiled"] == 0  # read from the cache
    assert second["labels"] == first["labels"]


def test_a_library_that_does_not_load_falls_back_to_numba(tmp_path, monkeypatch):
    """A stale or foreign `_felzenszwalb` (here: not a library at all) is not fatal."""
    import importlib.machinery

    bogus = tmp_path / "_felzenszwalb.so"
    bogus.write_bytes(b"not an ELF file")
    spec = importlib.machinery.ModuleSpec("occuseg_core.supervoxel._felzenszwalb", None,
                                          origin=str(bogus))  # fmt: skip
    n, edges, weights = _tied_graph(1)
    expected = felzenszwalb_segment(n, edges, weights, 0.1, 3)  # as set up (C or numba)
    monkeypatch.setattr(graph.importlib.util, "find_spec", lambda name: spec)
    graph.compiled_kernels.cache_clear()
    try:
        assert graph.compiled_kernels() is None  # the bad library is refused, not fatal
        np.testing.assert_array_equal(felzenszwalb_segment(n, edges, weights, 0.1, 3), expected)
    finally:
        monkeypatch.undo()
        graph.compiled_kernels.cache_clear()  # the real library again for the other tests
