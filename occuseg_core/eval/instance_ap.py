"""Instance-segmentation AP exactly as the ScanNet v2 benchmark script computes it.

Rules (read from ScanNet's `BenchmarkScripts/3d_evaluation/evaluate_semantic_instance.py`):
IoU thresholds 0.50, 0.55, ..., 0.90 (numpy's `arange(0.5, 0.95, 0.05)`: nine values, 0.95
excluded) plus 0.25; a match needs IoU strictly above the threshold; ground-truth instances and
predictions under 100 vertices are not evaluated; ground-truth instances are visited in ascending
id order and take the first not yet used prediction above the threshold, later ones become false
positives at the lower of the two scores; an unmatched prediction is a false positive only if at
most `threshold` of its vertices lie on void (unannotated or non-evaluated classes) or on
too-small same-class instances; precision/recall are taken at every distinct score and integrated
with the script's central differences; AP is NaN for a class without ground truth and 0 for a
class with ground truth but no prediction; means are NaN-means over classes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from occuseg_core.classes import SCANNET20, ClassTable
from occuseg_core.errors import OccusegError
from occuseg_core.eval import report
from occuseg_core.eval.overlaps import (
    ClassOverlaps,
    ScenePredictions,
    class_overlaps,
    paired_scenes,
)

SCANNET_IOU_THRESHOLDS: tuple[float, ...] = tuple(
    float(t) for t in np.append(np.arange(0.5, 0.95, 0.05), 0.25)
)
"""The official overlaps, bit for bit: 0.5, 0.55, ..., 0.9 (9 values), then 0.25."""

SCANNET_MIN_REGION_SIZE = 100
"""Vertices: smaller ground-truth instances and predictions are not evaluated."""


def average_precision(is_true: np.ndarray, scores: np.ndarray, num_missed: int) -> float:
    """AP of one class from its ranked matches, integrated as the official script does.

    Precision and recall are evaluated at each distinct score t over the examples scoring >= t
    (ties form one step), an artificial point (recall 0, precision 1) is appended, and AP is
    sum_i precision_i * (recall_{i-1} - recall_{i+1}) / 2 with recall_{-1} = recall_0 and
    recall past the end = 0.

    Args:
        is_true: (M,) bool, example m is a true positive (else a false positive).
        scores: (M,) float64 confidence of each example.
        num_missed: ground-truth instances without any match (counted as false negatives).

    Returns:
        AP in [0, 1]; 0.0 when there is no example at all (the official script crashes there).
    """
    if is_true.size == 0:
        return 0.0
    order = np.argsort(scores, kind="stable")
    cumsum = np.cumsum(is_true[order].astype(np.float64))
    _, first = np.unique(scores[order], return_index=True)
    true_below = np.where(first > 0, cumsum[first - 1], 0.0)
    tp = cumsum[-1] - true_below
    fp = (is_true.size - first) - tp
    fn = true_below + num_missed
    precision = np.append(tp / (tp + fp), 1.0)
    recall = np.append(tp / (tp + fn), 0.0)
    padded = np.concatenate([recall[:1], recall, [0.0]])
    step_widths = 0.5 * (padded[:-2] - padded[2:])
    return float(np.dot(precision, step_widths))


def _match_scene_class(
    overlaps: ClassOverlaps, threshold: float, min_region_size: int
) -> tuple[list[float], list[float], int]:
    """(true-positive scores, false-positive scores, missed ground truth) of one scene/class."""
    iou = overlaps.iou()
    above = iou > threshold
    counted = overlaps.gt_sizes >= min_region_size
    used = np.zeros(overlaps.pred_sizes.size, dtype=bool)
    tp_scores: list[float] = []
    fp_scores: list[float] = []
    missed = 0
    for g in np.flatnonzero(counted):
        candidates = np.flatnonzero(above[g] & ~used)
        if candidates.size == 0:
            missed += 1
            continue
        # the first candidate is marked used; the gt keeps the best score and every other
        # candidate is a false positive at its own (lower) score, as in the official loop
        used[candidates[0]] = True
        scores = overlaps.pred_scores[candidates]
        best = int(np.argmax(scores))
        tp_scores.append(float(scores[best]))
        fp_scores.extend(np.delete(scores, best).tolist())
    ignored = overlaps.pred_void + (overlaps.intersections * ~counted[:, None]).sum(axis=0)
    unmatched = ~above.any(axis=0)
    false_alarm = unmatched & (ignored / np.maximum(overlaps.pred_sizes, 1) <= threshold)
    fp_scores.extend(overlaps.pred_scores[false_alarm].tolist())
    return tp_scores, fp_scores, missed


def _class_ap(per_scene: list[ClassOverlaps], threshold: float, min_region_size: int) -> float:
    """AP of one class at one IoU threshold over all scenes (NaN without ground truth)."""
    has_gt = any(bool((o.gt_sizes >= min_region_size).any()) for o in per_scene)
    if not has_gt:
        return float("nan")
    if not any(o.pred_sizes.size for o in per_scene):
        return 0.0
    tps, fps, missed = [], [], 0
    for overlaps in per_scene:
        tp, fp, miss = _match_scene_class(overlaps, threshold, min_region_size)
        tps += tp
        fps += fp
        missed += miss
    is_true = np.array([True] * len(tps) + [False] * len(fps))
    return average_precision(is_true, np.array(tps + fps, dtype=np.float64), missed)


@dataclass(frozen=True, eq=False)
class ScanNetInstanceResult:
    """Per-class AP of a ScanNet-protocol evaluation (also used for S3DIS and SceneNN AP).

    Args:
        class_ids: (C,) evaluated dataset class ids, in report column order.
        class_names: (C,) their names.
        iou_thresholds: (T,) IoU thresholds, as in SCANNET_IOU_THRESHOLDS.
        ap_per_threshold: (C, T) float64 AP, NaN where a class has no ground truth.
        num_gt: (C,) int64 ground-truth instances evaluated (>= min region size).
        num_pred: (C,) int64 predictions evaluated (label in the class list, >= min size).
        scene_names: scenes evaluated.
        skipped_scenes: ground-truth scenes without predictions that were left out.
    """

    class_ids: tuple[int, ...]
    class_names: tuple[str, ...]
    iou_thresholds: tuple[float, ...]
    ap_per_threshold: np.ndarray
    num_gt: np.ndarray
    num_pred: np.ndarray
    scene_names: tuple[str, ...] = ()
    skipped_scenes: tuple[str, ...] = ()

    def _columns(self, at: float | None) -> np.ndarray:
        t = np.asarray(self.iou_thresholds)
        if at is None:  # the official "AP": every threshold but 0.25
            return self.ap_per_threshold[:, ~np.isclose(t, 0.25)]
        return self.ap_per_threshold[:, np.isclose(t, at)]

    def _per_class(self, at: float | None) -> np.ndarray:
        # one 1-D mean per class, as the official np.average (bit-identical summation)
        return np.array([np.mean(row) for row in self._columns(at)]).reshape(-1)

    @property
    def ap(self) -> np.ndarray:
        """(C,) AP averaged over IoU 0.5:0.05:0.9 (NaN for a class without ground truth)."""
        return self._per_class(None)

    @property
    def ap50(self) -> np.ndarray:
        """(C,) AP at IoU 0.5."""
        return self._per_class(0.5)

    @property
    def ap25(self) -> np.ndarray:
        """(C,) AP at IoU 0.25."""
        return self._per_class(0.25)

    def _mean(self, at: float | None) -> float:
        # sums threshold-major over classes in ascending id order, the layout the official
        # script averages, so the means agree to the last bit and not only to rounding
        by_id = np.argsort(self.class_ids, kind="stable")
        return report.nanmean(self._columns(at)[by_id].T)

    @property
    def mean_ap(self) -> float:
        """mAP: NaN-mean over classes and thresholds 0.5:0.9, as the official `all_ap`."""
        return self._mean(None)

    @property
    def mean_ap50(self) -> float:
        """mAP@0.5: NaN-mean of the per-class AP50."""
        return self._mean(0.5)

    @property
    def mean_ap25(self) -> float:
        """mAP@0.25: NaN-mean of the per-class AP25."""
        return self._mean(0.25)

    def to_dict(self) -> dict:
        """JSON-ready dict; NaN becomes None."""
        classes = {
            name: {
                "id": int(cid),
                "ap": report.json_float(ap),
                "ap50": report.json_float(ap50),
                "ap25": report.json_float(ap25),
                "num_gt": int(ngt),
                "num_pred": int(npred),
            }
            for name, cid, ap, ap50, ap25, ngt, npred in zip(
                self.class_names,
                self.class_ids,
                self.ap,
                self.ap50,
                self.ap25,
                self.num_gt,
                self.num_pred,
                strict=True,
            )
        }
        return {
            "metric": "instance_ap",
            "mean": {
                "ap": report.json_float(self.mean_ap),
                "ap50": report.json_float(self.mean_ap50),
                "ap25": report.json_float(self.mean_ap25),
            },
            "classes": classes,
            "iou_thresholds": list(self.iou_thresholds),
            "num_scenes": len(self.scene_names),
            "skipped_scenes": list(self.skipped_scenes),
        }

    def to_json(self) -> str:
        """`to_dict()` as indented JSON text."""
        return report.dumps(self.to_dict())

    def to_markdown(self) -> str:
        """The per-class table as in the paper's Table 1 (+ AP50/AP25 rows) and Table 2."""
        header = ["", "mean"] + [report.short_class_name(n) for n in self.class_names]
        rows = [
            ["AP", report.percent(self.mean_ap)] + [report.percent(v) for v in self.ap],
            ["AP@0.5", report.percent(self.mean_ap50)] + [report.percent(v) for v in self.ap50],
            ["AP@0.25", report.percent(self.mean_ap25)] + [report.percent(v) for v in self.ap25],
        ]
        summary = [
            [
                report.percent(self.mean_ap),
                report.percent(self.mean_ap50),
                report.percent(self.mean_ap25),
            ]
        ]
        return "\n\n".join(
            [
                report.markdown_table(header, rows),
                report.markdown_table(["mAP", "mAP@0.5", "mAP@0.25"], summary),
                f"{len(self.scene_names)} scenes evaluated"
                + (
                    f", {len(self.skipped_scenes)} ground-truth scenes without predictions skipped"
                    if self.skipped_scenes
                    else ""
                ),
            ]
        )


def evaluate_instances(
    predictions: Mapping[str, ScenePredictions] | Sequence[ScenePredictions],
    ground_truths: Mapping[str, np.ndarray] | Sequence[np.ndarray],
    class_ids: Sequence[int],
    class_names: Sequence[str],
    *,
    min_region_size: int = SCANNET_MIN_REGION_SIZE,
    iou_thresholds: Sequence[float] = SCANNET_IOU_THRESHOLDS,
    missing: str = "skip",
) -> ScanNetInstanceResult:
    """ScanNet-protocol AP for any list of classes (the engine behind all AP entry points).

    Args:
        predictions: per-scene predictions, by scene name (or a list aligned with the gt).
        ground_truths: per-scene (V,) encoded ids `class * 1000 + instance`, 0 = unannotated.
        class_ids: evaluated dataset class ids, in report order; other classes are void.
        class_names: a name for each class id.
        min_region_size: vertices; smaller ground truth and predictions are not evaluated.
        iou_thresholds: thresholds in (0, 1); the mean "AP" uses all but 0.25.
        missing: "skip" (official), "empty" or "error" for gt scenes without predictions.

    Returns:
        The per-class, per-threshold result.

    Raises:
        OccusegError: inconsistent inputs (see `paired_scenes`), bad class list or thresholds.
    """
    if len(class_ids) != len(class_names) or len(set(class_ids)) != len(class_ids):
        raise OccusegError("class_ids must be distinct and match class_names one to one")
    if not all(0.0 < t < 1.0 for t in iou_thresholds):
        raise OccusegError(f"IoU thresholds must lie in (0, 1); got {iou_thresholds}")
    pairs, skipped = paired_scenes(predictions, ground_truths, missing)
    min_pred_size = max(min_region_size, 1)  # an empty mask is never an instance
    per_scene = [class_overlaps(p, g, class_ids, min_pred_size) for _, p, g in pairs]
    ap = np.full((len(class_ids), len(iou_thresholds)), np.nan)
    for i, c in enumerate(class_ids):
        ap[i] = [_class_ap([s[c] for s in per_scene], t, min_region_size) for t in iou_thresholds]
    num_gt = [
        sum(int((s[c].gt_sizes >= min_region_size).sum()) for s in per_scene) for c in class_ids
    ]
    num_pred = [sum(s[c].pred_sizes.size for s in per_scene) for c in class_ids]
    return ScanNetInstanceResult(
        class_ids=tuple(int(c) for c in class_ids),
        class_names=tuple(class_names),
        iou_thresholds=tuple(float(t) for t in iou_thresholds),
        ap_per_threshold=ap,
        num_gt=np.array(num_gt, np.int64),
        num_pred=np.array(num_pred, np.int64),
        scene_names=tuple(name for name, _, _ in pairs),
        skipped_scenes=skipped,
    )


def instance_classes(table: ClassTable) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """A table's instance classes (all but background) sorted by name, the paper's column order.

    Returns:
        (dataset ids, names), e.g. for SCANNET20 the 18 benchmark classes bathtub ... window.
    """
    pairs = sorted((table.names[t], table.dataset_ids[t]) for t in table.instance_train_ids)
    return tuple(i for _, i in pairs), tuple(n for n, _ in pairs)


def evaluate_scannet(
    predictions: Mapping[str, ScenePredictions] | Sequence[ScenePredictions],
    ground_truths: Mapping[str, np.ndarray] | Sequence[np.ndarray],
    *,
    class_table: ClassTable = SCANNET20,
    missing: str = "skip",
) -> ScanNetInstanceResult:
    """The ScanNet v2 instance benchmark: AP, AP50, AP25 per class and their means.

    Args:
        predictions: per-scene `ScenePredictions` with NYU40 label ids, by scene name.
        ground_truths: per-scene (V,) ids `nyu40 * 1000 + instance`, 0 = unannotated.
        class_table: whose instance classes are evaluated (default: the 18 ScanNet classes;
            the synthetic scenes use the same NYU40 ids).
        missing: "skip" (official), "empty" or "error" for gt scenes without predictions.

    Returns:
        ScanNetInstanceResult with classes in the paper's Table 1 order.
    """
    class_ids, class_names = instance_classes(class_table)
    return evaluate_instances(predictions, ground_truths, class_ids, class_names, missing=missing)
