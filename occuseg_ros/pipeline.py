"""One cloud in, the three output messages out: what segment_node and `occuseg bag` share.

`CloudPipeline` holds a Segmenter (anything with `segment(scene)`, `voxel_size_m` and, for
the CUDA out-of-memory fallback, `on_device(device)`), applies the node's instance filters
and class-name overrides, and times each stage. It never touches a Node: callers log, count
and publish.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace

import numpy as np
from sensor_msgs.msg import PointCloud2
from visualization_msgs.msg import MarkerArray

from occuseg_core.data.voxelize import MAX_VOXEL_COORDINATE
from occuseg_core.types import Scene, SegmentationResult
from occuseg_ros.conversions import (
    LabelledCloud,
    label_cloud,
    labelled_to_cloud,
    labelled_to_instances,
    labelled_to_markers,
    scene_from_cloud,
)
from occuseg_ros.msg import InstanceArray
from occuseg_ros.params import NodeParams, ParameterError


@dataclass(frozen=True, eq=False)
class Outputs:
    """The messages for one input (cloud/markers None when switched off), stage times, and
    what was done to the input: downsampled, finite points dropped beyond max_range_m."""

    labelled: LabelledCloud
    instances: InstanceArray
    cloud: PointCloud2 | None
    markers: MarkerArray | None
    timings_s: dict[str, float]
    downsampled: bool = False
    out_of_range: int = 0


def filter_result(result: SegmentationResult, *, min_points: int, min_score: float,
                  names: dict[int, str] | None = None) -> SegmentationResult:  # fmt: skip
    """Drops instances with < min_points points or score < min_score; renumbers the rest 0..M-1.

    Args:
        names: class id -> display name overrides.
    """
    names = names or {}
    keep = [r for r in result.instances if r.point_count >= min_points and r.score >= min_score]
    new_id = np.full(len(result.instances) + 1, -1, dtype=np.int64)
    new_id[[r.id for r in keep]] = np.arange(len(keep))
    ids = new_id[np.where(result.instance_ids >= 0, result.instance_ids, len(result.instances))]
    records = tuple(
        replace(r, id=k, class_name=names.get(r.class_id, r.class_name))
        for k, r in enumerate(keep)
    )
    return replace(result, instance_ids=ids, instances=records,
                   class_names={**result.class_names, **names})  # fmt: skip


def is_cuda_oom(error: BaseException) -> bool:
    """True for torch's CUDA out-of-memory error (without importing torch here)."""
    return type(error).__name__ == "OutOfMemoryError" or "CUDA out of memory" in str(error)


class CloudPipeline:
    """Segments PointCloud2 messages.

    Args:
        segmenter: the model wrapper (real `Segmenter` or a test double).
        params: the node's parameters (limits, filters, output switches); `configure`
            replaces them at run time.
        logger: where the out-of-memory fallback is reported.

    Raises:
        ParameterError: max_range_m too large for the model's voxel size.
    """

    def __init__(self, segmenter, params: NodeParams, logger=None) -> None:
        self.segmenter = segmenter
        self.logger = logger or logging.getLogger("occuseg_ros")
        self._cpu_segmenter = None
        self.configure(params)

    def configure(self, params: NodeParams) -> None:
        """Uses `params` from the next cloud on. Raises ParameterError as `check`."""
        self.check(params)
        self.names = params.class_name_overrides()
        self.params = params

    def check(self, params: NodeParams) -> None:
        """Refuses a max_range_m whose points could fall outside the model's voxel grid.

        Points at most max_range_m from the origin (map mode: in cells of voxel_size_m) span at
        most 2 * (max_range_m + voxel_size_m), which must stay within MAX_VOXEL_COORDINATE
        model voxels, so no finite input reaches the model's voxel-range error.

        Raises:
            ParameterError: naming max_range_m and the largest value that fits.
        """
        model_voxel_m = float(self.segmenter.voxel_size_m)
        cell_m = params.voxel_size_m or model_voxel_m
        reach_m = (MAX_VOXEL_COORDINATE - 1) * model_voxel_m / 2 - cell_m
        if params.max_range_m > reach_m:
            raise ParameterError(
                f"parameter 'max_range_m': {params.max_range_m:g} m is too far for the model's"
                f" {model_voxel_m:g} m voxels; at most {math.floor(reach_m)} m"
            )

    @property
    def voxel_size_m(self) -> float:
        return self.params.voxel_size_m or float(self.segmenter.voxel_size_m)

    def segment(self, scene: Scene) -> SegmentationResult:
        """Segments a scene; on CUDA out-of-memory, retries this scene on the CPU."""
        try:
            result = self.segmenter.segment(scene)
        except Exception as error:  # noqa: BLE001 - torch's OOM type needs no torch import
            if not is_cuda_oom(error):
                raise
            self.logger.error(f"CUDA out of memory on {scene.num_points} points; retrying on CPU")
            if self._cpu_segmenter is None:
                self._cpu_segmenter = self.segmenter.on_device("cpu")
            _free_cuda_cache()
            result = self._cpu_segmenter.segment(scene)
        params = self.params
        return filter_result(result, min_points=params.min_instance_points,
                             min_score=params.score_threshold, names=self.names)  # fmt: skip

    def process(self, msg: PointCloud2) -> Outputs:
        """Cloud -> outputs with the input's header.

        Raises:
            CloudError: the cloud cannot be read or has no valid point.
        """
        start, params = time.perf_counter(), self.params
        cloud = scene_from_cloud(msg, max_input_points=params.max_input_points,
                                 max_points=params.max_points, voxel_size_m=self.voxel_size_m,
                                 max_range_m=params.max_range_m)  # fmt: skip
        read_s = time.perf_counter() - start
        result = self.segment(cloud.scene)
        segment_s = time.perf_counter() - start - read_s
        outputs = self.render(msg.header, label_cloud(cloud, result))
        timings = {"convert_in": read_s, "segmenter": segment_s,
                   **{k: v for k, v in result.timings_s.items() if k != "total"},
                   "convert_out": outputs.timings_s["convert_out"]}  # fmt: skip
        return replace(outputs, timings_s=timings, downsampled=cloud.downsampled,
                       out_of_range=cloud.num_out_of_range)  # fmt: skip

    def render(self, header, labelled: LabelledCloud) -> Outputs:
        """The three messages of a labelled cloud (points/markers only when switched on)."""
        start, params = time.perf_counter(), self.params
        instances = labelled_to_instances(header, labelled)
        cloud = labelled_to_cloud(header, labelled) if params.publish_points else None
        markers = labelled_to_markers(header, labelled) if params.publish_markers else None
        return Outputs(labelled=labelled, instances=instances, cloud=cloud, markers=markers,
                       timings_s={"convert_out": time.perf_counter() - start})  # fmt: skip

    def warm_up(self) -> None:
        """Pays the first scan's extra cost now (numba start-up, first kernels; see
        occuseg_core/warmup.py)."""
        from occuseg_core.warmup import warm_up

        warm_up(self.segmenter)


def _free_cuda_cache() -> None:
    try:
        import torch

        torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 - best effort only
        pass
