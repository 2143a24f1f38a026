"""Semantic segmentation mIoU from a confusion matrix, as ScanNet's `evaluate_semantic_label.py`.

Points whose ground truth is not an evaluated class (unannotated, IGNORE_INDEX, any other id)
are left out. A prediction outside the evaluated classes lands in an extra "other" column: it
is a false negative of the true class and a false positive of no class. IoU_c = TP / (TP + FP +
FN), NaN for a class that never occurs in either the ground truth or the predictions of
evaluated points; mIoU is the NaN-mean over classes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from occuseg_core.classes import ClassTable
from occuseg_core.errors import OccusegError
from occuseg_core.eval import report


def _class_index(labels: np.ndarray, class_ids: np.ndarray, missing: int) -> np.ndarray:
    """(N,) position of each label in class_ids, `missing` where it is not there."""
    order = np.argsort(class_ids)
    pos = np.searchsorted(class_ids, labels, sorter=order)
    pos = np.minimum(pos, class_ids.size - 1)
    found = class_ids[order[pos]] == labels
    return np.where(found, order[pos], missing)


def semantic_confusion(
    gt_labels: np.ndarray, pred_labels: np.ndarray, class_ids: Sequence[int]
) -> np.ndarray:
    """Confusion counts of one scene.

    Args:
        gt_labels: (N,) int ground-truth class ids (dataset or train ids).
        pred_labels: (N,) int predicted class ids, same id space.
        class_ids: (C,) evaluated class ids.

    Returns:
        (C, C + 1) int64; row = ground-truth class, column = predicted class, last column =
        prediction outside `class_ids`. Points whose ground truth is not evaluated are dropped.

    Raises:
        OccusegError: shapes differ or class ids repeat.
    """
    gt = np.asarray(gt_labels).astype(np.int64).ravel()
    pred = np.asarray(pred_labels).astype(np.int64).ravel()
    if np.shape(gt_labels) != np.shape(pred_labels):
        raise OccusegError(
            f"ground truth and prediction differ in shape: {np.shape(gt_labels)} vs"
            f" {np.shape(pred_labels)}"
        )
    ids = np.asarray(class_ids, dtype=np.int64)
    if ids.size == 0 or np.unique(ids).size != ids.size:
        raise OccusegError("class_ids must be non-empty and distinct")
    c = ids.size
    rows = _class_index(gt, ids, -1)
    keep = rows >= 0
    cols = _class_index(pred[keep], ids, c)
    counts = np.bincount(rows[keep] * (c + 1) + cols, minlength=c * (c + 1))
    return counts.reshape(c, c + 1).astype(np.int64)


def class_iou(confusion: np.ndarray) -> np.ndarray:
    """(C,) float64 IoU per class from a (C, C + 1) confusion matrix; NaN where TP+FP+FN = 0."""
    confusion = np.asarray(confusion, dtype=np.int64)
    tp = np.diag(confusion[:, :-1])
    fn = confusion.sum(axis=1) - tp
    fp = confusion[:, :-1].sum(axis=0) - tp
    denom = tp + fp + fn
    return np.divide(tp, denom, out=np.full(tp.shape, np.nan), where=denom > 0)


@dataclass(frozen=True, eq=False)
class SemanticResult:
    """Per-class IoU and mIoU of a semantic segmentation.

    Args:
        class_ids: (C,) evaluated class ids.
        class_names: (C,) their names.
        confusion: (C, C + 1) int64 summed over scenes (see `semantic_confusion`).
    """

    class_ids: tuple[int, ...]
    class_names: tuple[str, ...]
    confusion: np.ndarray

    @property
    def iou(self) -> np.ndarray:
        """(C,) IoU per class, NaN for a class absent from gt and predictions."""
        return class_iou(self.confusion)

    @property
    def mean_iou(self) -> float:
        """mIoU: NaN-mean of the per-class IoU."""
        return report.nanmean(self.iou)

    @property
    def accuracy(self) -> float:
        """Overall point accuracy on evaluated points (NaN without any)."""
        total = self.confusion.sum()
        return float(np.trace(self.confusion[:, :-1]) / total) if total else float("nan")

    def to_dict(self) -> dict:
        """JSON-ready dict; NaN becomes None."""
        return {
            "metric": "semantic_iou",
            "mean_iou": report.json_float(self.mean_iou),
            "accuracy": report.json_float(self.accuracy),
            "classes": {
                name: {"id": int(cid), "iou": report.json_float(v)}
                for name, cid, v in zip(self.class_names, self.class_ids, self.iou, strict=True)
            },
        }

    def to_json(self) -> str:
        """`to_dict()` as indented JSON text."""
        return report.dumps(self.to_dict())

    def to_markdown(self) -> str:
        """One row: mIoU and the IoU of each class, in percent."""
        header = ["", "mIoU"] + list(self.class_names)
        row = ["IoU", report.percent(self.mean_iou)] + [report.percent(v) for v in self.iou]
        return report.markdown_table(header, [row])


def evaluate_semantic(
    scenes: Iterable[tuple[np.ndarray, np.ndarray]],
    class_table: ClassTable,
    *,
    use_train_ids: bool = False,
) -> SemanticResult:
    """mIoU over scenes for all classes of a table.

    Args:
        scenes: (ground-truth labels (N,), predicted labels (N,)) per scene.
        class_table: evaluated classes.
        use_train_ids: labels are train ids 0..K-1 (IGNORE_INDEX = not evaluated) instead of
            dataset ids (0 = unannotated).

    Returns:
        SemanticResult with the confusion summed over scenes; zero scenes give all-NaN IoU.
    """
    ids = tuple(range(class_table.num_classes)) if use_train_ids else class_table.dataset_ids
    c = len(ids)
    total = np.zeros((c, c + 1), np.int64)
    for gt, pred in scenes:
        total += semantic_confusion(gt, pred, ids)
    return SemanticResult(tuple(int(i) for i in ids), tuple(class_table.names), total)
