"""Threads on a shared CPU (issue 18): the network's thread count following the cores other
processes leave free, `--threads`, and the CPU burners of `occuseg bench --busy-cores`."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

from occuseg_core.busy_cores import BusyCores
from occuseg_core.cli import main
from occuseg_core.threads import (
    AdaptiveThreads,
    CpuShare,
    last_network_threads,
    network_threads,
    read_cpu_busy_s,
    set_threads,
    thread_settings,
)


def _fresh_process_policy() -> str:
    code = "import os, occuseg_core, torch; print(os.environ.get('OMP_WAIT_POLICY', 'unset'))"
    environment = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=environment, timeout=120, check=True)  # fmt: skip
    return run.stdout.strip()


def test_importing_occuseg_core_leaves_the_openmp_wait_policy_alone():
    """GNU's spinning keeps an idle machine fast; the thread count, not the policy, adapts."""
    assert _fresh_process_policy() == "unset"


def test_a_process_starts_in_auto_mode():
    """(The tests themselves run on a fixed count: test/conftest.py.)"""
    code = "from occuseg_core.threads import thread_settings as t; print(t()['threads'])"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)  # fmt: skip
    assert run.stdout.strip() == "auto"


def test_set_threads_fixed_and_auto():
    assert set_threads(1) == 1 == torch.get_num_threads()
    assert thread_settings()["threads"] == 1
    with network_threads() as inside:  # a fixed count is used as it is
        assert inside == 1 == torch.get_num_threads() == last_network_threads()
    set_threads(None)
    assert thread_settings()["threads"] == "auto"
    with pytest.raises(ValueError, match="threads must be >= 1"):
        set_threads(0)


def test_read_cpu_busy_s_sums_the_busy_ticks_of_the_given_cpus(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text(
        "cpu  900 0 900 900 0 0 0 0 0 0\n"  # all CPUs together: not read
        "cpu0 100 10 20 500 40 1 2 3 0 0\n"  # busy: 100+10+20+1+2+3 = 136 ticks
        "cpu1 200 0 0 100 0 0 0 0 0 0\n"  # busy: 200
        "cpu2 7 0 0 0 0 0 0 0 0 0\n"
        "intr 12345\n"
    )
    hz = os.sysconf("SC_CLK_TCK")
    assert read_cpu_busy_s(frozenset({0, 1}), str(stat)) == pytest.approx(336 / hz)
    assert read_cpu_busy_s(frozenset({2}), str(stat)) == pytest.approx(7 / hz)
    assert read_cpu_busy_s(frozenset({5}), str(stat)) is None  # names none of them
    assert read_cpu_busy_s(frozenset({0}), str(tmp_path / "missing")) is None


class _FakeCpus:
    """Scripted readings: busy seconds of the CPUs, the wall clock, this process's CPU time."""

    def __init__(self) -> None:
        self.busy, self.wall, self.own = 0.0, 0.0, 0.0

    def advance(self, seconds: float, others_cores: float, own_cores: float) -> None:
        self.wall += seconds
        self.own += own_cores * seconds
        self.busy += (others_cores + own_cores) * seconds

    def share(self, cpus=frozenset({0, 1})) -> CpuShare:
        return CpuShare(cpus, lambda _: self.busy, lambda: self.wall, lambda: self.own)


def test_cpu_share_counts_only_other_processes():
    cpus = _FakeCpus()
    share = cpus.share()
    cpus.advance(2.0, others_cores=1.0, own_cores=0.8)
    assert share.others_cores() == pytest.approx(1.0)
    cpus.advance(0.5, others_cores=0.0, own_cores=2.0)  # only this process: nobody else
    assert share.others_cores() == pytest.approx(0.0)
    cpus.advance(0.1, others_cores=2.0, own_cores=0.0)  # too short to say: no answer ...
    assert share.others_cores() is None
    cpus.advance(0.9, others_cores=2.0, own_cores=0.0)  # ... and the interval keeps growing
    assert share.others_cores() == pytest.approx(2.0)


def test_adaptive_threads_take_the_share_others_left_free():
    cpus = _FakeCpus()
    adaptive = AdaptiveThreads(share=cpus.share())
    assert adaptive.choose(2) == 2  # nothing measured yet: every core
    expected = {0.0: 2, 0.3: 2, 0.6: 1, 1.0: 1, 2.0: 1}  # free cores 2, 1.7, 1.4, 1, 0
    for others, threads in expected.items():
        cpus.advance(1.0, others_cores=others, own_cores=1.0)
        assert adaptive.choose(2) == threads, others
    assert adaptive.choose(2) == 1  # no new reading: the last one stands
    hyperthreads = _FakeCpus()  # 8 logical CPUs, torch's 4 threads (one per physical core)
    adaptive = AdaptiveThreads(share=hyperthreads.share(frozenset(range(8))))
    hyperthreads.advance(1.0, others_cores=4.0, own_cores=1.0)
    assert adaptive.choose(4) == 2  # half the CPUs free: half the threads
    hyperthreads.advance(1.0, others_cores=3.2, own_cores=1.0)
    assert adaptive.choose(4) == 2 and adaptive.choose(6) == 4  # 60% of 4 or 6
    hyperthreads.advance(1.0, others_cores=0.0, own_cores=1.0)
    assert adaptive.choose(4) == 4  # never more than asked
    unreadable = AdaptiveThreads(share=CpuShare(frozenset({0}), lambda _: None))
    assert unreadable.choose(2) == 2


@pytest.fixture
def fake_cpus(monkeypatch) -> _FakeCpus:
    """Auto mode out of torch's 2 threads, reading scripted CPUs of 2 cores."""
    import occuseg_core.threads as threads_module

    torch.set_num_threads(2)
    set_threads(None)
    cpus = _FakeCpus()
    monkeypatch.setattr(threads_module, "_adaptive", AdaptiveThreads(share=cpus.share()))
    return cpus


def test_network_threads_runs_the_block_on_the_free_cores_then_restores(fake_cpus):
    fake_cpus.advance(1.0, others_cores=1.0, own_cores=0.5)
    with network_threads() as inside:
        assert inside == 1 == torch.get_num_threads()
    assert torch.get_num_threads() == 2 and last_network_threads() == 1
    fake_cpus.advance(1.0, others_cores=0.0, own_cores=1.0)
    with network_threads() as inside:
        assert inside == 2 == torch.get_num_threads()
    torch.set_num_threads(1)  # the caller's own count caps the choice
    fake_cpus.advance(1.0, others_cores=0.0, own_cores=1.0)
    with network_threads() as inside:
        assert inside == 1
    assert torch.get_num_threads() == 1


def test_auto_again_after_a_fixed_count_restores_the_count_before_it():
    torch.set_num_threads(2)
    set_threads(None)
    assert set_threads(1) == 1
    assert set_threads(None) == 2 == torch.get_num_threads()


def test_a_run_in_another_thread_leaves_this_threads_count_alone(fake_cpus):
    """The ROS nodes segment in a worker thread; OpenMP keeps a thread count per thread."""
    fake_cpus.advance(1.0, others_cores=1.0, own_cores=0.5)
    entered, release, seen = threading.Event(), threading.Event(), []

    def worker_run() -> None:
        torch.set_num_threads(2)
        with network_threads() as inside:
            seen.append((inside, torch.get_num_threads()))
            entered.set()
            release.wait(10.0)
        seen.append(torch.get_num_threads())

    worker = threading.Thread(target=worker_run)
    worker.start()
    assert entered.wait(10.0)
    assert torch.get_num_threads() == 2  # meanwhile this thread keeps its own count
    release.set()
    worker.join(10.0)
    assert seen == [(1, 1), 2] and torch.get_num_threads() == 2


def test_the_segmenter_runs_its_network_on_the_chosen_threads(fake_cpus):
    """The library applies it (the CLI and the nodes call the same `predict_voxels`)."""
    from occuseg_core import Scene
    from occuseg_core.inference import Segmenter
    from occuseg_core.testing import random_model

    model, config = random_model()
    segmenter = Segmenter(model=model, config=config, device=torch.device("cpu"))
    seen = []
    segmenter.model.register_forward_pre_hook(lambda *_: seen.append(torch.get_num_threads()))
    rng = np.random.default_rng(0)
    xyz = rng.uniform(0.0, 1.0, (2000, 3)).astype(np.float32)
    scene = Scene(xyz=xyz, colors=np.full_like(xyz, 0.5), name="box")
    fake_cpus.advance(1.0, others_cores=1.5, own_cores=0.5)
    segmenter.segment(scene)
    fake_cpus.advance(1.0, others_cores=0.1, own_cores=1.0)
    segmenter.segment(scene)
    assert seen == [1, 2] and torch.get_num_threads() == 2


@pytest.mark.skipif(read_cpu_busy_s(frozenset(os.sched_getaffinity(0))) is None,
                    reason="needs Linux /proc/stat")  # fmt: skip
def test_cpu_share_sees_a_real_busy_core():
    share = CpuShare()
    with BusyCores(1):
        time.sleep(1.0)
        others = share.others_cores()
    assert others is not None and others > 0.5  # one burner; other load only adds


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
    assert report["scenes"][0]["network_threads"] == [1]
    busy = report["busy"]
    assert busy["cores"] == 1 and [r["scene"] for r in busy["scenes"]] == ["box"]
    for stage in STAGES:
        expected = busy[f"mean_{stage}_s"] / report[f"mean_{stage}_s"]
        assert busy["ratio"][stage] == pytest.approx(expected)
    assert "busy / idle: voxelize" in capsys.readouterr().out
