"""CPU burners for benchmarks: what a robot's busy computer does to our timings.

`BusyCores(n)` starts n processes that each keep one core busy with a plain Python loop until
the block ends. They stop themselves after `max_seconds` or when their parent is gone, so a
crashed or killed benchmark never leaves them running.
"""

from __future__ import annotations

import multiprocessing
import os
import time

CHECK_EVERY = 200_000
"""Loop iterations between two looks at the stop event (a few milliseconds of work)."""


def _burn(stop, started, max_seconds: float, parent: int) -> None:
    started.release()
    deadline = time.monotonic() + max_seconds
    while not stop.is_set() and time.monotonic() < deadline and os.getppid() == parent:
        for _ in range(CHECK_EVERY):
            pass


class BusyCores:
    """Context manager: `count` processes each spinning one core while the block runs.

    Args:
        count: how many burners (0: none).
        max_seconds: a burner stops by itself after this long.

    Raises:
        ValueError: count < 0 or max_seconds <= 0.
    """

    def __init__(self, count: int, max_seconds: float = 900.0) -> None:
        if count < 0:
            raise ValueError(f"count must be >= 0; got {count}")
        if max_seconds <= 0:
            raise ValueError(f"max_seconds must be > 0; got {max_seconds}")
        self.count, self.max_seconds = count, max_seconds
        self.processes: list = []
        # fork: the burners only run the loop above, no torch or OpenMP work in the child
        self._context = multiprocessing.get_context("fork")
        self._stop = self._context.Event()

    def __enter__(self) -> BusyCores:
        started = self._context.Semaphore(0)
        for _ in range(self.count):
            process = self._context.Process(
                target=_burn,
                args=(self._stop, started, self.max_seconds, os.getpid()),
                daemon=True,
            )
            process.start()
            self.processes.append(process)
        for _ in range(self.count):
            started.acquire(timeout=10.0)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for process in self.processes:
            process.join(timeout=5.0)
            if process.is_alive():
                process.terminate()
                process.join()
        self.processes.clear()
