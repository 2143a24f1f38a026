"""SceneNN instance metric: AP50 per class (paper Table 4, after JSIS3D).

The ten classes of the table: wall, floor, cabinet, bed, chair, sofa, table, desk, television
and prop. The paper's text lost the ninth header; JSIS3D (Pham et al., CVPR 2019), whose table
OccuSeg reproduces, names it "tv". SceneNN annotations use NYU40 ids, so the table maps the
classes to NYU40 (television 25, prop = otherprop 40). Note that JSIS3D's released evaluation
code computes this "mAP@0.5" as the S3DIS-style precision at IoU 0.5, which
`evaluate_precision_recall` reproduces; `evaluate_scenenn` gives both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from occuseg_core.classes import SCENENN10, SCENENN10_IDS, ClassTable
from occuseg_core.eval import report
from occuseg_core.eval.instance_ap import ScanNetInstanceResult, evaluate_instances
from occuseg_core.eval.overlaps import ScenePredictions
from occuseg_core.eval.s3dis import PrecisionRecallResult, evaluate_precision_recall

__all__ = ["SCENENN10", "SCENENN10_IDS", "SceneNNResult", "evaluate_scenenn"]
# SCENENN10 (and its ids) live in occuseg_core.classes, registered as "scenenn10"; re-exported
# here, where the evaluation code first defined them.


@dataclass(frozen=True, eq=False)
class SceneNNResult:
    """SceneNN results: AP per class (Table 4 reads `.ap50`) and precision/recall at 0.5.

    Args:
        instance_ap: ScanNet-protocol AP over the ten classes, in Table 4 column order.
        precision_recall: JSIS3D-code convention (precision at IoU 0.5 per class).
    """

    instance_ap: ScanNetInstanceResult
    precision_recall: PrecisionRecallResult

    def to_dict(self) -> dict:
        """JSON-ready dict; NaN becomes None."""
        return {
            "benchmark": "scenenn",
            "instance_ap": self.instance_ap.to_dict(),
            "precision_recall": self.precision_recall.to_dict(),
        }

    def to_json(self) -> str:
        """`to_dict()` as indented JSON text."""
        return report.dumps(self.to_dict())

    def to_markdown(self) -> str:
        """Table 4 layout: mAP@0.5 then the AP50 of each class."""
        ap = self.instance_ap
        header = ["mAP@0.5"] + [report.short_class_name(n) for n in ap.class_names]
        row = [report.percent(ap.mean_ap50)] + [report.percent(v) for v in ap.ap50]
        return report.markdown_table(header, [row]) + "\n\n" + self.precision_recall.to_markdown()


def evaluate_scenenn(
    predictions: Mapping[str, ScenePredictions] | Sequence[ScenePredictions],
    ground_truths: Mapping[str, np.ndarray] | Sequence[np.ndarray],
    *,
    class_table: ClassTable = SCENENN10,
    min_region_size: int = 100,
) -> SceneNNResult:
    """SceneNN: AP50 per class over the ten Table 4 classes, plus precision/recall at 0.5.

    Args:
        predictions: per-scene predictions with NYU40 label ids.
        ground_truths: per-scene (V,) ids `nyu40 * 1000 + instance`, 0 = none.
        class_table: evaluated classes, all of them (default SCENENN10).
        min_region_size: vertices; smaller instances and predictions are ignored by the AP.

    Returns:
        SceneNNResult.
    """
    ids, names = tuple(class_table.dataset_ids), tuple(class_table.names)
    return SceneNNResult(
        instance_ap=evaluate_instances(
            predictions,
            ground_truths,
            ids,
            names,
            min_region_size=min_region_size,
            missing="empty",
        ),
        precision_recall=evaluate_precision_recall(predictions, ground_truths, ids, names),
    )
