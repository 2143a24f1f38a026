"""Synthetic scan generator: determinism, labels, the hard arrangements, what the scanner sees,
density and noise. Expectations come from hand arithmetic, independent loops over the layout's
solids, or invariants; generation time is reported by `occuseg_core.data.synthetic.bench`, not
asserted."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from occuseg_core.classes import NYU40_NAMES, SCANNET20, SCANNET20_IDS
from occuseg_core.data.synthetic import (
    ROOM_TYPES,
    SynthConfig,
    SyntheticScan,
    generate_scene,
    synthesize,
)
from occuseg_core.data.synthetic.geometry import Part, Pose, SolidTable, box, sample_part
from occuseg_core.data.voxelize import voxelize

CLEAN = SynthConfig(
    position_noise_m=(0.0, 0.0), normal_noise=0.0, color_noise=0.0, holes_per_m2=0.0,
    unlabelled_blobs_per_m2=0.0,
)  # fmt: skip
"""Noise-free, hole-free scans: points lie exactly on the parts' surfaces."""


def cached(seed: int, config: SynthConfig, _memo: dict = {}) -> SyntheticScan:  # noqa: B006
    key = (seed, config)
    if key not in _memo:
        _memo[key] = synthesize(seed, config)
    return _memo[key]


def hard(room_type: str, base: SynthConfig = SynthConfig()) -> SynthConfig:  # noqa: B008
    return replace(base, room_types=(room_type,), hard_case_prob=1.0)


def object_of_instance(result: SyntheticScan) -> list[int]:
    """Layout index of instance id k+1 (ids follow layout order over annotated objects)."""
    return [i for i, o in enumerate(result.layout.objects) if o.semantic != 0]


def local_xy(xyz: np.ndarray, part: Part) -> np.ndarray:
    """(N, 2) coordinates of points in a part's own frame (turned back by its yaw)."""
    d = np.asarray(xyz, dtype=np.float64)[:, :2] - np.asarray(part.center[:2])
    c, s = math.cos(part.yaw), math.sin(part.yaw)
    return np.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]], 1)


def voxel_sets(scene, instance_ids) -> dict[int, np.ndarray]:
    grid = voxelize(scene)
    return {i: grid.coords[grid.instance == i].astype(np.int64) for i in instance_ids}


def touching(a: np.ndarray, b: np.ndarray) -> bool:
    """Do two voxel sets touch in the 26-neighbourhood? (any voxel of b within one cell of a)"""
    offsets = np.stack(np.meshgrid(*[np.arange(-1, 2)] * 3, indexing="ij"), -1).reshape(-1, 3)
    grown = (a[:, None, :] + offsets[None]).reshape(-1, 3)

    def encode(c: np.ndarray) -> np.ndarray:
        c = c + 2**19
        return (c[:, 0] << 42) | (c[:, 1] << 21) | c[:, 2]

    return bool(np.isin(encode(grown), encode(b)).any())


# --- determinism ---------------------------------------------------------------------------


def test_same_seed_gives_identical_arrays() -> None:
    first, second = generate_scene(11), generate_scene(11)
    for field in ("xyz", "colors", "normals", "semantic", "instance"):
        np.testing.assert_array_equal(getattr(first, field), getattr(second, field))
    assert first.name == "synth_000011"


def test_different_seeds_differ() -> None:
    a, b = generate_scene(1), generate_scene(2)
    assert a.num_points != b.num_points or not np.array_equal(a.xyz, b.xyz)


def test_generation_does_not_touch_global_rng() -> None:
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    generate_scene(5)
    assert np.random.random() == expected


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_bad_seed_is_rejected(seed) -> None:
    with pytest.raises(ValueError, match="seed"):
        generate_scene(seed)


# --- labels --------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_label_invariants(seed: int) -> None:
    """Every point has a known NYU40 id or 0; unannotated points are 0/0; each instance id has
    one class; walls and floor are instances too; ids are 1..number of annotated objects."""
    result = cached(seed, SynthConfig())
    scene = result.scene
    assert scene.semantic.dtype == np.int64 and scene.instance.dtype == np.int64
    assert set(np.unique(scene.semantic)) <= set(NYU40_NAMES) | {0}
    np.testing.assert_array_equal(scene.semantic == 0, scene.instance == 0)
    pairs = np.unique(np.stack([scene.instance, scene.semantic], 1), axis=0)
    assert len(np.unique(pairs[:, 0])) == len(pairs)  # one class per instance id
    owners = object_of_instance(result)
    assert scene.instance.max() <= len(owners)
    for instance, semantic in pairs[pairs[:, 0] > 0]:
        assert result.layout.objects[owners[instance - 1]].semantic == semantic
    walls = pairs[pairs[:, 1] == 1, 0]
    assert 1 <= len(walls) <= 4 and len(pairs[pairs[:, 1] == 2]) == 1


@pytest.mark.parametrize("seed", range(3))
def test_instance_points_lie_on_their_own_object(seed: int) -> None:
    """Instance k's points (noise-free) lie within the bounds of the k-th annotated object."""
    result = cached(seed, CLEAN)
    owners = object_of_instance(result)
    for instance in np.unique(result.scene.instance[result.scene.instance > 0]):
        obj = result.layout.objects[owners[instance - 1]]
        table = SolidTable.from_parts(obj.parts)
        xyz = result.scene.xyz[result.scene.instance == instance]
        assert np.all(xyz >= table.aabb_min.min(0) - 1e-3)
        assert np.all(xyz <= table.aabb_max.max(0) + 1e-3)


def test_few_points_are_unannotated() -> None:
    """Like real scans, some points are unannotated 0/0 (props, annotation gaps), but few."""
    fractions = [np.mean(cached(s, SynthConfig()).scene.semantic == 0) for s in range(4)]
    assert 0.0 < np.mean(fractions) < 0.08


def test_every_benchmark_class_appears() -> None:
    """Two scenes of each room type hold all 20 ScanNet classes (18 instance classes)."""
    found: set[int] = set()
    for room in ROOM_TYPES:
        for seed in range(2):
            found |= set(np.unique(cached(seed, hard(room)).scene.semantic).tolist())
    assert set(SCANNET20_IDS) <= found


# --- the hard arrangements -----------------------------------------------------------------


@pytest.mark.parametrize("seed", range(2))
def test_conference_room_has_touching_chairs(seed: int) -> None:
    """With hard cases forced, two chair instances' 2 cm voxel sets touch (26-neighbourhood)."""
    scene = cached(seed, hard("conference_room")).scene
    chairs = np.unique(scene.instance[scene.semantic == 5])
    voxels = voxel_sets(scene, chairs)
    assert any(
        touching(voxels[a], voxels[b]) for i, a in enumerate(chairs) for b in chairs[i + 1:]
    )  # fmt: skip


def test_touching_detector_on_hand_made_sets() -> None:
    """(0,0,0) and (1,1,1) are 26-neighbours; (0,0,0) and (2,0,0) are not."""
    a = np.array([[0, 0, 0]])
    assert touching(a, np.array([[1, 1, 1]]))
    assert not touching(a, np.array([[2, 0, 0], [0, -2, 1]]))


@pytest.mark.parametrize("seed", range(2))
def test_chairs_are_tucked_under_the_table(seed: int) -> None:
    """Some chair points lie under the table top: inside its footprint, below its underside."""
    result = cached(seed, hard("conference_room", CLEAN))
    table = next(o for o in result.layout.objects if o.kind == "table")
    top = table.parts[0]
    chair_xyz = result.scene.xyz[result.scene.semantic == 5].astype(np.float64)
    local = local_xy(chair_xyz, top)
    under = np.all(np.abs(local) < np.asarray(top.size[:2]) / 2 - 0.02, axis=1)
    assert np.sum(under & (chair_xyz[:, 2] < top.z_min - 0.05)) > 20


@pytest.mark.parametrize("seed", range(2))
def test_kitchen_sink_is_set_into_the_counter(seed: int) -> None:
    """No counter point lies in the sink's opening; the basin lies below the counter top; the
    sink and a cabinet below touch the counter (voxel adjacency)."""
    result = cached(seed, hard("kitchen", CLEAN))
    scene = result.scene
    sink = next(o for o in result.layout.objects if o.kind == "sink")
    opening = sink.carves[0]
    local = local_xy(scene.xyz, opening)
    in_opening = np.all(np.abs(local) < np.asarray(opening.size[:2]) / 2 - 0.005, axis=1)
    assert not np.any(in_opening & (scene.semantic == 12))
    counter_top = max(
        p.z_max for o in result.layout.objects if o.kind == "counter" for p in o.parts
    )
    assert np.sum(in_opening & (scene.semantic == 34) & (scene.xyz[:, 2] < counter_top - 0.1)) > 20
    counter = np.unique(scene.instance[scene.semantic == 12])
    sinks, cabinets = (np.unique(scene.instance[scene.semantic == k]) for k in (34, 3))
    voxels = voxel_sets(scene, [*counter, *sinks, *cabinets])
    assert any(touching(voxels[s], voxels[c]) for s in sinks for c in counter)
    assert any(touching(voxels[k], voxels[c]) for k in cabinets for c in counter)


def test_small_objects_stand_on_furniture() -> None:
    """With hard cases forced, a bin or box stands on a table, desk, counter or cabinet top
    (its bottom is at the top of a part of such an object and inside that part's footprint)."""
    supports = ("table", "desk", "counter", "cabinet", "nightstand", "bookshelf")
    found = 0
    for room in ("office", "kitchen", "conference_room"):
        layout = cached(0, hard(room)).layout
        tops = [p for o in layout.objects if o.kind in supports for p in o.parts]
        for item in (o for o in layout.objects if o.kind in ("bin", "box")):
            bottom = min(p.z_min for p in item.parts)
            x, y = item.parts[0].center[:2]
            probe = np.array([[x, y, bottom - 0.001]])
            table = SolidTable.from_parts(tops)
            inside = table.contains(np.repeat(probe, len(tops), 0), np.arange(len(tops)), 0.0)
            found += bottom > 0.2 and bool(inside.any())
    assert found >= 2


def test_instance_sizes_span_two_orders_of_magnitude() -> None:
    """Benchmark-class instance voxel counts over four scenes span more than 100x."""
    counts = []
    for seed in range(4):
        scene = cached(seed, SynthConfig()).scene
        grid = voxelize(scene)
        keep = SCANNET20.is_instance_class(grid.semantic) & (grid.instance > 0)
        counts += np.unique(grid.instance[keep], return_counts=True)[1].tolist()
    assert max(counts) / min(counts) > 100


# --- what the scanner sees -----------------------------------------------------------------


def strictly_inside(xyz: np.ndarray, part: Part, shrink: float) -> np.ndarray:
    """Reference containment, one part at a time: inside the part shrunk by `shrink` metres."""
    d = xyz - np.asarray(part.center)
    c, s = math.cos(part.yaw), math.sin(part.yaw)
    local = np.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1], d[:, 2]], 1)
    half = np.asarray(part.size) / 2 - shrink
    if part.shape == "cylinder":
        return (np.hypot(local[:, 0], local[:, 1]) < half[0]) & (np.abs(local[:, 2]) < half[2])
    return np.all(np.abs(local) < half, axis=1)


@pytest.mark.parametrize("room", ["kitchen", "bedroom", "bathroom", "living_room"])
def test_no_point_inside_any_solid(room: str) -> None:
    """Noise-free: no point is strictly inside any part (3 mm in from its faces), except a sink
    basin inside the counter and cabinet it is set into (its hosts)."""
    result = cached(0, hard(room, CLEAN))
    scene, objects = result.scene, result.layout.objects
    owners = np.array([-1, *object_of_instance(result)])[scene.instance]
    xyz = scene.xyz.astype(np.float64)
    for index, obj in enumerate(objects):
        hosted = np.isin(owners, [i for i, o in enumerate(objects) if index in o.hosts])
        for part in obj.parts:
            inside = strictly_inside(xyz, part, 0.003) & ~hosted
            assert not inside.any(), f"{inside.sum()} points inside a part of {obj.kind}"


@pytest.mark.parametrize("seed", range(2))
def test_floor_under_the_bed_is_removed(seed: int) -> None:
    """No floor point lies under the bed (its footprint shrunk by 3 cm), but floor points exist
    within 30 cm of it."""
    result = cached(seed, hard("bedroom", CLEAN))
    bed = next(o for o in result.layout.objects if o.kind == "bed")
    x0, y0, x1, y1 = bed.footprint()
    floor = result.scene.xyz[result.scene.semantic == 2]
    under = (floor[:, 0] > x0 + 0.03) & (floor[:, 0] < x1 - 0.03)
    under &= (floor[:, 1] > y0 + 0.03) & (floor[:, 1] < y1 - 0.03)
    near = (floor[:, 0] > x0 - 0.3) & (floor[:, 0] < x1 + 0.3)
    near &= (floor[:, 1] > y0 - 0.3) & (floor[:, 1] < y1 + 0.3)
    assert not under.any() and near.sum() > 100


def test_walls_are_cut_at_the_scan_height_and_there_is_no_ceiling() -> None:
    """With the scan height fixed at 1.2 m, no wall, door or window point is above 1.2 m; in
    general nothing is above the room's ceiling."""
    config = replace(CLEAN, wall_scan_height_m=(1.2, 1.2), room_types=("office",))
    result = cached(3, config)
    scene = result.scene
    on_walls = np.isin(scene.semantic, [1, 8, 9, 11, 16])
    assert on_walls.any() and scene.xyz[on_walls, 2].max() <= 1.2
    assert scene.xyz[:, 2].max() < result.layout.ceiling_m


# --- density and noise ---------------------------------------------------------------------


def test_face_sampling_density_hand_computed(rng: np.random.Generator) -> None:
    """A 1 m x 1 m top face at 2.5 cm spacing: 40 x 40 = 1600 jittered points, one per cell.
    A 1 cm x 1 m strip: 1 x 40 cells kept with probability (0.01 / 0.025) = 0.4 -> 16 expected."""
    face = box(0, 0, 0, 1.0, 1.0, 0.5, skip=("+x", "-x", "+y", "-y", "-z"))
    xyz, normals, _ = sample_part(face, 0.025, rng)
    assert xyz.shape == (1600, 3) and np.all(xyz[:, 2] == 0.5) and np.all(normals[:, 2] == 1)
    cells = np.floor((xyz[:, :2] + 0.5) / 0.025).astype(int)
    assert len(np.unique(cells, axis=0)) == 1600
    strip = box(0, 0, 0, 0.01, 1.0, 0.5, skip=("+x", "-x", "+y", "-y", "-z"))
    counts = [sample_part(strip, 0.025, rng)[0].shape[0] for _ in range(400)]
    assert abs(np.mean(counts) - 16.0) < 0.5


def test_scene_density_matches_the_spacing() -> None:
    """Open floor (no object above, no holes) holds one point per 3.2 cm x 3.2 cm:
    a 0.5 m x 0.5 m square has 0.25 / 0.032^2 = 244 points (median over free squares)."""
    result = cached(2, CLEAN)
    floor = result.scene.xyz[result.scene.semantic == 2]
    rects = [o.footprint() for o in result.layout.objects if o.kind not in ("floor", "wall")]
    counts = []
    for x in np.arange(0.5, result.layout.width_m - 1.0, 0.5):
        for y in np.arange(0.5, result.layout.length_m - 1.0, 0.5):
            if any(r[0] < x + 0.6 and x - 0.1 < r[2] and r[1] < y + 0.6 and y - 0.1 < r[3]
                   for r in rects):  # fmt: skip
                continue
            inside = (floor[:, 0] >= x) & (floor[:, 0] < x + 0.5)
            counts.append(np.sum(inside & (floor[:, 1] >= y) & (floor[:, 1] < y + 0.5)))
    assert len(counts) >= 3 and abs(np.median(counts) / 244.1 - 1) < 0.1


def test_position_and_colour_noise_have_the_configured_size() -> None:
    """Noise is the only difference between a clean and a noisy scan of one seed (the random
    streams stay aligned): xyz differs by a Gaussian of std 3..5 mm, colours by ~0.03."""
    noisy = replace(CLEAN, position_noise_m=(0.003, 0.005), color_noise=0.03)
    clean_scene, noisy_scene = cached(4, CLEAN).scene, cached(4, noisy).scene
    assert clean_scene.num_points == noisy_scene.num_points
    shift = (noisy_scene.xyz - clean_scene.xyz).astype(np.float64)
    assert 0.003 * 0.97 < shift.std() < 0.005 * 1.03 and abs(shift.mean()) < 1e-4
    inner = (clean_scene.colors > 0.15) & (clean_scene.colors < 0.85)  # unclipped channels
    colour = (noisy_scene.colors - clean_scene.colors)[inner]
    assert abs(colour.std() - 0.03) < 0.003
    np.testing.assert_allclose(np.linalg.norm(noisy_scene.normals, axis=1), 1.0, atol=1e-5)


def test_holes_remove_points() -> None:
    """Blob holes remove points: more holes per m^2, fewer points; labels stay consistent."""
    few = cached(6, replace(CLEAN, holes_per_m2=0.0)).scene
    many = cached(6, replace(CLEAN, holes_per_m2=2.0)).scene
    assert many.num_points < 0.9 * few.num_points


# --- building blocks -----------------------------------------------------------------------


def test_pose_composition_hand_computed() -> None:
    """Turn (1, 0) by 90 deg -> (0, 1), then shift by (2, 3) -> (2, 4); composing a pose that
    puts (0, 0) at (1, 0) with that one puts it at (2, 4)."""
    outer = Pose(2.0, 3.0, math.pi / 2)
    np.testing.assert_allclose(outer.apply_xy(1.0, 0.0), (2.0, 4.0), atol=1e-12)
    combined = Pose(1.0, 0.0, 0.0).then(outer)
    np.testing.assert_allclose(combined.apply_xy(0.0, 0.0), (2.0, 4.0), atol=1e-12)
    assert combined.yaw == pytest.approx(math.pi / 2)


def test_solid_containment_hand_computed() -> None:
    """A 2 x 1 x 1 box turned 90 deg spans x in [-0.5, 0.5], y in [-1, 1]: (0, 0.9, 0) is in,
    (0.9, 0, 0) is out; a cylinder of radius 0.5: (0.3, 0.3, 0) in (r = 0.42), (0.4, 0.4, 0)
    out (r = 0.57)."""
    parts = [
        Part("box", (0, 0, 0), (2, 1, 1), math.pi / 2),
        Part("cylinder", (0, 0, 0), (1, 1, 1)),
    ]
    table = SolidTable.from_parts(parts)
    points = np.array([[0, 0.9, 0], [0.9, 0, 0], [0.3, 0.3, 0], [0.4, 0.4, 0]], dtype=float)
    inside = table.contains(points, np.array([0, 0, 1, 1]), 0.0)
    np.testing.assert_array_equal(inside, [True, False, True, False])
    np.testing.assert_allclose(table.aabb_max[0], [0.5, 1.0, 0.5], atol=1e-12)


@pytest.mark.parametrize(
    "changes",
    [
        {"room_types": ("attic",)}, {"room_types": ()}, {"room_size_m": (5.0, 3.0)},
        {"point_spacing_m": 0.0}, {"hard_case_prob": 1.5}, {"position_noise_m": (-0.1, 0.0)},
        {"holes_per_m2": -1.0},
    ],
)  # fmt: skip
def test_bad_config_is_rejected(changes: dict) -> None:
    with pytest.raises(ValueError):
        SynthConfig(**changes)


def test_config_round_trips_through_a_dict() -> None:
    config = SynthConfig(room_types=("office", "kitchen"), point_spacing_m=0.02)
    assert SynthConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown SynthConfig fields"):
        SynthConfig.from_dict({"colour": 1})
