"""Class-agnostic instance AP: the ScanNet protocol with every object of the instance classes in
one class "object", as open-vocabulary work reports it and the only AP a method without classes
(the geometric baseline of `occuseg_core.clustering.euclidean`) can be given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from occuseg_core.classes import SCANNET20, ClassTable
from occuseg_core.errors import OccusegError
from occuseg_core.eval.instance_ap import (
    ScanNetInstanceResult,
    evaluate_instances,
    instance_classes,
)
from occuseg_core.eval.overlaps import (
    GT_LABEL_DIVISOR,
    ScenePredictions,
    as_ground_truth_ids,
    by_scene_name,
)

AGNOSTIC_CLASS_ID = 1
"""The one class of a class-agnostic evaluation (`evaluate_class_agnostic`)."""
AGNOSTIC_CLASS_NAME = "object"


def _agnostic_ground_truth(gt: np.ndarray, class_ids: np.ndarray, name: str) -> np.ndarray:
    """Ground-truth ids with every object of `class_ids` in the one agnostic class.

    Objects are renumbered 1..K by their original (class, instance) id, so two objects of
    different classes that happen to share an instance number stay two objects; vertices of
    other classes become unannotated (void, as non-evaluated classes already are).
    """
    gt = as_ground_truth_ids(gt, name)
    is_object = np.isin(gt // GT_LABEL_DIVISOR, class_ids) & (gt % GT_LABEL_DIVISOR > 0)
    objects, renumbered = np.unique(gt[is_object], return_inverse=True)
    if objects.size >= GT_LABEL_DIVISOR:
        raise OccusegError(f"{name}: {objects.size} objects do not fit the class * 1000 +"
                           " instance encoding")  # fmt: skip
    out = np.zeros_like(gt)
    out[is_object] = AGNOSTIC_CLASS_ID * GT_LABEL_DIVISOR + 1 + renumbered.reshape(-1)
    return out


def _agnostic_predictions(pred: ScenePredictions, class_ids: np.ndarray) -> ScenePredictions:
    keep = np.isin(pred.label_ids, class_ids)
    return ScenePredictions(
        masks=pred.masks[keep], label_ids=np.full(int(keep.sum()), AGNOSTIC_CLASS_ID, np.int64),
        scores=pred.scores[keep],
    )  # fmt: skip


def evaluate_class_agnostic(
    predictions: Mapping[str, ScenePredictions] | Sequence[ScenePredictions],
    ground_truths: Mapping[str, np.ndarray] | Sequence[np.ndarray],
    *,
    class_table: ClassTable = SCANNET20,
    missing: str = "skip",
) -> ScanNetInstanceResult:
    """ScanNet-protocol AP with every object of the table's instance classes in one class.

    What open-vocabulary work reports, and the only AP a method without classes (geometric
    clustering) can be given: a prediction of any instance class matches a ground-truth object
    of any instance class; everything else of the official protocol is unchanged (IoU > t, 100
    vertices, void rules). Predictions labelled with a background class (wall, floor) are left
    out, as the class-specific evaluation never scores them either.

    Returns:
        ScanNetInstanceResult with the one class "object".
    """
    class_ids = np.array(instance_classes(class_table)[0], np.int64)
    predictions, ground_truths = by_scene_name(predictions), by_scene_name(ground_truths)
    agnostic_gt = {name: _agnostic_ground_truth(gt, class_ids, name)
                   for name, gt in ground_truths.items()}  # fmt: skip
    agnostic_pred = {name: _agnostic_predictions(p, class_ids) for name, p in predictions.items()}
    return evaluate_instances(agnostic_pred, agnostic_gt, (AGNOSTIC_CLASS_ID,),
                              (AGNOSTIC_CLASS_NAME,), missing=missing)  # fmt: skip
