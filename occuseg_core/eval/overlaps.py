"""Predicted instances of a scene and their vertex overlaps with the ground-truth instances.

Owns `ScenePredictions` (K masks over V vertices, one class and one confidence each), the
benchmark ground-truth encoding (`semantic * 1000 + instance` per vertex, 0 = unannotated) and
`class_overlaps`, which counts, per evaluated class, how many vertices each prediction shares
with each same-class ground-truth instance and with "void" (vertices whose ground-truth class is
not evaluated). The AP and precision/recall metrics are computed from these counts alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from occuseg_core.errors import OccusegError

GT_LABEL_DIVISOR = 1000
"""Ground-truth ids are `semantic * 1000 + instance`, so `id // 1000` is the class id."""


def _as_masks(masks: np.ndarray) -> np.ndarray:
    masks = np.asarray(masks)
    if masks.ndim != 2:
        raise OccusegError(f"prediction masks must be (K, V); got shape {masks.shape}")
    if masks.dtype != np.bool_:
        if not np.issubdtype(masks.dtype, np.number):
            raise OccusegError(f"prediction masks must be bool or numeric; got {masks.dtype}")
        masks = masks != 0
    return np.ascontiguousarray(masks)


@dataclass(frozen=True, eq=False)
class ScenePredictions:
    """Predicted instances of one scene, in the ScanNet submission's terms.

    Args:
        masks: (K, V) bool, vertex v belongs to instance k (non-zero numbers are taken as True).
            Masks may overlap, as in a ScanNet submission.
        label_ids: (K,) int dataset class id of each instance (NYU40 for ScanNet).
        scores: (K,) float confidence of each instance; higher ranks first.

    Raises:
        OccusegError: shapes disagree, scores are NaN/inf, or label ids are not integers.
    """

    masks: np.ndarray
    label_ids: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        masks = _as_masks(self.masks)
        labels = np.asarray(self.label_ids)
        scores = np.asarray(self.scores)
        k = masks.shape[0]
        if labels.shape != (k,) or scores.shape != (k,):
            raise OccusegError(
                f"label_ids and scores must be (K,) = ({k},) for {k} masks;"
                f" got {labels.shape} and {scores.shape}"
            )
        if k and not np.issubdtype(labels.dtype, np.integer):
            raise OccusegError(f"label_ids must be integers; got dtype {labels.dtype}")
        scores = scores.astype(np.float64)
        if not np.all(np.isfinite(scores)):
            raise OccusegError("prediction scores contain NaN or inf")
        object.__setattr__(self, "masks", masks)
        object.__setattr__(self, "label_ids", labels.astype(np.int64))
        object.__setattr__(self, "scores", scores)

    @property
    def num_instances(self) -> int:
        """K, the number of predicted instances."""
        return int(self.masks.shape[0])

    @property
    def num_vertices(self) -> int:
        """V, the number of vertices the masks cover."""
        return int(self.masks.shape[1])

    @classmethod
    def empty(cls, num_vertices: int) -> ScenePredictions:
        """No predicted instance over `num_vertices` vertices."""
        return cls(
            np.zeros((0, num_vertices), bool), np.zeros(0, np.int64), np.zeros(0, np.float64)
        )

    @classmethod
    def from_instance_ids(
        cls, instance_ids: np.ndarray, label_ids: np.ndarray, scores: np.ndarray
    ) -> ScenePredictions:
        """Builds the masks from per-vertex instance ids (non-overlapping instances).

        Args:
            instance_ids: (V,) int, instance index in [0, K) of each vertex, -1 for none.
            label_ids: (K,) dataset class id of each instance.
            scores: (K,) confidence of each instance.

        Raises:
            OccusegError: an id is below -1 or not below K = len(label_ids).
        """
        ids = np.asarray(instance_ids)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise OccusegError(f"instance_ids must be (V,) integers; got {ids.shape} {ids.dtype}")
        k = len(np.asarray(label_ids))
        if ids.size and (ids.min() < -1 or ids.max() >= k):
            raise OccusegError(
                f"instance ids must be -1 (none) or in [0, {k}) for {k} labels;"
                f" got [{ids.min()}, {ids.max()}]"
            )
        masks = np.zeros((k, ids.size), dtype=bool)
        hit = ids >= 0
        masks[ids[hit], np.flatnonzero(hit)] = True
        return cls(masks, label_ids, scores)


def encode_ground_truth(semantic: np.ndarray, instance: np.ndarray) -> np.ndarray:
    """The benchmark's per-vertex ground-truth ids: `semantic * 1000 + instance`, 0 where none.

    Args:
        semantic: (V,) int dataset class ids (NYU40 for ScanNet), 0 = unannotated.
        instance: (V,) int instance ids, 0 = no instance; must be < 1000.

    Returns:
        (V,) int64, 0 wherever `instance` is 0.

    Raises:
        OccusegError: shapes differ, negative ids, or an instance id >= 1000 (not encodable).
    """
    semantic = np.asarray(semantic).astype(np.int64)
    instance = np.asarray(instance).astype(np.int64)
    if semantic.shape != instance.shape or semantic.ndim != 1:
        raise OccusegError(
            f"semantic and instance must be (V,) of one length; got {semantic.shape}"
            f" and {instance.shape}"
        )
    if semantic.size and (semantic.min() < 0 or instance.min() < 0):
        raise OccusegError("semantic and instance ids must be >= 0")
    if instance.size and instance.max() >= GT_LABEL_DIVISOR:
        raise OccusegError(f"instance ids must be < {GT_LABEL_DIVISOR}; got {instance.max()}")
    return np.where(instance > 0, semantic * GT_LABEL_DIVISOR + instance, 0)


def as_ground_truth_ids(gt_ids: np.ndarray, scene: str = "scene") -> np.ndarray:
    """Validates encoded ground-truth ids: (V,) non-negative integers; returns int64."""
    gt_ids = np.asarray(gt_ids)
    if gt_ids.ndim != 1 or (gt_ids.size and not np.issubdtype(gt_ids.dtype, np.integer)):
        raise OccusegError(
            f"{scene}: ground truth must be (V,) integer ids; got {gt_ids.shape} {gt_ids.dtype}"
        )
    gt_ids = gt_ids.astype(np.int64)
    if gt_ids.size and gt_ids.min() < 0:
        raise OccusegError(f"{scene}: ground-truth ids must be >= 0; got {gt_ids.min()}")
    return gt_ids


@dataclass(frozen=True, eq=False)
class ClassOverlaps:
    """Vertex counts between one scene's predictions and ground truth of one class.

    Args:
        gt_sizes: (G,) int64 vertex count of each ground-truth instance, ascending id order.
        pred_sizes: (P,) int64 vertex count of each prediction, in input order.
        pred_scores: (P,) float64 confidence of each prediction.
        pred_void: (P,) int64 vertices of each prediction whose ground-truth class is not
            evaluated (unannotated, wall/floor, or any class outside the list).
        intersections: (G, P) int64 shared vertices.
    """

    gt_sizes: np.ndarray
    pred_sizes: np.ndarray
    pred_scores: np.ndarray
    pred_void: np.ndarray
    intersections: np.ndarray

    def iou(self) -> np.ndarray:
        """(G, P) float64 intersection over union (0 where the union is empty)."""
        union = self.gt_sizes[:, None] + self.pred_sizes[None, :] - self.intersections
        return np.divide(self.intersections, union, out=np.zeros(union.shape), where=union > 0)


def _pair_counts(masks: np.ndarray, vertex_gt: np.ndarray, num_gt: int) -> np.ndarray:
    """(P, G) int64: vertices of mask p inside ground-truth instance g (vertex_gt -1 = none)."""
    annotated = vertex_gt >= 0
    rows, cols = np.nonzero(masks[:, annotated])
    flat = rows * num_gt + vertex_gt[annotated][cols]
    counts = np.bincount(flat, minlength=masks.shape[0] * num_gt)
    return counts.reshape(masks.shape[0], num_gt).astype(np.int64)


def class_overlaps(
    prediction: ScenePredictions,
    gt_ids: np.ndarray,
    class_ids: Sequence[int],
    min_pred_size: int,
) -> dict[int, ClassOverlaps]:
    """Per evaluated class, the overlap counts of one scene.

    Ground-truth instances are the distinct non-zero ids whose class (`id // 1000`) is in
    `class_ids`, of any size. Predictions are those whose label is in `class_ids` and that
    cover at least `min_pred_size` vertices; the rest are dropped, as the official script does.

    Args:
        prediction: the scene's predicted instances, V vertices.
        gt_ids: (V,) int64 encoded ground truth (`semantic * 1000 + instance`).
        class_ids: evaluated class ids.
        min_pred_size: predictions with fewer vertices are dropped.

    Returns:
        {class id: ClassOverlaps} for every id in `class_ids`.
    """
    class_ids = np.asarray(class_ids, dtype=np.int64)
    inst_ids, vertex_inst = np.unique(gt_ids, return_inverse=True)
    inst_is_gt = (inst_ids != 0) & np.isin(inst_ids // GT_LABEL_DIVISOR, class_ids)
    gt_index = np.cumsum(inst_is_gt) - 1
    vertex_gt = np.where(inst_is_gt[vertex_inst], gt_index[vertex_inst], -1)
    gt_labels = inst_ids[inst_is_gt] // GT_LABEL_DIVISOR
    gt_sizes = np.bincount(vertex_gt[vertex_gt >= 0], minlength=gt_labels.size)

    pred_sizes = prediction.masks.sum(axis=1, dtype=np.int64)
    keep = np.isin(prediction.label_ids, class_ids) & (pred_sizes >= min_pred_size)
    masks = prediction.masks[keep]
    void = ~np.isin(gt_ids // GT_LABEL_DIVISOR, class_ids)
    pred_void = masks[:, void].sum(axis=1, dtype=np.int64)
    pairs = _pair_counts(masks, vertex_gt, gt_labels.size)
    pred_labels = prediction.label_ids[keep]

    out = {}
    for class_id in class_ids.tolist():
        g = gt_labels == class_id
        p = pred_labels == class_id
        out[class_id] = ClassOverlaps(
            gt_sizes=gt_sizes[g].astype(np.int64),
            pred_sizes=pred_sizes[keep][p],
            pred_scores=prediction.scores[keep][p],
            pred_void=pred_void[p],
            intersections=np.ascontiguousarray(pairs[p][:, g].T),
        )
    return out


def by_scene_name(per_scene: Mapping | Sequence) -> Mapping:
    """Per-scene items by scene name; a sequence's items are named scene_0, scene_1, ..."""
    if isinstance(per_scene, Mapping):
        return per_scene
    return {f"scene_{i}": item for i, item in enumerate(per_scene)}


def paired_scenes(
    predictions: Mapping[str, ScenePredictions] | Sequence[ScenePredictions],
    ground_truths: Mapping[str, np.ndarray] | Sequence[np.ndarray],
    missing: str = "skip",
) -> tuple[list[tuple[str, ScenePredictions, np.ndarray]], tuple[str, ...]]:
    """Pairs predictions with ground truth by scene name (or by position for sequences).

    Args:
        predictions: per-scene predictions.
        ground_truths: per-scene encoded ground-truth ids (V,).
        missing: what to do with a ground-truth scene that has no prediction: "skip" it (the
            official script evaluates only the scenes it has predictions for), count it as
            "empty" (all its instances are missed), or raise ("error").

    Returns:
        ([(name, prediction, gt ids)] in ground-truth order, names of skipped scenes).

    Raises:
        OccusegError: a prediction without ground truth, a vertex-count mismatch, a missing
            prediction with missing="error", or an unknown `missing` mode.
    """
    if missing not in ("skip", "empty", "error"):
        raise OccusegError(f"missing must be 'skip', 'empty' or 'error'; got {missing!r}")
    predictions, ground_truths = by_scene_name(predictions), by_scene_name(ground_truths)
    extra = sorted(set(predictions) - set(ground_truths))
    if extra:
        raise OccusegError(f"predictions for scenes without ground truth: {', '.join(extra)}")
    pairs, skipped = [], []
    for name, gt in ground_truths.items():
        gt = as_ground_truth_ids(gt, name)
        pred = predictions.get(name)
        if pred is None and missing == "error":
            raise OccusegError(f"ground-truth scene {name} has no prediction")
        if pred is None and missing == "skip":
            skipped.append(name)
            continue
        pred = ScenePredictions.empty(gt.size) if pred is None else pred
        if pred.num_vertices != gt.size:
            raise OccusegError(
                f"{name}: predictions cover {pred.num_vertices} vertices but the ground truth"
                f" has {gt.size}"
            )
        pairs.append((name, pred, gt))
    return pairs, tuple(skipped)
