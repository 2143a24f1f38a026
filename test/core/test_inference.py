"""The Segmenter end to end with an untrained model: valid results on any valid input, records
consistent with the per-point labels, checkpoint errors."""

import numpy as np
import pytest
import torch

from occuseg_core import Scene
from occuseg_core.errors import OccusegError
from occuseg_core.inference import Segmenter

STAGES = {"voxelize", "network", "supervoxels", "clustering", "total"}


@pytest.fixture(scope="module")
def segmenter(random_checkpoint):
    return Segmenter.from_checkpoint(random_checkpoint, device="cpu")


def check_result(scene: Scene, result, segmenter: Segmenter) -> None:
    """Invariants of any SegmentationResult, recomputed independently from the points."""
    n = scene.num_points
    assert result.instance_ids.shape == (n,) and result.semantic_ids.shape == (n,)
    assert set(result.timings_s) == STAGES and all(t >= 0 for t in result.timings_s.values())
    num = len(result.instances)
    assert result.instance_ids.min() >= -1 and result.instance_ids.max() < num
    assert set(np.unique(result.semantic_ids)) <= set(segmenter.class_names) | {0}
    for k, record in enumerate(result.instances):
        mask = result.instance_ids == k
        points = scene.xyz[mask].astype(np.float64)
        assert record.id == k and record.point_count == mask.sum() > 0
        np.testing.assert_allclose(record.centroid_m, points.mean(axis=0), atol=1e-5)
        np.testing.assert_allclose(record.box_min_m, points.min(axis=0), atol=1e-6)
        np.testing.assert_allclose(record.box_max_m, points.max(axis=0), atol=1e-6)
        assert np.all(result.semantic_ids[mask] == record.class_id)
        assert record.class_name == segmenter.class_names[record.class_id]
        assert record.class_id not in (1, 2)  # wall and floor are never instances
        assert 0.0 <= record.score <= 1.0
        np.testing.assert_allclose(
            record.occupancy_ratio, record.voxel_count / record.predicted_occupancy, rtol=1e-6
        )


def test_untrained_model_segments_a_synthetic_room(segmenter):
    from occuseg_core.data.synthetic import generate_scene

    scene = generate_scene(3)
    check_result(scene, segmenter.segment(scene), segmenter)


def test_prepared_scene_clusters_like_segment(segmenter):
    """`segment` is `prepare` then `cluster` and `assemble_result`: the same scene through the
    stages by hand gives the same instances."""
    from occuseg_core.data.synthetic import generate_scene

    scene = generate_scene(5)
    prepared = segmenter.prepare(scene)
    assert set(prepared.timings_s) == {"voxelize", "network", "supervoxels"}
    assert prepared.grid.num_voxels == prepared.supervoxel.shape[0] > 0
    by_hand = segmenter.assemble_result(
        scene, prepared.grid, prepared.predictions,
        segmenter.cluster(prepared.grid, prepared.predictions, prepared.supervoxel,
                          prepared.edges), {},
    )  # fmt: skip
    result = segmenter.segment(scene)
    np.testing.assert_array_equal(by_hand.instance_ids, result.instance_ids)
    np.testing.assert_array_equal(by_hand.semantic_ids, result.semantic_ids)
    assert by_hand.instances == result.instances


def test_same_scene_same_result_with_two_threads():
    """Greedy merging turns tiny network differences into different instances, so the network
    must be deterministic; spconv's own CPU scatter-add was not with two threads (the trained
    model then gave a different segmentation on most calls)."""
    from occuseg_core.data.synthetic import generate_scene
    from occuseg_core.threads import set_threads

    set_threads(2)  # fixed: auto could pick one thread on a loaded machine
    try:
        segmenter = Segmenter.from_checkpoint(device="cpu")
        scene = generate_scene(5)
        first, *others = [segmenter.segment(scene) for _ in range(3)]
    finally:
        set_threads(None)
    assert len(first.instances) > 5
    for other in others:
        np.testing.assert_array_equal(other.instance_ids, first.instance_ids)
        assert [r.score for r in other.instances] == [r.score for r in first.instances]


@pytest.mark.parametrize("n", [1, 2, 7])
def test_a_few_points(segmenter, rng, n):
    scene = Scene(rng.uniform(0, 0.05, (n, 3)), rng.random((n, 3)))
    check_result(scene, segmenter.segment(scene), segmenter)


def test_flat_wall_only(segmenter, rng):
    yz = rng.uniform(0, 2.5, (40_000, 2))
    scene = Scene(np.c_[np.zeros(40_000), yz], np.full((40_000, 3), 0.8))
    check_result(scene, segmenter.segment(scene), segmenter)


def test_mesh_scene_uses_mesh_supervoxels(segmenter, scannet_scene_dir):
    from occuseg_core.io import read_scene

    scene = read_scene(scannet_scene_dir / "scene0000_00_vert_all.npy")
    assert scene.faces is not None
    check_result(scene, segmenter.segment(scene), segmenter)


@pytest.mark.slow
def test_two_million_points(segmenter):
    """A dense cloud (2M points on the surfaces of a synthetic room) stays valid."""
    from occuseg_core.data.synthetic import generate_scene

    room = generate_scene(5)
    rng = np.random.default_rng(1)
    copies = int(np.ceil(2_000_000 / room.num_points))
    index = np.tile(np.arange(room.num_points), copies)[:2_000_000]
    xyz = room.xyz[index] + rng.normal(0, 0.004, (index.size, 3)).astype(np.float32)
    scene = Scene(xyz, room.colors[index])
    check_result(scene, segmenter.segment(scene), segmenter)


def test_filters_drop_instances(random_checkpoint):
    from occuseg_core.data.synthetic import generate_scene
    from occuseg_core.inference import SegmenterOptions

    scene = generate_scene(3)
    everything = Segmenter.from_checkpoint(random_checkpoint, device="cpu").segment(scene)
    strict = Segmenter.from_checkpoint(
        random_checkpoint, device="cpu", options=SegmenterOptions(min_instance_points=200)
    ).segment(scene)
    big = [r for r in everything.instances if r.point_count >= 200]
    assert [r.point_count for r in strict.instances] == [r.point_count for r in big]


def test_checkpoint_errors(tmp_path):
    with pytest.raises(OccusegError, match="does not exist"):
        Segmenter.from_checkpoint(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(OccusegError, match="corrupted"):
        Segmenter.from_checkpoint(bad)
    with pytest.raises(OccusegError, match="invalid device"):
        Segmenter.from_checkpoint(bad, device="gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(OccusegError, match="CUDA is not available"):
            Segmenter.from_checkpoint(bad, device="cuda")


@pytest.mark.gpu
def test_cuda_matches_cpu(random_checkpoint):
    from occuseg_core.data.synthetic import generate_scene

    scene = generate_scene(3)
    cpu = Segmenter.from_checkpoint(random_checkpoint, device="cpu").segment(scene)
    gpu = Segmenter.from_checkpoint(random_checkpoint, device="cuda").segment(scene)
    assert len(cpu.instances) == len(gpu.instances)
    assert np.mean(cpu.instance_ids == gpu.instance_ids) > 0.99
    for a, b in zip(cpu.instances, gpu.instances, strict=True):
        np.testing.assert_allclose(a.score, b.score, atol=1e-3)


def test_points_outside_instances_take_a_background_class(segmenter):
    """Four voxels, one point each. Voxel classes by argmax: chair (train id 4), chair, table (6),
    floor (1); background probabilities: voxel 0 prefers wall (0), voxels 1-3 floor. Instance 0
    (a chair) holds voxels 0 and 1 and is kept; instance 1 (a table) holds voxel 2 and is
    dropped by min_instance_points 2. With semantics_from_instances: chair, chair, floor, floor
    (NYU40 5, 5, 2, 2); without: every voxel's argmax, chair, chair, table, floor (5, 5, 7, 2)."""
    from occuseg_core.clustering import InstanceSegmentation
    from occuseg_core.data.voxelize import voxelize
    from occuseg_core.inference import SegmenterOptions, VoxelPredictions

    scene = Scene(np.array([[0.01, 0.01, 0.01], [0.21, 0.01, 0.01], [0.41, 0.01, 0.01],
                            [0.61, 0.01, 0.01]]), np.full((4, 3), 0.5))  # fmt: skip
    grid = voxelize(scene, 0.02)
    order = grid.point_to_voxel  # voxel of each point
    probs = np.full((4, 20), 0.01, np.float32)
    for voxel, (best, wall, floor) in zip(order, [(4, 0.3, 0.2), (4, 0.1, 0.2), (6, 0.1, 0.2),
                                                  (1, 0.1, 0.6)], strict=True):  # fmt: skip
        probs[voxel, best], probs[voxel, 0], probs[voxel, 1] = 0.5, wall, floor
    zeros = np.zeros((4, 3), np.float32)
    predictions = VoxelPredictions(probs, np.zeros((4, 16), np.float32), zeros, zeros,
                                   np.zeros(4, np.float32))  # fmt: skip
    voxel_instance = np.full(4, -1)
    voxel_instance[order[:2]], voxel_instance[order[2]] = 0, 1
    instances = InstanceSegmentation(
        voxel_instance, np.array([4, 6]), np.array([0.9, 0.8]), np.array([2, 1]),
        np.array([2.0, 1.0]), np.ones(2),
    )  # fmt: skip
    for consistent, expected in ((True, [5, 5, 2, 2]), (False, [5, 5, 7, 2])):
        options = SegmenterOptions(min_instance_points=2, semantics_from_instances=consistent)
        tuned = Segmenter(model=segmenter.model, config=segmenter.config, device="cpu",
                          options=options)  # fmt: skip
        result = tuned.assemble_result(scene, grid, predictions, instances, {})
        assert result.semantic_ids.tolist() == expected
        assert result.instance_ids.tolist() == [0, 0, -1, -1]
    assert SegmenterOptions().semantics_from_instances  # the default
