"""Point-cloud supervoxels: PCA voxel normals, the voxel edge weight, segmentation of synthetic
scenes (touching boxes on a floor, a two-coloured plane), empty and invalid inputs."""

from __future__ import annotations

import numpy as np
import pytest

from occuseg_core.supervoxel import (
    PointCloudSupervoxelConfig,
    estimate_voxel_normals,
    segment_voxels,
    supervoxel_purity,
    voxel_edge_weights,
)


def voxels_of(points: np.ndarray) -> np.ndarray:
    """(V, 3) int32 unit cells floor(p) occupied by the points."""
    return np.unique(np.floor(points).astype(np.int64), axis=0).astype(np.int32)


def flat_cells(nx: int, ny: int) -> np.ndarray:
    """(nx * ny, 3) int32 cells (i, j, 0) of a flat one-voxel-thick sheet."""
    return voxels_of(np.stack(np.meshgrid(np.arange(nx), np.arange(ny), [0.5]), -1).reshape(-1, 3))


def box_faces(lo, hi, skip=(), step=0.5) -> np.ndarray:
    """Points every `step` on the faces of an axis-aligned box, minus the faces in `skip`
    ((axis, 0 = low side / 1 = high side) pairs)."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    out = []
    for axis in range(3):
        u, v = [a for a in range(3) if a != axis]
        grid = np.meshgrid(np.arange(lo[u], hi[u] + 1e-9, step),
                           np.arange(lo[v], hi[v] + 1e-9, step), indexing="ij")  # fmt: skip
        for side, value in ((0, lo[axis]), (1, hi[axis])):
            if (axis, side) not in skip:
                face = np.zeros((grid[0].size, 3))
                face[:, axis], face[:, u], face[:, v] = value, grid[0].ravel(), grid[1].ravel()
                out.append(face)
    return np.concatenate(out)


def boxes_on_floor() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A grey 40 x 40 floor, a red box A (10 x 10 x 10) and a blue box B (6.5 x 8 x 5) pushed
    against A's +x side (the faces they rest or lean on are not scanned). Labels 1 floor,
    2 A, 3 B; a voxel holding points of several takes the largest label."""
    floor = box_faces((0, 0, 0), (40, 40, 0), skip={(0, 0), (0, 1), (1, 0), (1, 1), (2, 1)})
    box_a = box_faces((5, 5, 0.5), (15, 15, 10), skip={(2, 0)})
    box_b = box_faces((15.5, 6, 0.5), (22, 14, 5), skip={(2, 0), (0, 0)})
    points = np.concatenate([floor, box_a, box_b])
    labels = np.repeat([1, 2, 3], [len(floor), len(box_a), len(box_b)])
    cells, inverse = np.unique(np.floor(points).astype(np.int64), axis=0, return_inverse=True)
    voxel_label = np.zeros(len(cells), dtype=np.int64)
    np.maximum.at(voxel_label, inverse.reshape(-1), labels)
    palette = np.array([[0.5, 0.5, 0.5], [0.8, 0.2, 0.2], [0.2, 0.2, 0.8]], dtype=np.float32)
    return cells.astype(np.int32), palette[voxel_label - 1], voxel_label


def test_plane_normals_face_the_viewpoint():
    coords = flat_cells(12, 9)
    up = estimate_voxel_normals(coords, viewpoint_vox=(5.0, 5.0, 10.0))
    down = estimate_voxel_normals(coords, viewpoint_vox=(5.0, 5.0, -10.0))
    assert up.dtype == np.float32 and up.shape == (len(coords), 3)
    np.testing.assert_allclose(up, [[0, 0, 1]] * len(coords), atol=1e-6)
    np.testing.assert_allclose(down, -up, atol=1e-6)
    # The default viewpoint (box centre) lies in the sheet: edge-on normals fall back to +z.
    np.testing.assert_allclose(estimate_voxel_normals(coords), up, atol=1e-6)


def test_tilted_plane_normal():
    """Points of z = 0.5 x sampled every 0.2 voxel: the surface normal is (-0.5, 0, 1) /
    sqrt(1.25) = (-0.447, 0, 0.894); the staircase of cells still gives it within 5 degrees away
    from the plane's border."""
    x, y = np.meshgrid(np.arange(0, 30, 0.2), np.arange(0, 20, 0.2))
    coords = voxels_of(np.stack([x, y, 0.5 * x], -1).reshape(-1, 3))
    normals = estimate_voxel_normals(coords, radius_vox=2, viewpoint_vox=(15.0, 10.0, 100.0))
    inner = np.all((coords[:, :2] >= 4) & (coords[:, :2] <= [25, 15]), axis=1)
    expected = np.array([-0.5, 0.0, 1.0]) / np.sqrt(1.25)
    assert np.all(normals[inner] @ expected > np.cos(np.radians(5)))


def test_sphere_normals_face_its_centre_by_default():
    """Default viewpoint = centre of the bounding box = the sphere's centre: normals point in."""
    rng = np.random.default_rng(1)
    direction = rng.normal(size=(20000, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    coords = voxels_of(12.0 * direction + 20.0)
    normals = estimate_voxel_normals(coords)
    inward = 20.0 - (coords + 0.5)
    inward /= np.linalg.norm(inward, axis=1, keepdims=True)
    cosine = np.einsum("ij,ij->i", normals, inward)
    assert np.all(cosine > 0) and np.median(cosine) > 0.97


def test_edge_weight_by_hand():
    """n_a = (0,0,1) at (0,0,0), n_b = (0.6,0,0.8) at (1,0,0): g = 1 - 0.8 = 0.2; (n_b - n_a) .
    (p_b - p_a) = 0.6 > 0 is convex, g^2 = 0.04; colours 0.3 apart add 0.5 * 0.3 = 0.15: 0.19.
    Without the convexity rule 0.2 + 0.15 = 0.35; with b at (-1,0,0) the bend is concave: 0.35."""
    normals = np.array([[0, 0, 1], [0.6, 0, 0.8]])
    colors = np.array([[0.5, 0.5, 0.5], [0.5, 0.5, 0.8]])
    edge = np.array([[0, 1]])
    config = PointCloudSupervoxelConfig(color_weight=0.5)
    for coords, convexity, expected in [
        ([[0, 0, 0], [1, 0, 0]], True, 0.19),
        ([[0, 0, 0], [1, 0, 0]], False, 0.35),
        ([[0, 0, 0], [-1, 0, 0]], True, 0.35),
    ]:
        config = PointCloudSupervoxelConfig(color_weight=0.5, convexity=convexity)
        weight = voxel_edge_weights(np.array(coords), colors, normals, edge, config)
        np.testing.assert_allclose(weight, [expected], atol=1e-6)


def test_colour_edge_splits_a_plane_exactly():
    """A flat 30 x 30 plane, left half colour 0.2, right half 0.8. PCA normals are exactly
    (0,0,1), so inside a half every weight is 0 and each half merges; across the seam the weight
    is 0.25 * |(0.6, 0.6, 0.6)| = 0.26 > 0 + 0.05 / 450: exactly two supervoxels. Without the
    colour term everything weighs 0: one supervoxel."""
    coords = flat_cells(30, 30)
    colors = np.where(coords[:, :1] < 15, 0.2, 0.8).repeat(3, axis=1).astype(np.float32)
    config = PointCloudSupervoxelConfig(viewpoint_vox=(15.0, 15.0, 10.0))
    supervoxel = segment_voxels(coords, colors, None, config)
    assert supervoxel.dtype == np.int64
    assert np.array_equal(supervoxel, (coords[:, 0] >= 15).astype(np.int64))
    plain = PointCloudSupervoxelConfig(color_weight=0.0, viewpoint_vox=(15.0, 15.0, 10.0))
    assert np.all(segment_voxels(coords, colors, None, plain) == 0)


def test_given_normals_are_used():
    """The same grey plane with given normals (0,0,1) left and (1,0,0) right: the seam weighs
    1 - 0 = 1 (or 1^2), far above k / |C|: two supervoxels although colours are equal."""
    coords = flat_cells(30, 30)
    normals = np.where(coords[:, :1] < 15, [[0, 0, 1]], [[1, 0, 0]]).astype(np.float32)
    supervoxel = segment_voxels(coords, np.full((len(coords), 3), 0.5, np.float32), normals)
    assert np.array_equal(supervoxel, (coords[:, 0] >= 15).astype(np.int64))


def test_touching_boxes_are_not_merged():
    """Defaults on the floor + two touching boxes: no supervoxel holds >= 10% of each box, and
    >= 99% of voxels share their supervoxel's majority label (the rest: floor cells under a box's
    rim that the test labels as box)."""
    coords, colors, labels = boxes_on_floor()
    supervoxel = segment_voxels(coords, colors)
    assert supervoxel_purity(supervoxel, labels) >= 0.99
    for k in range(supervoxel.max() + 1):
        counts = np.bincount(labels[supervoxel == k], minlength=4)
        assert min(counts[2], counts[3]) < 0.1 * counts.sum(), (k, counts)
    assert 3 <= supervoxel.max() + 1 <= 60


def test_empty_and_single_voxel():
    empty = segment_voxels(np.empty((0, 3), np.int32), np.empty((0, 3), np.float32))
    assert empty.dtype == np.int64 and empty.shape == (0,)
    assert estimate_voxel_normals(np.empty((0, 3), np.int32)).shape == (0, 3)
    one = segment_voxels(np.zeros((1, 3), np.int32), np.zeros((1, 3), np.float32))
    assert one.tolist() == [0]
    np.testing.assert_array_equal(estimate_voxel_normals(np.zeros((1, 3), np.int32)), [[0, 0, 1]])


@pytest.mark.parametrize(
    "coords, colors, normals",
    [
        ([[0, 0, 0], [0, 0, 0]], np.zeros((2, 3)), None),  # voxel twice
        ([[0, 0, 0], [0, 0, 1]], np.full((2, 3), 2.0), None),  # colours above 1
        ([[0, 0, 0], [0, 0, 1]], np.zeros((3, 3)), None),
        ([[0, 0, 0], [0, 0, 1]], np.zeros((2, 3)), np.zeros((2, 2))),
        ([[0, 0, 0], [0, 0, 1]], np.zeros((2, 3)), np.full((2, 3), np.nan)),
        ([[0.0, 0, 0], [0, 0, 1]], np.zeros((2, 3)), None),  # float coords
    ],
)
def test_invalid_inputs_raise(coords, colors, normals):
    with pytest.raises(ValueError):
        segment_voxels(np.array(coords), np.array(colors), normals)


@pytest.mark.parametrize(
    "kwargs",
    [{"k_thresh": -0.1}, {"color_weight": float("nan")}, {"min_size_vox": -1},
     {"normal_radius_vox": 0}, {"neighbor_radius_vox": 1.5}, {"viewpoint_vox": (1.0, 2.0)}],
)  # fmt: skip
def test_invalid_config_raises(kwargs):
    with pytest.raises(ValueError):
        PointCloudSupervoxelConfig(**kwargs)
