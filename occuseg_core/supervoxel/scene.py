"""Supervoxels of a voxelized scene, as the Segmenter runs them: mesh supervoxels for scans with
faces, point-cloud supervoxels otherwise, and their adjacency."""

from __future__ import annotations

import numpy as np

from occuseg_core.data.voxelize import VoxelGrid, majority_label
from occuseg_core.supervoxel.adjacency import mesh_supervoxel_adjacency, supervoxel_adjacency
from occuseg_core.supervoxel.graph import relabel_consecutive
from occuseg_core.supervoxel.mesh import segment_mesh
from occuseg_core.supervoxel.pointcloud import segment_voxels
from occuseg_core.types import Scene


def scene_supervoxels(scene: Scene, grid: VoxelGrid, options) -> tuple[np.ndarray, np.ndarray]:
    """Supervoxels of a voxelized scene and their adjacency.

    Scenes with faces (and `options.use_mesh`) use the mesh segmentator, its segments carried to
    voxels by majority; they are adjacent through mesh edges as well as touching voxels, since a
    decimated mesh's voxels often do not touch. Other scenes use point-cloud supervoxels over
    voxels within `options.supervoxels.neighbor_radius_vox`.

    Returns:
        (V,) int64 supervoxel id of each voxel (0..K-1) and (E, 2) int64 adjacent pairs i < j.
    """
    if scene.faces is not None and len(scene.faces) and options.use_mesh:
        vertex_segment = segment_mesh(scene.xyz, scene.faces, options.mesh_supervoxels)
        voxel_segment = majority_label(grid.point_to_voxel, vertex_segment, grid.num_voxels)
        supervoxel = relabel_consecutive(voxel_segment)
        edges = np.concatenate(
            [
                supervoxel_adjacency(grid.coords, supervoxel),
                mesh_supervoxel_adjacency(scene.faces, grid.to_points(supervoxel)),
            ]
        )
        return supervoxel, np.unique(edges, axis=0)
    config = options.supervoxels
    supervoxel = segment_voxels(grid.coords, grid.colors, grid.normals, config)
    return supervoxel, supervoxel_adjacency(grid.coords, supervoxel, config.neighbor_radius_vox)
