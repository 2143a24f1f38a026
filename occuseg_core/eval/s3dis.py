"""S3DIS instance metrics: mPrec / mRec at IoU 0.5 (paper Table 3) and AP50.

Precision/recall follow the convention of ASIS (`eval_iou_accuracy.py`) and 3D-BoNet
(`main_eval.py`), which OccuSeg compares against: per scene and class, each predicted instance
takes its best IoU with the same-class ground-truth instances and is a true positive when that
IoU >= 0.5 (no one-to-one assignment: two predictions of one object both count, and confidences
are not used). Per class, precision = TP / predictions and recall = TP / ground-truth instances,
summed over scenes. As in 3D-BoNet, a class without ground truth is left out of the means and a
class with ground truth but no prediction has precision 0 (ASIS's plain mean would be NaN).
AP50 uses the ScanNet machinery (`evaluate_instances`) with the 13 S3DIS classes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from occuseg_core.classes import S3DIS13, ClassTable
from occuseg_core.eval import report
from occuseg_core.eval.instance_ap import ScanNetInstanceResult, evaluate_instances
from occuseg_core.eval.overlaps import ScenePredictions, class_overlaps, paired_scenes


@dataclass(frozen=True, eq=False)
class PrecisionRecallResult:
    """Per-class instance precision and recall at one IoU threshold.

    Args:
        class_ids: (C,) evaluated dataset class ids.
        class_names: (C,) their names.
        iou_threshold: a prediction is a TP when its best same-class IoU is >= this.
        num_true_positive: (C,) int64 predictions that are true positives.
        num_pred: (C,) int64 predictions (non-empty masks with the class's label).
        num_gt: (C,) int64 ground-truth instances.
    """

    class_ids: tuple[int, ...]
    class_names: tuple[str, ...]
    iou_threshold: float
    num_true_positive: np.ndarray
    num_pred: np.ndarray
    num_gt: np.ndarray

    @property
    def precision(self) -> np.ndarray:
        """(C,) TP / predictions; 0 without predictions, NaN for a class without ground truth."""
        prec = np.divide(
            self.num_true_positive,
            self.num_pred,
            out=np.zeros(len(self.class_ids)),
            where=self.num_pred > 0,
        )
        return np.where(self.num_gt > 0, prec, np.nan)

    @property
    def recall(self) -> np.ndarray:
        """(C,) TP / ground-truth instances; NaN for a class without ground truth."""
        return np.divide(
            self.num_true_positive,
            self.num_gt,
            out=np.full(len(self.class_ids), np.nan),
            where=self.num_gt > 0,
        )

    @property
    def mean_precision(self) -> float:
        """mPrec over the classes that have ground truth."""
        return report.nanmean(self.precision)

    @property
    def mean_recall(self) -> float:
        """mRec over the classes that have ground truth."""
        return report.nanmean(self.recall)

    def to_dict(self) -> dict:
        """JSON-ready dict; NaN becomes None."""
        classes = {
            name: {
                "id": int(cid),
                "precision": report.json_float(p),
                "recall": report.json_float(r),
                "num_true_positive": int(tp),
                "num_pred": int(npred),
                "num_gt": int(ngt),
            }
            for name, cid, p, r, tp, npred, ngt in zip(
                self.class_names,
                self.class_ids,
                self.precision,
                self.recall,
                self.num_true_positive,
                self.num_pred,
                self.num_gt,
                strict=True,
            )
        }
        return {
            "metric": "precision_recall",
            "iou_threshold": self.iou_threshold,
            "mean": {
                "precision": report.json_float(self.mean_precision),
                "recall": report.json_float(self.mean_recall),
            },
            "classes": classes,
        }

    def to_json(self) -> str:
        """`to_dict()` as indented JSON text."""
        return report.dumps(self.to_dict())

    def to_markdown(self) -> str:
        """Per-class precision/recall and the paper's Table 3 (mPrec, mRec)."""
        header = ["", "mean"] + list(self.class_names)
        rows = [
            ["Prec", report.percent(self.mean_precision)]
            + [report.percent(v) for v in self.precision],
            ["Rec", report.percent(self.mean_recall)] + [report.percent(v) for v in self.recall],
        ]
        table3 = [[report.percent(self.mean_precision), report.percent(self.mean_recall)]]
        return "\n\n".join(
            [report.markdown_table(header, rows), report.markdown_table(["mPrec", "mRec"], table3)]
        )


def evaluate_precision_recall(
    predictions: Mapping[str, ScenePredictions] | Sequence[ScenePredictions],
    ground_truths: Mapping[str, np.ndarray] | Sequence[np.ndarray],
    class_ids: Sequence[int],
    class_names: Sequence[str],
    *,
    iou_threshold: float = 0.5,
    missing: str = "empty",
) -> PrecisionRecallResult:
    """Instance precision/recall in the ASIS / 3D-BoNet convention (see the module docstring).

    Args:
        predictions: per-scene predictions (label ids are dataset class ids; scores unused).
        ground_truths: per-scene (V,) encoded ids `class * 1000 + instance`, 0 = none; every
            non-zero id of an evaluated class is one instance, whatever its size.
        class_ids: evaluated class ids (predictions with other labels are ignored).
        class_names: a name for each class id.
        iou_threshold: TP when the best same-class IoU >= this (0.5 in the paper).
        missing: gt scenes without predictions count as "empty" (default), or "skip"/"error".

    Returns:
        PrecisionRecallResult.
    """
    pairs, _ = paired_scenes(predictions, ground_truths, missing)
    c = len(class_ids)
    tp, npred, ngt = np.zeros(c, np.int64), np.zeros(c, np.int64), np.zeros(c, np.int64)
    for _, pred, gt in pairs:
        for i, overlaps in enumerate(class_overlaps(pred, gt, class_ids, 1).values()):
            iou = overlaps.iou()
            best = iou.max(axis=0) if iou.shape[0] else np.zeros(iou.shape[1])
            tp[i] += int((best >= iou_threshold).sum())
            npred[i] += overlaps.pred_sizes.size
            ngt[i] += overlaps.gt_sizes.size
    return PrecisionRecallResult(
        class_ids=tuple(int(x) for x in class_ids),
        class_names=tuple(class_names),
        iou_threshold=float(iou_threshold),
        num_true_positive=tp,
        num_pred=npred,
        num_gt=ngt,
    )


@dataclass(frozen=True, eq=False)
class S3DISResult:
    """S3DIS instance results: precision/recall at IoU 0.5 and ScanNet-protocol AP.

    Args:
        precision_recall: mPrec / mRec (paper Table 3).
        instance_ap: AP per class; read `.ap50` / `.mean_ap50`.
    """

    precision_recall: PrecisionRecallResult
    instance_ap: ScanNetInstanceResult

    def to_dict(self) -> dict:
        """JSON-ready dict; NaN becomes None."""
        return {
            "benchmark": "s3dis",
            "precision_recall": self.precision_recall.to_dict(),
            "instance_ap": self.instance_ap.to_dict(),
        }

    def to_json(self) -> str:
        """`to_dict()` as indented JSON text."""
        return report.dumps(self.to_dict())

    def to_markdown(self) -> str:
        """Table 3 (mPrec, mRec) followed by the AP tables."""
        return self.precision_recall.to_markdown() + "\n\n" + self.instance_ap.to_markdown()


def evaluate_s3dis(
    predictions: Mapping[str, ScenePredictions] | Sequence[ScenePredictions],
    ground_truths: Mapping[str, np.ndarray] | Sequence[np.ndarray],
    *,
    class_table: ClassTable = S3DIS13,
    min_region_size: int = 100,
) -> S3DISResult:
    """S3DIS: mPrec/mRec at IoU 0.5 over all 13 classes, plus AP50 with the ScanNet rules.

    Args:
        predictions: per-room predictions with S3DIS class ids (1..13 for S3DIS13).
        ground_truths: per-room (V,) ids `class * 1000 + instance`, 0 = none.
        class_table: all of its classes are evaluated (S3DIS counts ceiling/floor/wall too).
        min_region_size: points; the AP part ignores smaller instances and predictions (the
            precision/recall part uses every instance, as ASIS / 3D-BoNet do).

    Returns:
        S3DISResult.
    """
    ids, names = table_classes(class_table)
    return S3DISResult(
        precision_recall=evaluate_precision_recall(predictions, ground_truths, ids, names),
        instance_ap=evaluate_instances(
            predictions,
            ground_truths,
            ids,
            names,
            min_region_size=min_region_size,
            missing="empty",
        ),
    )


def table_classes(table: ClassTable) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """All classes of a table in table order: (dataset ids, names)."""
    return tuple(table.dataset_ids), tuple(table.names)
