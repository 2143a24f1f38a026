"""Counters and latencies of a segmentation node, and their /diagnostics message.

`PipelineStats` is plain Python (thread-safe: the subscription callback and the worker both
update it); `to_diagnostic_status` turns a snapshot into a DiagnosticStatus following
diagnostic_updater's conventions ("<node>: <task>", hardware_id "none", steady rate).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue


class PipelineStats:
    """What happened to the clouds a node received.

    Args:
        rate_window: number of recent arrivals the input rate is computed over.
        clock: seconds, monotonic (injectable for tests).
    """

    def __init__(self, rate_window: int = 20, clock=time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._arrivals: deque[float] = deque(maxlen=rate_window)
        self.received = 0
        self.processed = 0
        self.dropped = 0
        self.rejected: Counter[str] = Counter()
        self.points_out_of_range = 0
        self.clouds_out_of_range = 0
        self.last_instances = 0
        self.last_points = 0
        self.last_error = ""
        self.latency_last_ms: dict[str, float] = {}
        self.latency_max_ms: dict[str, float] = {}
        self._latency_sum_ms: Counter[str] = Counter()

    def on_received(self) -> None:
        with self._lock:
            self.received += 1
            self._arrivals.append(self._clock())

    def on_dropped(self) -> None:
        with self._lock:
            self.dropped += 1

    def on_rejected(self, reason: str, message: str) -> None:
        with self._lock:
            self.rejected[reason] += 1
            self.last_error = f"{reason}: {message}"

    def on_out_of_range(self, points: int) -> None:
        """A cloud of which `points` finite points lay beyond max_range_m (and were dropped)."""
        with self._lock:
            self.points_out_of_range += points
            self.clouds_out_of_range += 1

    def on_processed(self, timings_s: dict[str, float], instances: int, points: int) -> None:
        with self._lock:
            self.processed += 1
            self.last_instances, self.last_points = instances, points
            for stage, seconds in timings_s.items():
                ms = 1e3 * seconds
                self.latency_last_ms[stage] = ms
                self.latency_max_ms[stage] = max(ms, self.latency_max_ms.get(stage, 0.0))
                self._latency_sum_ms[stage] += ms

    def input_rate_hz(self) -> float:
        """Arrival rate over the recent window; 0 once no cloud came for 3 periods."""
        with self._lock:
            if len(self._arrivals) < 2:
                return 0.0
            span = self._arrivals[-1] - self._arrivals[0]
            period = span / (len(self._arrivals) - 1)
            if span <= 0 or self._clock() - self._arrivals[-1] > 3 * period:
                return 0.0
            return 1.0 / period

    def seconds_since_input(self) -> float | None:
        with self._lock:
            return self._clock() - self._arrivals[-1] if self._arrivals else None

    def snapshot(self) -> dict[str, str]:
        """Every value as a string, in a fixed order (the DiagnosticStatus values)."""
        rate = self.input_rate_hz()
        with self._lock:
            values = {
                "input rate (Hz)": f"{rate:.2f}",
                "clouds received": str(self.received),
                "clouds processed": str(self.processed),
                "clouds dropped (newer arrived)": str(self.dropped),
                "clouds rejected": str(sum(self.rejected.values())),
                "clouds with points beyond max_range_m": str(self.clouds_out_of_range),
                "points dropped beyond max_range_m": str(self.points_out_of_range),
                "instances in last result": str(self.last_instances),
                "points in last result": str(self.last_points),
            }
            for reason in sorted(self.rejected):
                values[f"rejected: {reason}"] = str(self.rejected[reason])
            for stage, ms in self.latency_last_ms.items():
                mean = self._latency_sum_ms[stage] / max(self.processed, 1)
                values[f"latency {stage} (ms) last/mean/max"] = (
                    f"{ms:.1f}/{mean:.1f}/{self.latency_max_ms[stage]:.1f}"
                )
            if self.last_error:
                values["last rejection"] = self.last_error
        return values


def to_diagnostic_status(name: str, stats: PipelineStats, *, stale_after_s: float = 10.0
                         ) -> DiagnosticStatus:  # fmt: skip
    """OK while clouds flow; WARN when clouds were rejected or dropped since start, or none
    arrived for `stale_after_s`."""
    values = stats.snapshot()
    since = stats.seconds_since_input()
    level, message = DiagnosticStatus.OK, "segmenting"
    if since is None:
        level, message = DiagnosticStatus.WARN, "no cloud received yet"
    elif since > stale_after_s:
        level, message = DiagnosticStatus.WARN, f"no cloud for {since:.0f} s"
    elif values["clouds rejected"] != "0":
        level, message = DiagnosticStatus.WARN, f"{values['clouds rejected']} clouds rejected"
    return DiagnosticStatus(
        level=level, name=f"{name}: segmentation", message=message, hardware_id="none",
        values=[KeyValue(key=k, value=v) for k, v in values.items()],
    )  # fmt: skip
