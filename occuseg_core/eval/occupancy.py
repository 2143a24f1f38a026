"""Occupancy prediction quality: the relative error R_c of paper eq. 11 and its CDF (Fig. 4).

For instance c with N_c voxels and per-voxel predicted log-occupancy o_i,
R_c = |N_c - exp(mean_i o_i)| / N_c. The paper reports that R_c < 0.3 for more than 68% of the
ScanNet validation instances.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from occuseg_core.errors import OccusegError

FIG4_THRESHOLD = 0.3
"""The relative error the paper quotes the fraction of instances below."""


def occupancy_relative_errors(instance_ids: np.ndarray, log_occupancy: np.ndarray) -> np.ndarray:
    """Relative occupancy error R_c of every instance (paper eq. 11).

    Args:
        instance_ids: (V,) int instance id of each voxel; ids <= 0 (-1 or 0) mean none.
        log_occupancy: (V,) float predicted o_i = log of the voxel's instance size.

    Returns:
        (C,) float64 R_c for the C distinct positive ids in ascending id order; (0,) if none.

    Raises:
        OccusegError: shapes differ, ids are not integers, or o has NaN/inf on instance voxels.
    """
    ids = np.asarray(instance_ids)
    occ = np.asarray(log_occupancy, dtype=np.float64)
    if ids.ndim != 1 or occ.shape != ids.shape:
        raise OccusegError(
            f"instance_ids and log_occupancy must be (V,) of one length; got {ids.shape} and"
            f" {occ.shape}"
        )
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise OccusegError(f"instance_ids must be integers; got dtype {ids.dtype}")
    inside = ids > 0
    if not np.all(np.isfinite(occ[inside])):
        raise OccusegError("log_occupancy has NaN or inf on instance voxels")
    _, which, sizes = np.unique(ids[inside], return_inverse=True, return_counts=True)
    mean_log = np.bincount(which, weights=occ[inside], minlength=sizes.size) / np.maximum(sizes, 1)
    return np.abs(sizes - np.exp(mean_log)) / sizes


def fraction_below(errors: np.ndarray, threshold: float = FIG4_THRESHOLD) -> float:
    """Fraction of instances with R_c < threshold (NaN for no instance).

    Args:
        errors: (C,) relative errors.
        threshold: 0.3 in the paper.
    """
    errors = np.asarray(errors, dtype=np.float64)
    return float(np.mean(errors < threshold)) if errors.size else float("nan")


def plot_occupancy_cdf(
    errors: np.ndarray, path: str | os.PathLike, threshold: float = FIG4_THRESHOLD
) -> Path:
    """Writes the CDF of R_c as a PNG, marking the fraction below `threshold` (paper Fig. 4).

    Uses matplotlib's Agg canvas directly (no pyplot state, no display needed) and writes
    through a temporary file, so no partial PNG is left on error.

    Args:
        errors: (C,) relative errors R_c.
        path: output .png; its folder must exist.
        threshold: the marked error (0.3).

    Returns:
        The written path.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from occuseg_core.eval.report import write_bytes_atomic

    errors = np.sort(np.asarray(errors, dtype=np.float64))
    fig = Figure(figsize=(5.0, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if errors.size:
        cdf = np.arange(1, errors.size + 1) / errors.size
        ax.step(np.concatenate([[0.0], errors]), np.concatenate([[0.0], cdf]), where="post")
        frac = fraction_below(errors, threshold)
        ax.axvline(threshold, color="tab:red", linestyle="--", linewidth=1.0)
        ax.axhline(frac, color="tab:red", linestyle=":", linewidth=1.0)
        ax.annotate(
            f"{100 * frac:.1f}% below {threshold:g}",
            (threshold, frac),
            xytext=(6, -14),
            textcoords="offset points",
            color="tab:red",
        )
        ax.set_xlim(0.0, max(1.0, float(np.quantile(errors, 0.98))))
    else:
        ax.text(0.5, 0.5, "no instances", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("relative occupancy error $R_c$")
    ax.set_ylabel("fraction of instances")
    ax.set_title(f"Occupancy prediction error CDF ({errors.size} instances)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return write_bytes_atomic(path, buffer.getvalue())
