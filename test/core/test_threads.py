"""Threads on a shared CPU (issue 18): the passive OpenMP wait policy set before torch loads,
`--threads`, and the CPU burners of `occuseg bench --busy-cores`."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from occuseg_core.busy_cores import BusyCores
from occuseg_core.cli import main
from occuseg_core.threads import set_threads

_POLICY = "import os, sys; {first}; print(os.environ.get('OMP_WAIT_POLICY', 'unset'))"


def _policy_in_fresh_process(first: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | env
    code = _POLICY.format(first=first)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=environment, timeout=120, check=True)  # fmt: skip
    return run.stdout.strip()


def test_importing_occuseg_core_makes_idle_openmp_threads_wait_passively():
    assert _policy_in_fresh_process("import occuseg_core; import torch") == "PASSIVE"


def test_a_policy_the_user_chose_is_kept():
    first = "import occuseg_core; import torch"
    assert _policy_in_fresh_process(first, OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"
    # A spin count is a choice too: PASSIVE would override it (GNU spins 0 when passive).
    assert _policy_in_fresh_process(first, GOMP_SPINCOUNT="1000") == "unset"


def test_too_late_once_torch_is_loaded_so_nothing_is_claimed():
    """The OpenMP runtime read the environment when torch loaded: setting it then would lie."""
    first = "import torch; from occuseg_core.threads import prefer_passive_waiting as p; p()"
    assert _policy_in_fresh_process(first) == "unset"


def test_set_threads():
    before = torch.get_num_threads()
    try:
        assert set_threads(1) == 1 == torch.get_num_threads()
        assert set_threads(None) == 1
        with pytest.raises(ValueError, match="threads must be >= 1"):
            set_threads(0)
    finally:
        torch.set_num_threads(before)


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def test_busy_cores_burn_cpu_while_the_block_runs_and_stop_after_it():
    before = _children_cpu_s()
    with BusyCores(1) as busy:
        time.sleep(0.8)
        assert len(busy.processes) == 1 and busy.processes[0].is_alive()
        process = busy.processes[0]
    assert not process.is_alive()
    assert _children_cpu_s() - before > 0.2  # a core for 0.8 s, shared with this machine's load


def test_busy_cores_stop_by_themselves():
    busy = BusyCores(1, max_seconds=0.3).__enter__()
    process = busy.processes[0]
    process.join(timeout=10.0)
    assert not process.is_alive()
    busy.__exit__(None, None, None)
    with pytest.raises(ValueError):
        BusyCores(-1)


@pytest.mark.slow
def test_bench_reports_busy_to_idle_ratios_and_threads(tmp_path, capsys):
    from occuseg_core import Scene
    from occuseg_core.commands.bench import STAGES
    from occuseg_core.io import write_scene

    rng = np.random.default_rng(0)
    xyz = rng.uniform(0.0, 2.0, (3000, 3)).astype(np.float32)
    write_scene(Scene(xyz=xyz, colors=np.full_like(xyz, 0.5), name="box"), tmp_path / "box.ply")
    before = torch.get_num_threads()
    try:
        args = ["--random-init", "--repeat", "1", "--threads", "1", "--busy-cores", "1"]
        out = str(tmp_path / "b.json")
        code = main(["bench", str(tmp_path / "box.ply"), *args, "--json", out])
    finally:
        torch.set_num_threads(before)
    assert code == 0
    report = json.loads((tmp_path / "b.json").read_text())
    assert report["threads"] == 1 and report["omp_wait_policy"]
    busy = report["busy"]
    assert busy["cores"] == 1 and [r["scene"] for r in busy["scenes"]] == ["box"]
    for stage in STAGES:
        expected = busy[f"mean_{stage}_s"] / report[f"mean_{stage}_s"]
        assert busy["ratio"][stage] == pytest.approx(expected)
    assert "busy / idle: voxelize" in capsys.readouterr().out
