"""Supervoxels (paper sec. 3.2): Felzenszwalb-Huttenlocher over-segmentation of a mesh
(ScanNet-compatible `segIndices`) or of occupied voxels, and the supervoxel adjacency that the
clustering merges over. numpy + compiled loops (C, numba); no torch.

The names below are imported on first use (PEP 562), so that `occuseg supervoxels` on a mesh
loads neither numba nor the point-cloud code."""

from __future__ import annotations

import importlib

_SOURCES = {
    "mesh_supervoxel_adjacency": "adjacency",
    "supervoxel_adjacency": "adjacency",
    "felzenszwalb_segment": "graph",
    "relabel_consecutive": "graph",
    "MeshSupervoxelConfig": "mesh",
    "mesh_edge_weights": "mesh",
    "mesh_edges": "mesh",
    "mesh_vertex_normals": "mesh",
    "segment_mesh": "mesh",
    "voxel_neighbor_edges": "neighbors",
    "PointCloudSupervoxelConfig": "pointcloud",
    "segment_voxels": "pointcloud",
    "voxel_edge_weights": "pointcloud",
    "best_match_agreement": "quality",
    "supervoxel_purity": "quality",
    "estimate_voxel_normals": "voxel_normals",
}

__all__ = sorted(_SOURCES, key=str.lower)


def __getattr__(name: str):
    if name not in _SOURCES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_SOURCES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SOURCES))
