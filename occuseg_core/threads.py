"""CPU threads of the network: how many, and how idle ones wait.

A robot's CPU is shared with SLAM, planners and drivers. torch's CPU kernels (and spconv's,
which run inside torch's OpenMP thread pool) hand work to OpenMP threads that, by GNU OpenMP's
default, spin for a while after each parallel region waiting for the next. The U-Net runs
hundreds of short regions per scan (a gather, a matrix product and a scatter per kernel offset
of every sparse convolution), so the threads spin between nearly all of them. On an idle
machine spinning is fastest; beside other busy processes the spinning threads take the cores
the working thread needs. Measured on the real scan (2 cores, `occuseg bench --busy-cores`,
2026-12-06), network stage idle / beside 1 / beside 2 busy cores: GNU's default 399 / 1,439 /
5,083 ms (3.6x and 14x), passive waiting (`OMP_WAIT_POLICY=PASSIVE`: idle threads sleep at once)
527 / 579 / 1,065 ms (1.1x and 1.9x), one thread 585 / 848 / 1,792 ms. Passive waiting costs
about a third more on an idle machine and saves 2.5-5x on a busy one, so it is the default. The
policy is read once, when the OpenMP runtime loads with torch, so it must be in the environment
before `import torch`: importing `occuseg_core` sets it unless the user already chose a policy
(set `OMP_WAIT_POLICY=ACTIVE` or `GOMP_SPINCOUNT=1000` for cores of your own; docs/RESULTS.md,
"A busy robot CPU").
"""

from __future__ import annotations

import os
import sys

WAIT_POLICY_VARIABLE = "OMP_WAIT_POLICY"
SPIN_COUNT_VARIABLE = "GOMP_SPINCOUNT"  # GNU's spins before an idle thread sleeps
DEFAULT_WAIT_POLICY = "PASSIVE"


def prefer_passive_waiting() -> bool:
    """Sets OMP_WAIT_POLICY=PASSIVE for the OpenMP runtime torch will load.

    Returns:
        True when the policy in force will be PASSIVE because of this call; False when the user
        set a policy or a spin count (GOMP_SPINCOUNT=1000 keeps an idle machine's speed and
        costs 1.7x beside one busy core: docs/RESULTS.md), or torch (and its OpenMP runtime)
        was imported before occuseg_core.
    """
    chosen = WAIT_POLICY_VARIABLE in os.environ or SPIN_COUNT_VARIABLE in os.environ
    if chosen or "torch" in sys.modules:
        return False
    os.environ[WAIT_POLICY_VARIABLE] = DEFAULT_WAIT_POLICY
    return True


def set_threads(threads: int | None) -> int:
    """Sets how many threads torch's CPU kernels use (None: leave torch's choice, one per core).

    Returns:
        The number of threads in force.

    Raises:
        ValueError: threads < 1.
    """
    import torch

    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1; got {threads}")
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def thread_settings() -> dict[str, object]:
    """What is in force, for benchmark reports: threads and the OpenMP wait policy."""
    import torch

    return {
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get(WAIT_POLICY_VARIABLE, "unset (GNU OpenMP: spin)"),
        "gomp_spincount": os.environ.get(SPIN_COUNT_VARIABLE, "unset"),
    }
