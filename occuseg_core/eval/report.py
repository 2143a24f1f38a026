"""Formatting shared by the metric results: Markdown tables, JSON with NaN as null, the paper's
short class names, and atomic text writes. No metric is computed here."""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from occuseg_core.atomic import atomic_destination

SHORT_CLASS_NAMES: dict[str, str] = {
    "bathtub": "bath",
    "bed": "bed",
    "bookshelf": "bkshf",
    "cabinet": "cab",
    "chair": "chair",
    "counter": "cntr",
    "curtain": "curt",
    "desk": "desk",
    "door": "door",
    "otherfurniture": "ofurn",
    "picture": "pic",
    "refrigerator": "fridg",
    "shower curtain": "showr",
    "sink": "sink",
    "sofa": "sofa",
    "table": "tabl",
    "toilet": "toil",
    "window": "wind",
    "television": "tv",
}
"""Column headers of the paper's Tables 1 and 4; other names are printed in full."""


def short_class_name(name: str) -> str:
    """The paper's column header for a class name (the name itself when it has none)."""
    return SHORT_CLASS_NAMES.get(name, name)


def nanmean(values: np.ndarray) -> float:
    """Mean over the non-NaN entries; NaN (without a warning) when there are none."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmean(values)) if values.size else float("nan")


def json_float(value: float) -> float | None:
    """A float for JSON: NaN/inf become None (JSON has no NaN)."""
    value = float(value)
    return value if math.isfinite(value) else None


def percent(value: float) -> str:
    """A metric in [0, 1] as a percentage with one decimal, as in the paper; NaN as '-'."""
    value = float(value)
    return f"{100.0 * value:.1f}" if math.isfinite(value) else "-"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub Markdown table; the first column left-aligned, the others right-aligned."""
    align = [":--"] + ["--:"] * (len(header) - 1)
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(str(c) for c in line) + " |" for line in lines)


def dumps(data: dict) -> str:
    """Indented JSON text (strict: no NaN)."""
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Writes `data` to `path` through a temporary file and a rename (no partial file).

    Args:
        path: destination; its folder must exist.
        data: file content.

    Returns:
        The destination path.
    """
    path = Path(path)
    with atomic_destination(path) as tmp:
        tmp.write_bytes(data)
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Writes UTF-8 `text` atomically (see `write_bytes_atomic`)."""
    return write_bytes_atomic(path, text.encode("utf-8"))
