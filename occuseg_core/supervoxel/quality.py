"""How good a supervoxel partition is: overlap with a reference partition and instance purity.

Pure functions over label arrays, used by the tests (agreement with ScanNet's official
segments) and by the benchmark (purity w.r.t. ground-truth instances).
"""

from __future__ import annotations

import numpy as np


def best_match_agreement(labels: np.ndarray, reference: np.ndarray) -> float:
    """Fraction of elements covered when each segment is matched to its best reference segment.

    For each segment of `labels`, count the elements it shares with the reference segment it
    overlaps most, sum over segments and divide by N. 1.0 when `labels` refines `reference`
    (every segment lies inside one reference segment). Example: labels [0, 0, 1, 1] and
    reference [5, 5, 5, 7]: segment 0 -> 5 shares 2, segment 1 -> 5 or 7 shares 1, (2 + 1) / 4
    = 0.75; swapped, reference segment 5 -> 0 shares 2 and 7 -> 1 shares 1, also 0.75.

    Args:
        labels: (N,) integer segment ids.
        reference: (N,) integer segment ids of the same elements.

    Returns:
        The agreement in [0, 1]; 1.0 for N = 0.

    Raises:
        ValueError: shapes differ or are not 1-D integer arrays.
    """
    labels, reference = _validated_pair(labels, reference)
    if labels.size == 0:
        return 1.0
    return float(_best_overlaps(labels, reference).sum()) / labels.size


def supervoxel_purity(
    supervoxel: np.ndarray, instance: np.ndarray, ignore_label: int | None = None
) -> float:
    """Fraction of elements whose supervoxel's majority instance is their own instance.

    Equal to `best_match_agreement(supervoxel, instance)`; with `ignore_label` the elements of
    that instance (e.g. 0 = unannotated) are left out of both the majority vote and the count.
    Example: supervoxels [0, 0, 0, 1], instances [1, 1, 2, 2]: supervoxel 0 is mostly 1 (2 of
    3), supervoxel 1 is all 2, purity = (2 + 1) / 4 = 0.75.

    Args:
        supervoxel: (N,) integer supervoxel ids.
        instance: (N,) integer ground-truth instance ids.
        ignore_label: instance id to leave out, or None.

    Returns:
        The purity in [0, 1]; 1.0 when nothing is counted.
    """
    supervoxel, instance = _validated_pair(supervoxel, instance)
    if ignore_label is not None:
        keep = instance != ignore_label
        supervoxel, instance = supervoxel[keep], instance[keep]
    return best_match_agreement(supervoxel, instance)


def _best_overlaps(labels: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(K,) largest overlap count of each segment of `labels` with any reference segment."""
    _, label_ids = np.unique(labels, return_inverse=True)
    _, reference_ids = np.unique(reference, return_inverse=True)
    label_ids, reference_ids = label_ids.reshape(-1), reference_ids.reshape(-1)
    width = int(reference_ids.max()) + 1
    pairs, counts = np.unique(label_ids * width + reference_ids, return_counts=True)
    best = np.zeros(int(label_ids.max()) + 1, dtype=np.int64)
    np.maximum.at(best, pairs // width, counts)
    return best


def _validated_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"need two (N,) label arrays of equal length; got {a.shape}, {b.shape}")
    for what, values in (("labels", a), ("reference", b)):
        if values.size and not np.issubdtype(values.dtype, np.integer):
            raise ValueError(f"{what} must be integers; got dtype {values.dtype}")
    return a.astype(np.int64, copy=False), b.astype(np.int64, copy=False)
