"""Training metrics: one CSV row per epoch, and TensorBoard scalars per step and per epoch.

A resumed run appends to the same CSV; when a row brings new columns (validation metrics that
start at a later epoch) the file is rewritten with the union of the columns, empty where unknown.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from occuseg_core.atomic import atomic_destination


class MetricsLog:
    """Writes `metrics.csv` and `tensorboard/` in a run directory.

    Args:
        run_dir: the run directory (must exist).
        tensorboard: also write TensorBoard event files (skipped if tensorboard is missing).
        enabled: False writes nothing (the DDP ranks other than 0).
    """

    def __init__(self, run_dir: Path, *, tensorboard: bool = True, enabled: bool = True) -> None:
        self.csv_path = Path(run_dir) / "metrics.csv"
        self.enabled = enabled
        self.writer = None
        if tensorboard and enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                SummaryWriter = None
            if SummaryWriter is not None:
                self.writer = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))
        self._columns = None
        if self.csv_path.is_file() and self.csv_path.stat().st_size:
            with open(self.csv_path, newline="") as f:
                self._columns = next(csv.reader(f), None)

    def step(self, step: int, values: dict[str, float]) -> None:
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(f"step/{name}", value, step)

    def epoch(self, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        if self.writer is not None:
            for name, value in values.items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    self.writer.add_scalar(f"epoch/{name}", value, step)
            self.writer.flush()
        if self._columns is None or not set(values) <= set(self._columns):
            self._rewrite_with_columns(list(dict.fromkeys([*(self._columns or []), *values])))
        with open(self.csv_path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=self._columns).writerow(values)

    def _rewrite_with_columns(self, columns: list[str]) -> None:
        rows = []
        if self.csv_path.is_file():
            with open(self.csv_path, newline="") as f:
                rows = list(csv.DictReader(f))
        with atomic_destination(self.csv_path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
        self._columns = columns

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def __enter__(self) -> MetricsLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
