"""CPU threads of the network: how many, and how idle ones wait.

A robot's CPU is shared with SLAM, planners and drivers. torch's CPU kernels (and spconv's,
which run inside torch's OpenMP thread pool) hand work to OpenMP threads that, by GNU OpenMP's
default, spin for a while after each parallel region waiting for the next. The U-Net runs
about 1,400 short regions per scan (a gather and a matrix product per kernel offset of every
sparse convolution), so spinning between them is what makes two threads fast on an idle
machine; beside other busy processes the spinning (and the thread that waits at the end of
every region for a partner the scheduler preempted) takes the cores the working thread needs.

So the thread count follows the machine (`threads=None`, "auto", the default): before each
network run `network_threads` reads how much of this process's CPUs other processes used since
the previous run (Linux /proc/stat, less this process's own CPU time) and runs the network on
that share of the threads in force (torch's one per core, or fewer if the caller set fewer), at
least one. Idle, that is every core with GNU's spinning, as fast as ever; beside busy processes,
fewer threads, which neither spin against them nor wait for a preempted partner. Load that
starts during a run is seen at the next one. A fixed count (`--threads N`, the nodes' `threads`)
turns this off; OpenMP's wait policy is left as the user set it (`OMP_WAIT_POLICY=PASSIVE`
before `import torch` suits a fixed count on a busy machine). Runs on different counts sum
floats in different orders, so the same scan can come out with scores that differ in the last
digits (rarely, a different merge): fix the count where runs must be bit-reproducible (the
tests do: test/conftest.py). Where /proc/stat cannot be read (not Linux) auto keeps every
thread. Not seen: a container's CPU quota (`--cpus`), and CPUs that a container's virtual
/proc/stat (lxcfs) numbers differently from the process's affinity.

Measured on the real scan (2 cores, network stage, mean of 5 rounds side by side,
`tools/bench_threads.sh`; docs/RESULTS.md "A busy robot CPU"), idle / beside 1 / 2 busy cores:
auto 375 ms / 1.43x / 2.24x; two spinning threads (the default before) 376 ms / 3.0x / 5.6x;
two passive threads 537 ms / 1.12x / 2.10x (each wake-up costs ~0.1 ms here); one thread
594 ms / 1.0x / 1.5x.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

WAIT_POLICY_VARIABLE = "OMP_WAIT_POLICY"
SPIN_COUNT_VARIABLE = "GOMP_SPINCOUNT"  # GNU's spins before an idle thread sleeps
PROC_STAT = "/proc/stat"
MIN_INTERVAL_S = 0.2
"""A shorter interval since the previous reading says too little (/proc/stat counts in ticks of
10 ms, so 0.2 s on 2 CPUs is good to about 0.1 core): the previous choice stands and the
interval keeps growing."""


@dataclass(frozen=True)
class CpuReading:
    """One look at the CPUs: when (s), their busy seconds so far, this process's CPU seconds."""

    wall_s: float
    busy_s: float
    own_s: float


def read_cpu_busy_s(cpus: frozenset[int], path: str = PROC_STAT) -> float | None:
    """Seconds the given CPUs have spent busy (not idle or waiting for I/O) since boot, from the
    per-CPU lines of /proc/stat; None where it cannot be read (not Linux) or names none of them.
    """
    try:
        with open(path, encoding="ascii") as stat:
            lines = stat.read().splitlines()
    except OSError:
        return None
    ticks, found = 0, False
    for line in lines:
        name, _, values = line.partition(" ")
        if not (name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus):
            continue
        # user nice system idle iowait irq softirq steal [guest guest_nice: inside user, nice]
        fields = [int(v) for v in values.split()[:8]]
        ticks += sum(fields) - fields[3] - fields[4]  # steal counts: the hypervisor took it
        found = True
    return ticks / os.sysconf("SC_CLK_TCK") if found else None


class CpuShare:
    """How many of this process's CPUs other processes kept busy between two readings.

    Args:
        cpus: the CPUs to watch (default: this process's affinity).
        read_busy_s: busy seconds of those CPUs (default: `read_cpu_busy_s`).
        clock: wall clock, seconds. own_cpu_s: this process's CPU seconds, all its threads.
    """

    def __init__(
        self,
        cpus: frozenset[int] | None = None,
        read_busy_s: Callable[[frozenset[int]], float | None] = read_cpu_busy_s,
        clock: Callable[[], float] = time.monotonic,
        own_cpu_s: Callable[[], float] = time.process_time,
    ) -> None:
        if cpus is None:  # (no affinity outside Linux: then /proc/stat is missing too)
            affinity = getattr(os, "sched_getaffinity", None)
            cpus = affinity(0) if affinity else range(os.cpu_count() or 1)
        self.cpus = frozenset(cpus)
        self._read_busy_s, self._clock, self._own_cpu_s = read_busy_s, clock, own_cpu_s
        self._last = self._read()

    def _read(self) -> CpuReading | None:
        busy = self._read_busy_s(self.cpus)
        return None if busy is None else CpuReading(self._clock(), busy, self._own_cpu_s())

    def others_cores(self) -> float | None:
        """Cores' worth of these CPUs that other processes used since the previous reading
        (>= 0); None when /proc/stat cannot be read or less than MIN_INTERVAL_S has passed."""
        last = self._last
        now = self._read()
        if now is None or last is None:
            self._last = now
            return None
        elapsed = now.wall_s - last.wall_s
        if elapsed < MIN_INTERVAL_S:
            return None
        self._last = now
        others = (now.busy_s - last.busy_s) - (now.own_s - last.own_s)
        return max(0.0, others / elapsed)


class AdaptiveThreads:
    """The thread count of the next network run: the share of `most` that other processes left
    free (on 2 CPUs of 2 threads, one busy core leaves 1 thread; with hyperthreads, 8 CPUs of 4
    threads, 4 busy CPUs leave 2).

    Args:
        share: what measures the others' use (default: a `CpuShare` of this process's CPUs).
    """

    def __init__(self, share: CpuShare | None = None) -> None:
        self.share = share or CpuShare()
        self._free_fraction = 1.0

    def choose(self, most: int) -> int:
        """Reads the CPUs (the last reading stands while there is no new one) and returns the
        count for the next run out of `most`, the count on an idle machine; at least 1."""
        others = self.share.others_cores()
        if others is not None and self.share.cpus:
            cpus = len(self.share.cpus)
            self._free_fraction = min(1.0, max(0.0, (cpus - others) / cpus))
        return max(1, min(most, math.floor(most * self._free_fraction + 0.5)))


_lock = threading.Lock()
_fixed: int | None = None
_initial: int | None = None  # torch's count before the first fixed one, for auto again
_adaptive: AdaptiveThreads | None = None
_last_run: int | None = None


def set_threads(threads: int | None) -> int:
    """Sets how many threads torch's CPU kernels use; None: follow the machine (`network_threads`
    chooses before every network run, out of the count torch had before any fixed one).

    Returns:
        The number of threads in force now.

    Raises:
        ValueError: threads < 1.
    """
    import torch

    global _fixed, _initial, _adaptive
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1; got {threads}")
    with _lock:
        if threads is not None:
            _initial = torch.get_num_threads() if _initial is None else _initial
            torch.set_num_threads(threads)
        elif _fixed is not None and _initial is not None:
            torch.set_num_threads(_initial)
        _fixed, _adaptive = threads, None
        return torch.get_num_threads()


@contextlib.contextmanager
def network_threads() -> Iterator[int]:
    """Runs the block (a network run on the CPU) on the chosen number of threads, out of the
    count in force in this thread (OpenMP keeps one per thread, so a caller's
    `torch.set_num_threads` caps it and runs in other threads keep theirs), and restores that
    count after. Yields the number."""
    import torch

    global _adaptive, _last_run
    before = torch.get_num_threads()
    with _lock:
        if _fixed is None:
            adaptive = _adaptive = _adaptive or AdaptiveThreads()
            threads = adaptive.choose(before)
        else:
            threads = before
        _last_run = threads
    if threads != before:
        torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        if threads != before:
            torch.set_num_threads(before)


def last_network_threads() -> int | None:
    """The thread count of the last `network_threads` block (None before the first)."""
    return _last_run


def thread_settings() -> dict[str, object]:
    """What is in force, for benchmark reports: threads ("auto" or a fixed count) and the
    OpenMP wait policy."""
    import torch

    return {
        "threads": torch.get_num_threads() if _fixed is not None else "auto",
        "omp_wait_policy": os.environ.get(WAIT_POLICY_VARIABLE, "unset (GNU OpenMP: spin)"),
        "gomp_spincount": os.environ.get(SPIN_COUNT_VARIABLE, "unset"),
    }
