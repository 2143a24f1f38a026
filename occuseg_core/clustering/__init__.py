"""Occupancy-aware clustering (paper sec. 3.2): supervoxel statistics, greedy graph merging,
scored instances. Pure numpy + numba; runs on saved head outputs without torch."""

from occuseg_core.clustering.graph_merge import (
    MergeConfig,
    MergeResult,
    edge_weights,
    merge_supervoxels,
)
from occuseg_core.clustering.instances import InstanceSegmentation, cluster_instances
from occuseg_core.clustering.statistics import SupervoxelStatistics, supervoxel_statistics

__all__ = [
    "InstanceSegmentation",
    "MergeConfig",
    "MergeResult",
    "SupervoxelStatistics",
    "cluster_instances",
    "edge_weights",
    "merge_supervoxels",
    "supervoxel_statistics",
]
