"""Running a trained Segmenter over a dataset split: the inputs of the paper's tables.

One pass per scene: voxelize, run the network once, build supervoxels once, then cluster once
per requested ablation (Table 6), so the ablation rows share everything but the merging. The
ablations are inference-time switches on the same network; the paper retrained its
"w/o occupancy" variant without the occupancy head, which this does not do. One diagnostic row
that is not in the paper, `oracle_occupancy`, merges with the true instance sizes in place of
the predicted occupancy: how much AP a perfect occupancy head would add to this network.

Collected per scene: ScanNet-style predictions per ablation, the encoded ground truth, the
per-point semantic labels (mIoU), the occupancy relative error R_c of every ground-truth
instance (eq. 11, Fig. 4) and the stage timings (Table 5).
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from occuseg_core.clustering import MergeConfig
from occuseg_core.errors import OccusegError
from occuseg_core.eval import ScenePredictions, encode_ground_truth
from occuseg_core.eval.occupancy import occupancy_relative_errors
from occuseg_core.inference import Segmenter
from occuseg_core.types import Scene

ABLATIONS: dict[str, MergeConfig] = {
    "none": MergeConfig(),
    "no_feature": MergeConfig(use_feature=False),
    "no_spatial": MergeConfig(use_spatial=False),
    "no_occupancy": MergeConfig(use_occupancy=False),
}
"""Table 6 rows: the full method and one clustering term switched off at a time."""

ORACLE_OCCUPANCY = "oracle_occupancy"
"""Diagnostic variant: the full method merging with the true instance sizes (not in the paper)."""

VARIANTS = (*ABLATIONS, ORACLE_OCCUPANCY)
"""Every clustering variant `evaluate_split` knows."""


@dataclass
class SplitEvaluation:
    """What one pass over a split collected (see module docstring)."""

    predictions: dict[str, dict[str, ScenePredictions]] = field(default_factory=dict)
    ground_truths: dict[str, np.ndarray] = field(default_factory=dict)
    semantic_pairs: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    occupancy_errors: list[np.ndarray] = field(default_factory=list)
    timings_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def mean_timings_s(self) -> dict[str, float]:
        return {stage: float(np.mean(values)) for stage, values in self.timings_s.items()}

    def all_occupancy_errors(self) -> np.ndarray:
        return np.concatenate(self.occupancy_errors) if self.occupancy_errors else np.empty(0)


def check_labels(scene: Scene) -> None:
    """Refuses a scene without semantic and instance labels."""
    if scene.semantic is None or scene.instance is None:
        raise OccusegError(f"scene {scene.name}: evaluation needs semantic and instance labels")


def _object_voxels(segmenter: Segmenter, grid) -> np.ndarray:
    """(V,) bool: the voxel belongs to a ground-truth instance of one of the model's instance
    classes (the objects R_c and the oracle are about)."""
    return segmenter.classes.is_instance_class(grid.semantic) & (grid.instance > 0)


def _instance_occupancy_errors(segmenter: Segmenter, grid, log_occupancy) -> np.ndarray:
    """R_c of the ground-truth instances of the model's instance classes."""
    is_object = _object_voxels(segmenter, grid)
    return occupancy_relative_errors(np.where(is_object, grid.instance, -1), log_occupancy)


def true_log_occupancy(segmenter: Segmenter, grid, predicted: np.ndarray) -> np.ndarray:
    """The oracle's occupancy: log of the true voxel count of each voxel's ground-truth instance
    (instance classes only); other voxels keep the predicted value. Same shape as `predicted`."""
    is_object = _object_voxels(segmenter, grid)
    ids = grid.instance[is_object]
    out = np.array(predicted, dtype=np.float32).reshape(-1)
    out[is_object] = np.log(np.bincount(ids)[ids])
    return out.reshape(np.shape(predicted))


def evaluate_scene(
    segmenter: Segmenter, scene: Scene, ablations: Sequence[str], into: SplitEvaluation
) -> None:
    """Adds one labelled scene to `into` (predictions for every ablation, timings, R_c)."""
    check_labels(scene)
    prepared = segmenter.prepare(scene)
    for stage, seconds in prepared.timings_s.items():
        into.timings_s[stage].append(seconds)
    grid, predictions = prepared.grid, prepared.predictions
    for name in ablations:
        merge, used = ABLATIONS.get(name, MergeConfig()), predictions
        if name == ORACLE_OCCUPANCY:
            oracle = true_log_occupancy(segmenter, grid, predictions.log_occupancy)
            used = dataclasses.replace(predictions, log_occupancy=oracle)
        tick = time.perf_counter()
        instances = segmenter.cluster(grid, used, prepared.supervoxel, prepared.edges, merge)
        if name == ablations[0]:
            into.timings_s["clustering"].append(time.perf_counter() - tick)
        result = segmenter.assemble_result(scene, grid, used, instances, {})
        into.predictions.setdefault(name, {})[scene.name] = ScenePredictions.from_instance_ids(
            result.instance_ids, result.instance_class_ids(), result.instance_scores()
        )
        if name == ablations[0]:
            into.semantic_pairs.append((scene.semantic, result.semantic_ids))
    into.ground_truths[scene.name] = encode_ground_truth(scene.semantic, scene.instance)
    into.occupancy_errors.append(
        _instance_occupancy_errors(segmenter, grid, predictions.log_occupancy)
    )


def evaluate_split(
    segmenter: Segmenter,
    scenes: Sequence[Scene],
    ablations: Sequence[str] = ("none",),
    *,
    progress: bool = True,
) -> SplitEvaluation:
    """Runs the segmenter over every scene of a split.

    Args:
        segmenter: a trained Segmenter (its class table must be the dataset's).
        scenes: labelled scenes (len + indexing).
        ablations: names from VARIANTS (ABLATIONS or ORACLE_OCCUPANCY); the first one also
            gives the semantic labels and the clustering time.
        progress: show a progress bar.

    Raises:
        OccusegError: unknown ablation, unlabelled scene, empty split.
    """
    unknown = [a for a in ablations if a not in VARIANTS]
    if unknown or not ablations:
        raise OccusegError(f"unknown ablation(s) {unknown}; known: {sorted(VARIANTS)}")
    if len(scenes) == 0:
        raise OccusegError("the split has no scenes")
    evaluation = SplitEvaluation()
    first = scenes[0]  # read once: readers load from disk on every indexing
    segmenter.segment(first)  # warm-up (numba compilation) outside the timings
    for index in tqdm(range(len(scenes)), desc="evaluate", disable=not progress):
        scene = first if index == 0 else scenes[index]
        evaluate_scene(segmenter, scene, tuple(ablations), evaluation)
    return evaluation
