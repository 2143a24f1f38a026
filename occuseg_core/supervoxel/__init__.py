"""Supervoxels (paper sec. 3.2): Felzenszwalb-Huttenlocher over-segmentation of a mesh
(ScanNet-compatible `segIndices`) or of occupied voxels, and the supervoxel adjacency that the
clustering merges over. numpy + compiled (numba) loops; no torch."""

from occuseg_core.supervoxel.adjacency import mesh_supervoxel_adjacency, supervoxel_adjacency
from occuseg_core.supervoxel.graph import felzenszwalb_segment, relabel_consecutive
from occuseg_core.supervoxel.mesh import (
    MeshSupervoxelConfig,
    mesh_edge_weights,
    mesh_edges,
    mesh_vertex_normals,
    segment_mesh,
)
from occuseg_core.supervoxel.neighbors import voxel_neighbor_edges
from occuseg_core.supervoxel.pointcloud import (
    PointCloudSupervoxelConfig,
    segment_voxels,
    voxel_edge_weights,
)
from occuseg_core.supervoxel.quality import best_match_agreement, supervoxel_purity
from occuseg_core.supervoxel.voxel_normals import estimate_voxel_normals

__all__ = [
    "MeshSupervoxelConfig",
    "PointCloudSupervoxelConfig",
    "best_match_agreement",
    "estimate_voxel_normals",
    "felzenszwalb_segment",
    "mesh_edge_weights",
    "mesh_edges",
    "mesh_supervoxel_adjacency",
    "mesh_vertex_normals",
    "relabel_consecutive",
    "segment_mesh",
    "segment_voxels",
    "supervoxel_adjacency",
    "supervoxel_purity",
    "voxel_edge_weights",
    "voxel_neighbor_edges",
]
