"""What users get from the bundled models: quality floors on rooms CI has, the full method
beating "w/o occupancy" where it does today, and the Segmenter's defaults being the paper's.

Every figure below goes through `Segmenter.segment` with default options (the path the CLI and
the ROS nodes take) and the official ScanNet AP (`evaluate_scannet`). The floors sit a few points
under the figures measured when the models were bundled (docs/RESULTS.md, "Quality floors"):

    .venv/bin/python -m pytest test/core/test_bundled_quality.py -s   # prints the figures

Synthetic rooms: four rooms the generator makes for seeds 90001-90004 (no training scene has
these seeds). Real rooms: the six validation scans of ../shared/data/scannet_rooms (scene0003,
scene0009; no model saw them in training), skipped when ../shared is absent.
"""

from __future__ import annotations

import numpy as np
import pytest

from occuseg_core.clustering import MergeConfig
from occuseg_core.eval import ScenePredictions, encode_ground_truth, evaluate_scannet
from occuseg_core.inference import BUNDLED_MODELS, DEFAULT_MODEL, Segmenter, SegmenterOptions

pytestmark = pytest.mark.slow

SYNTHETIC_SEEDS = (90001, 90002, 90003, 90004)

# (model, rooms) -> (AP50 floor, least margin of the full method over "w/o occupancy" in AP50
# points, None where it does not beat it today). Measured 2026-12-06, AP50 full / w/o occupancy:
# synthetic model: synthetic rooms 96.4 / 88.7, real rooms 17.4 / 8.8;
# real model (rebundled in the seventh session, a third of the steps real): synthetic rooms
# 95.0 / 94.0 (occupancy helps little there; sixth session's model 86.5 / 87.8, fourth 86.6 /
# 84.9, the one before 85.8 / 92.0), real rooms 21.4 / 15.7 (sixth: 16.2 / 10.3; fourth: 21.1 /
# 14.2; before: 18.3 / 11.3). The real-room floor is the issue-14 acceptance floor (AP50 15).
FLOORS = {
    ("synthetic", "synthetic"): (90.0, 4.0),
    ("synthetic", "real"): (14.0, 4.0),
    ("real", "synthetic"): (80.0, None),
    ("real", "real"): (15.0, 4.0),
}


@pytest.fixture(scope="module")
def synthetic_rooms():
    from occuseg_core.data.synthetic import generate_scene

    return [generate_scene(seed) for seed in SYNTHETIC_SEEDS]


@pytest.fixture(scope="module")
def real_rooms(scannet_rooms_dir):
    from occuseg_core.data.scannet import ScanNetScans

    scans = ScanNetScans(scannet_rooms_dir, "val")
    return [scans[i] for i in range(len(scans))]


def _ap50(segmenter: Segmenter, scenes) -> float:
    predictions, truths = {}, {}
    for scene in scenes:
        result = segmenter.segment(scene)
        predictions[scene.name] = ScenePredictions.from_instance_ids(
            result.instance_ids, result.instance_class_ids(), result.instance_scores()
        )
        truths[scene.name] = encode_ground_truth(scene.semantic, scene.instance)
    return 100.0 * evaluate_scannet(predictions, truths).mean_ap50


_MEASURED: dict[tuple[str, str], tuple[float, float]] = {}


def _measured(model: str, rooms: str, scenes) -> tuple[float, float]:
    """(AP50 of the default Segmenter, AP50 with occupancy switched off) for a bundled model."""
    if (model, rooms) not in _MEASURED:
        full = Segmenter.from_checkpoint(model, device="cpu")
        without = Segmenter.from_checkpoint(
            model, device="cpu", options=SegmenterOptions(merge=MergeConfig(use_occupancy=False))
        )
        _MEASURED[model, rooms] = (_ap50(full, scenes), _ap50(without, scenes))
        full_ap50, without_ap50 = _MEASURED[model, rooms]
        print(
            f"{model} model, {rooms} rooms: AP50 {full_ap50:.1f}, w/o occupancy {without_ap50:.1f}"
        )
    return _MEASURED[model, rooms]


def test_every_bundled_model_has_floors():
    assert {model for model, _ in FLOORS} == set(BUNDLED_MODELS)
    assert {rooms for _, rooms in FLOORS} == {"synthetic", "real"}


@pytest.mark.parametrize(("model", "rooms"), sorted(FLOORS))
def test_bundled_model_quality_floor(model, rooms, request):
    scenes = request.getfixturevalue(f"{rooms}_rooms")
    full, _ = _measured(model, rooms, scenes)
    assert full >= FLOORS[model, rooms][0]


@pytest.mark.parametrize(
    ("model", "rooms"), sorted(key for key, (_, margin) in FLOORS.items() if margin is not None)
)
def test_full_method_beats_without_occupancy(model, rooms, request):
    """Eq. 14's occupancy term and the ratio filter are in the default path, and they help."""
    scenes = request.getfixturevalue(f"{rooms}_rooms")
    full, without = _measured(model, rooms, scenes)
    assert full >= without + FLOORS[model, rooms][1]


def test_segmenter_defaults_are_the_papers():
    """Occupancy-aware merging with both embedding terms, T0 = 0.5, ratio bounds 0.3 / 2."""
    for options in (SegmenterOptions(), Segmenter.from_checkpoint(DEFAULT_MODEL).options):
        merge = options.merge
        assert merge.use_occupancy and merge.use_feature and merge.use_spatial
        assert merge.merge_threshold == 0.5
        assert (merge.min_occupancy_ratio, merge.max_occupancy_ratio) == (0.3, 2.0)
        assert merge.min_instance_voxels == 0
        assert options.score_threshold == 0.0 and options.min_instance_points == 0
    assert np.isclose(MergeConfig().merge_threshold, 0.5)
