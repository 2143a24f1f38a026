"""Supervoxel adjacency (voxel 26-neighbourhood and mesh faces) and the voxel neighbour graph
on hand-made cases; random cases against brute force are in test/reference."""

from __future__ import annotations

import numpy as np
import pytest

from occuseg_core.supervoxel import (
    mesh_supervoxel_adjacency,
    supervoxel_adjacency,
    voxel_neighbor_edges,
)
from occuseg_core.supervoxel.neighbors import half_offsets


def test_neighbor_edges_by_hand():
    """(0,0,0)-(1,1,1) share a corner; (3,0,0) is 2 cells from both (only linked at radius 2,
    to (1,1,1): max(|3-1|, |0-1|, |0-1|) = 2)."""
    coords = np.array([[0, 0, 0], [1, 1, 1], [3, 0, 0]], dtype=np.int32)
    assert sorted(map(sorted, voxel_neighbor_edges(coords).tolist())) == [[0, 1]]
    assert sorted(map(sorted, voxel_neighbor_edges(coords, 2).tolist())) == [[0, 1], [1, 2]]


def test_full_cube_has_all_pairs():
    """3 x 3 x 3 block: every pair is within Chebyshev distance 2, so radius 2 gives C(27, 2) =
    351 edges. Radius 1, per half offset the number of positions it fits: 3 face steps x
    (2*3*3) + 6 edge steps x (2*2*3) + 4 corner steps x (2*2*2) = 54 + 72 + 32 = 158."""
    coords = np.stack(np.meshgrid(range(3), range(3), range(3), indexing="ij"), -1).reshape(-1, 3)
    assert len(voxel_neighbor_edges(coords, 2)) == 351
    expected = sum(int(np.prod([3 - abs(d) for d in step])) for step in half_offsets(1))
    assert len(voxel_neighbor_edges(coords)) == expected == 158


def test_half_offsets():
    assert half_offsets(1).shape == (13, 3) and half_offsets(2).shape == (62, 3)
    steps = {tuple(s) for s in half_offsets(1)}
    assert all(tuple(-np.array(s)) not in steps for s in steps)


def test_voxel_adjacency_by_hand():
    """Voxels (0,0,0), (1,0,0), (5,0,0), (6,1,0) in supervoxels 4, 9, 4, 2: 4-9 touch at the
    first two voxels, 2-4 at the last two (a diagonal step); (5,0,0) and (1,0,0) are far."""
    coords = np.array([[0, 0, 0], [1, 0, 0], [5, 0, 0], [6, 1, 0]], dtype=np.int32)
    pairs = supervoxel_adjacency(coords, np.array([4, 9, 4, 2]))
    assert pairs.dtype == np.int64 and pairs.tolist() == [[2, 4], [4, 9]]


def test_mesh_adjacency_by_hand():
    """Triangles (0,1,2) and (2,3,4) with vertex segments [0,0,1,1,2]: edges 0-2 and 1-2 join
    segments 0-1, edges 2-4 and 3-4 join 1-2; nothing joins 0 and 2."""
    faces = np.array([[0, 1, 2], [2, 3, 4]])
    pairs = mesh_supervoxel_adjacency(faces, np.array([0, 0, 1, 1, 2]))
    assert pairs.tolist() == [[0, 1], [1, 2]]


@pytest.mark.parametrize(
    "call",
    [
        lambda: supervoxel_adjacency(np.empty((0, 3), np.int32), np.empty(0, np.int64)),
        lambda: supervoxel_adjacency(np.zeros((1, 3), np.int32), np.zeros(1, np.int64)),
        lambda: supervoxel_adjacency(np.array([[0, 0, 0], [0, 0, 1]]), np.array([3, 3])),
        lambda: mesh_supervoxel_adjacency(np.empty((0, 3), np.int64), np.zeros(4, np.int64)),
        lambda: mesh_supervoxel_adjacency(np.array([[0, 1, 2]]), np.array([5, 5, 5])),
    ],
)
def test_nothing_touches_gives_empty_pairs(call):
    pairs = call()
    assert pairs.dtype == np.int64 and pairs.shape == (0, 2)


def test_invalid_adjacency_inputs_raise():
    with pytest.raises(ValueError):
        supervoxel_adjacency(np.zeros((2, 3), np.int32), np.zeros(3, np.int64))  # lengths
    with pytest.raises(ValueError):
        supervoxel_adjacency(np.zeros((2, 3), np.int32), np.zeros(2, np.int64))  # duplicate
    with pytest.raises(ValueError):
        mesh_supervoxel_adjacency(np.array([[0, 1, 5]]), np.zeros(3, np.int64))
    with pytest.raises(ValueError):
        voxel_neighbor_edges(np.zeros((2, 3), np.int32), radius_vox=0)
