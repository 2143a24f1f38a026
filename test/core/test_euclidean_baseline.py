"""The geometric baseline (`--method euclidean`): RANSAC plane removal + Euclidean clustering.

The hand-built room is a 4 m x 4 m floor and two 2.5 m walls (points every 5 cm) with two boxes
(surfaces sampled every 2.5 cm) standing clear of them: the floor and walls are the only planes
above the default minimum plane size (4% of the points; the biggest box face holds 2.7%), and
the boxes are more than a metre apart, so the baseline must return exactly the two boxes.
"""

import json

import numpy as np
import pytest

pytest.importorskip("open3d")  # an optional dependency, as for the TSDF scanner

from occuseg_core import Scene  # noqa: E402
from occuseg_core.cli import main  # noqa: E402
from occuseg_core.clustering.euclidean import (  # noqa: E402
    EuclideanConfig,
    EuclideanSegmenter,
    remove_planes,
)

FLOOR, WALL, OBJECT = 2, 1, 39  # NYU40 floor, wall, otherfurniture


def _grid(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u, v = np.meshgrid(a, b, indexing="ij")
    return u.ravel(), v.ravel()


def _rectangle(axis: int, at: float, lo: tuple, hi: tuple, step: float) -> np.ndarray:
    """Points every `step` metres on the axis-aligned rectangle `axis` = `at`, spanning lo..hi
    on the two other axes (both ends included)."""
    others = [a for a in range(3) if a != axis]
    ticks = [np.linspace(lo[i], hi[i], round((hi[i] - lo[i]) / step) + 1) for i in range(2)]
    u, v = _grid(*ticks)
    points = np.empty((u.size, 3))
    points[:, axis], points[:, others[0]], points[:, others[1]] = at, u, v
    return points


def _box(lo: tuple, hi: tuple, step: float = 0.025) -> np.ndarray:
    """The six faces of the box lo..hi (corner and edge points appear on every face they lie
    on, as a scan's would)."""
    faces = []
    for axis in range(3):
        others = [a for a in range(3) if a != axis]
        span_lo, span_hi = (lo[others[0]], lo[others[1]]), (hi[others[0]], hi[others[1]])
        faces += [_rectangle(axis, side, span_lo, span_hi, step) for side in (lo[axis], hi[axis])]
    return np.concatenate(faces)


BOX_A = ((1.0, 1.0, 0.1), (1.5, 1.4, 0.7))  # 0.5 x 0.4 x 0.6 m, 10 cm above the floor
BOX_B = ((2.6, 2.3, 0.15), (2.9, 2.6, 0.95))  # 0.3 x 0.3 x 0.8 m


def hand_room(seed: int = 0) -> tuple[Scene, dict[str, np.ndarray]]:
    """The hand-built room and the indices of its parts: "floor", "wall_x" (x = 0), "wall_y"
    (y = 0; both walls start 5 cm off the floor and each other, so no point lies on two planes),
    "a" and "b" (the boxes)."""
    parts = {
        "floor": _rectangle(2, 0.0, (0.0, 0.0), (4.0, 4.0), 0.05),  # 81 x 81 points
        "wall_x": _rectangle(0, 0.0, (0.0, 0.05), (4.0, 2.5), 0.05),  # 81 x 50
        "wall_y": _rectangle(1, 0.0, (0.05, 0.05), (4.0, 2.5), 0.05),  # 80 x 50
        "a": _box(*BOX_A),
        "b": _box(*BOX_B),
    }
    xyz = np.concatenate(list(parts.values()))
    xyz += np.random.default_rng(seed).uniform(-0.002, 0.002, xyz.shape)  # 2 mm sensor noise
    sizes = np.cumsum([0] + [len(p) for p in parts.values()])
    index = {name: np.arange(sizes[k], sizes[k + 1]) for k, name in enumerate(parts)}
    semantic = np.zeros(len(xyz), np.int64)
    instance = np.zeros(len(xyz), np.int64)
    semantic[index["floor"]] = FLOOR
    semantic[index["wall_x"]] = semantic[index["wall_y"]] = WALL
    semantic[index["a"]], instance[index["a"]] = OBJECT, 1
    semantic[index["b"]], instance[index["b"]] = OBJECT, 2
    colors = np.full((len(xyz), 3), 0.5, np.float32)
    scene = Scene(xyz, colors, semantic=semantic, instance=instance, name="hand room")
    return scene, index


@pytest.fixture(scope="module")
def room():
    return hand_room()


def test_the_room_is_what_the_docstring_says(room):
    scene, index = room
    assert len(index["a"]) > len(index["b"]) >= 2000
    assert scene.num_points * 0.04 > 525  # the biggest box face: 21 x 25 points
    assert scene.num_points == sum(len(i) for i in index.values())


def test_planes_are_floor_then_walls(room):
    scene, index = room
    plane = remove_planes(scene.xyz, EuclideanConfig())
    expected = np.full(scene.num_points, -1)  # the boxes stay
    for k, part in enumerate(("floor", "wall_x", "wall_y")):  # biggest plane first
        expected[index[part]] = k
    np.testing.assert_array_equal(plane, expected)


def test_returns_exactly_the_two_boxes(room):
    scene, index = room
    result = EuclideanSegmenter().segment(scene)
    expected = np.full(scene.num_points, -1)
    expected[index["a"]], expected[index["b"]] = 0, 1  # biggest cluster first
    np.testing.assert_array_equal(result.instance_ids, expected)
    np.testing.assert_array_equal(result.semantic_ids, np.where(expected >= 0, OBJECT, 0))
    assert result.instance_ids.dtype == result.semantic_ids.dtype == np.int64
    assert result.instance_class_ids().tolist() == [OBJECT, OBJECT]
    assert result.instance_scores().tolist() == [1.0, 1.0]
    assert set(result.timings_s) == {"planes", "clusters", "total"}
    assert result.class_names == {OBJECT: "otherfurniture"}
    for record, (lo, hi), part in zip(result.instances, (BOX_A, BOX_B), "ab", strict=True):
        count = len(index[part])
        assert record.class_name == "otherfurniture"
        assert record.point_count == record.voxel_count == count
        assert record.predicted_occupancy == count and record.occupancy_ratio == 1.0
        np.testing.assert_allclose(record.box_min_m, lo, atol=0.0021)
        np.testing.assert_allclose(record.box_max_m, hi, atol=0.0021)
        np.testing.assert_allclose(record.centroid_m, scene.xyz[index[part]].mean(0), atol=1e-5)


def test_same_result_twice():
    from occuseg_core.data.synthetic import generate_scene

    scene = generate_scene(3)
    first = EuclideanSegmenter().segment(scene)
    again = EuclideanSegmenter().segment(scene)
    assert len(first.instances) >= 2  # something for the randomness to change
    np.testing.assert_array_equal(first.instance_ids, again.instance_ids)
    assert first.instances == again.instances


@pytest.mark.parametrize("num_points", [1, 2, 150])
def test_tiny_inputs_give_an_empty_result(num_points):
    """Fewer points than RANSAC samples, and a blob below the minimum cluster size."""
    xyz = np.random.default_rng(num_points).uniform(0.0, 0.1, (num_points, 3))
    result = EuclideanSegmenter().segment(Scene(xyz, np.zeros((num_points, 3), np.float32)))
    np.testing.assert_array_equal(result.instance_ids, np.full(num_points, -1))
    np.testing.assert_array_equal(result.semantic_ids, np.zeros(num_points))
    assert result.instance_ids.shape == result.semantic_ids.shape == (num_points,)
    assert result.instances == () and result.instance_class_ids().shape == (0,)
    assert set(result.timings_s) == {"planes", "clusters", "total"}


@pytest.mark.parametrize("shape", ["one point repeated", "a line"])
def test_degenerate_points_make_no_plane_and_one_cluster(shape):
    """300 copies of one point, or 300 points along 1 m of a line: no plane goes through them
    (RANSAC's hypotheses are degenerate) and they are one cluster of 300 >= 200 points."""
    xyz = np.ones((300, 3))
    if shape == "a line":
        xyz[:, 0] = np.linspace(0.0, 1.0, 300)
    result = EuclideanSegmenter().segment(Scene(xyz, np.zeros((300, 3), np.float32)))
    np.testing.assert_array_equal(result.instance_ids, np.zeros(300))
    assert len(result.instances) == 1 and result.instances[0].point_count == 300


def test_config_is_checked():
    with pytest.raises(ValueError, match="dbscan_eps_m"):
        EuclideanConfig(dbscan_eps_m=0.0)
    with pytest.raises(ValueError, match="ransac_n"):
        EuclideanConfig(ransac_n=2)


def test_cli_segment_writes_the_two_boxes(room, tmp_path, capsys):
    from occuseg_core.eval.scannet_submission import read_scannet_prediction
    from occuseg_core.io import read_ply_vertex_properties, write_scene

    scene, index = room
    ply = tmp_path / "hand_room.ply"  # outputs are named after the input file
    write_scene(scene.replace(semantic=None, instance=None), ply)
    out = tmp_path / "out"
    assert main(["segment", str(ply), "--method", "euclidean", "--out", str(out)]) == 0
    ids = np.load(out / "hand_room_instance_ids.npy")
    expected = np.full(scene.num_points, -1)
    expected[index["a"]], expected[index["b"]] = 0, 1
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_array_equal(
        np.load(out / "hand_room_semantic_ids.npy"), np.where(expected >= 0, OBJECT, 0)
    )
    summary = json.loads((out / "hand_room.json").read_text())
    assert summary["num_instances"] == 2 and set(summary["timings_s"]) == {
        "planes", "clusters", "total"}  # fmt: skip
    assert [r["point_count"] for r in summary["instances"]] == [len(index["a"]), len(index["b"])]
    properties = read_ply_vertex_properties(out / "hand_room_instances.ply")
    np.testing.assert_array_equal(properties["instance_id"], ids)
    prediction = read_scannet_prediction(out / "scannet" / "hand_room.txt", ids.size)
    assert prediction.label_ids.tolist() == [OBJECT, OBJECT]
    np.testing.assert_array_equal(prediction.masks[1], ids == 1)
    assert "2 instances" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--checkpoint", "model.pt"], "--checkpoint cannot be used with --method euclidean"),
        (["--half"], "--half cannot be used with --method euclidean"),
        (["--supervoxels", "mesh"], "--supervoxels cannot be used with --method euclidean"),
        (["--no-align-walls"], "--no-align-walls cannot be used with --method euclidean"),
        (["--score-threshold", "1.5"], "would drop every instance"),
    ],
)
def test_cli_segment_refuses_network_options(room, tmp_path, capsys, extra, message):
    from occuseg_core.io import write_scene

    ply = tmp_path / "room.ply"
    write_scene(room[0], ply)
    out = tmp_path / "out"
    argv = ["segment", str(ply), "--method", "euclidean", "--out", str(out), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


@pytest.fixture(scope="module")
def room_dataset(room, tmp_path_factory):
    """A one-scene dataset folder (split "val") holding the labelled hand-built room."""
    from occuseg_core.data.dataset import write_dataset_index
    from occuseg_core.io import write_scene

    root = tmp_path_factory.mktemp("room_dataset")
    (root / "val").mkdir()
    write_scene(room[0].replace(name="room"), root / "val" / "room.npz")
    write_dataset_index(root)
    return root


def test_cli_eval_scores_the_boxes_perfectly(room_dataset, tmp_path, capsys):
    """Both boxes found exactly, nothing else: class-agnostic AP 1 at every threshold."""
    report = tmp_path / "report.json"
    argv = ["eval", "--dataset", "synthetic", "--data-root", str(room_dataset), "--split", "val",
            "--method", "euclidean", "--json", str(report)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "class-agnostic (implied by --method euclidean" in out.splitlines()[0]
    assert "| object |" in out and "| planes |" in out
    data = json.loads(report.read_text())
    assert data["method"] == "euclidean" and data["class_agnostic"] is True
    assert data["instance"]["classes"]["object"]["num_gt"] == 2
    assert data["instance"]["mean"] == {"ap": 1.0, "ap50": 1.0, "ap25": 1.0}
    assert set(data["mean_s"]) == {"planes", "clusters", "total"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ablation", "all"], "--ablation cannot be used with --method euclidean"),
        (["--checkpoint", "c.pt"], "--checkpoint cannot be used with --method euclidean"),
        (["--fig4", "f.png"], "--fig4 cannot be used with --method euclidean"),
        (["--no-align-walls"], "--no-align-walls cannot be used with --method euclidean"),
    ],
)
def test_cli_eval_refuses_network_options(room_dataset, capsys, extra, message):
    argv = ["eval", "--dataset", "synthetic", "--data-root", str(room_dataset), "--split", "val",
            "--method", "euclidean", *extra]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_cli_eval_refuses_other_protocols_and_missing_dataset(tmp_path, capsys):
    other = ["eval", "--dataset", "s3dis", "--data-root", str(tmp_path), "--split", "area5-val",
             "--method", "euclidean"]  # fmt: skip
    assert main(other) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "scored class-agnostically with the ScanNet protocol" in err[0]
    submission = ["eval", "--pred", str(tmp_path), "--gt", str(tmp_path), "--method", "euclidean"]
    assert main(submission) == 2
    assert "need --dataset" in capsys.readouterr().err
