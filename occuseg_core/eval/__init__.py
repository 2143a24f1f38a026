"""Evaluation metrics as the benchmarks compute them: ScanNet instance AP (bit-exact with the
official script), S3DIS mPrec/mRec + AP50, SceneNN AP50, semantic mIoU, the occupancy error of
eq. 11 / Fig. 4, and the ScanNet submission file format. Pure numpy; the CLI and the trainer
only call these functions."""

from occuseg_core.eval.class_agnostic import evaluate_class_agnostic
from occuseg_core.eval.instance_ap import (
    SCANNET_IOU_THRESHOLDS,
    ScanNetInstanceResult,
    average_precision,
    evaluate_instances,
    evaluate_scannet,
)
from occuseg_core.eval.occupancy import (
    fraction_below,
    occupancy_relative_errors,
    plot_occupancy_cdf,
)
from occuseg_core.eval.overlaps import ScenePredictions, encode_ground_truth
from occuseg_core.eval.s3dis import (
    PrecisionRecallResult,
    S3DISResult,
    evaluate_precision_recall,
    evaluate_s3dis,
)
from occuseg_core.eval.scannet_submission import (
    read_id_file,
    read_scannet_prediction,
    read_scannet_submission,
    write_scannet_submission,
)
from occuseg_core.eval.scenenn import SCENENN10, SceneNNResult, evaluate_scenenn
from occuseg_core.eval.semantic import (
    SemanticResult,
    class_iou,
    evaluate_semantic,
    semantic_confusion,
)

__all__ = [
    "SCANNET_IOU_THRESHOLDS",
    "SCENENN10",
    "PrecisionRecallResult",
    "S3DISResult",
    "ScanNetInstanceResult",
    "SceneNNResult",
    "ScenePredictions",
    "SemanticResult",
    "average_precision",
    "class_iou",
    "encode_ground_truth",
    "evaluate_class_agnostic",
    "evaluate_instances",
    "evaluate_precision_recall",
    "evaluate_s3dis",
    "evaluate_scannet",
    "evaluate_scenenn",
    "evaluate_semantic",
    "fraction_below",
    "occupancy_relative_errors",
    "plot_occupancy_cdf",
    "read_id_file",
    "read_scannet_prediction",
    "read_scannet_submission",
    "semantic_confusion",
    "write_scannet_submission",
]
