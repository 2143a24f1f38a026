"""The end-to-end `Segmenter`: Scene -> voxels -> network -> supervoxels -> instances.

This is what the CLI, the benchmarks and the ROS nodes call. Every stage is a plain function
of the previous stage's output (`voxelize`, `OccuSegNet.forward`, `segment_voxels` /
`segment_mesh`, `cluster_instances`), so each can also be run and tested on its own.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from occuseg_core.alignment import align_to_walls
from occuseg_core.bundled_models import (  # noqa: F401  (part of this module's API)
    BUNDLED_MODELS,
    DEFAULT_MODEL,
    resolve_checkpoint,
)
from occuseg_core.classes import ClassTable, class_table
from occuseg_core.clustering import InstanceSegmentation, MergeConfig, cluster_instances
from occuseg_core.config import OccuSegConfig
from occuseg_core.data.collate import collate
from occuseg_core.data.voxelize import VoxelGrid, voxelize
from occuseg_core.device import resolve_device
from occuseg_core.engine.checkpoint import load_checkpoint
from occuseg_core.errors import OccusegError
from occuseg_core.model import OccuSegNet
from occuseg_core.supervoxel import MeshSupervoxelConfig, PointCloudSupervoxelConfig
from occuseg_core.supervoxel.scene import scene_supervoxels  # noqa: F401  (part of the API)
from occuseg_core.threads import network_threads
from occuseg_core.tiling import TilingOptions, segment_tiled, should_tile
from occuseg_core.types import InstanceRecord, Scene, SegmentationResult, instance_extents
from occuseg_core.views import unview_vectors, view_coords, views_in_order


@dataclass(frozen=True)
class SegmenterOptions:
    """Inference settings that do not change the network.

    Args:
        supervoxels: point-cloud supervoxel parameters (scenes without faces).
        mesh_supervoxels: mesh supervoxel parameters (scenes with faces, ScanNet-compatible).
        use_mesh: use mesh supervoxels when the scene has faces.
        merge: occupancy-aware merging parameters (eq. 14; ablation switches).
        min_instance_points: drop instances with fewer input points.
        score_threshold: drop instances with a lower score.
        semantics_from_instances: a point outside every kept instance is labelled with the most
            likely background class of its voxel (wall or floor for ScanNet), so an object
            class is only ever given to the points of an instance of it (not in the paper;
            measured in docs/RESULTS.md: mIoU 15.6 -> 21.3 on the real validation rooms,
            85.6 -> 89.6 on synthetic ones). False: every voxel's own most likely class.
        tiling: when `segment` cuts a large scan into tiles and stitches them
            (`occuseg_core.tiling`; by default above 1 M points).
        views: test-time views averaged by the network stage (`occuseg_core.views`): 1 (the
            scan), 2, 4 (quarter turns about z) or 8 (and mirrored); n views cost n network
            passes.
        align_walls: turn the scan about z so that its walls run along x and y before the
            network and the supervoxels (`occuseg_core.alignment`; not in the paper): the
            models were trained on wall-aligned rooms, and a scan at 45 degrees to its walls
            loses most of its instances without it. Results stay in the input's frame.
    """

    supervoxels: PointCloudSupervoxelConfig = field(default_factory=PointCloudSupervoxelConfig)
    mesh_supervoxels: MeshSupervoxelConfig = field(default_factory=MeshSupervoxelConfig)
    use_mesh: bool = True
    merge: MergeConfig = field(default_factory=MergeConfig)
    min_instance_points: int = 0
    score_threshold: float = 0.0
    semantics_from_instances: bool = True
    tiling: TilingOptions = field(default_factory=TilingOptions)
    views: int = 1
    align_walls: bool = True

    def __post_init__(self) -> None:
        views_in_order(self.views)  # ValueError for a count other than 1, 2, 4, 8


@dataclass(frozen=True, eq=False)
class VoxelPredictions:
    """Head outputs of one scene as numpy arrays (V rows, float32)."""

    semantic_probs: np.ndarray
    feature_embedding: np.ndarray
    spatial_embedding: np.ndarray
    sigma: np.ndarray
    log_occupancy: np.ndarray


@dataclass(frozen=True, eq=False)
class PreparedScene:
    """A scene after the stages that do not depend on the merging settings.

    Attributes:
        scene: the input scene.
        grid: its voxels.
        predictions: the network's head outputs per voxel.
        supervoxel: (V,) supervoxel id of each voxel.
        edges: (E, 2) adjacent supervoxel pairs.
        timings_s: seconds of "voxelize", "network" and "supervoxels".
    """

    scene: Scene
    grid: VoxelGrid
    predictions: VoxelPredictions
    supervoxel: np.ndarray
    edges: np.ndarray
    timings_s: dict[str, float]


class Segmenter:
    """Segments scenes into instances with a trained OccuSegNet.

    Args:
        model: the network (moved to `device`, put in eval mode).
        config: the config the model was trained with (voxel size, class table).
        device: where the network runs.
        half: run the network in float16 autocast (CUDA only; ignored with a warning on CPU).
        options: supervoxel / merging / filtering settings.
        model_label: what the model is, for messages (a bundled model's name or a path).
    """

    def __init__(
        self,
        *,
        model: OccuSegNet,
        config: OccuSegConfig,
        device: torch.device,
        half: bool = False,
        options: SegmenterOptions | None = None,
        model_label: str = "a model given in memory",
    ) -> None:
        self.config = config
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        if half and self.device.type != "cuda":
            warnings.warn("half precision needs CUDA; running in float32 on the CPU", stacklevel=2)
            half = False
        self.half = half
        self.options = options or SegmenterOptions()
        self.classes: ClassTable = class_table(config.model.class_table)
        self.model_label = model_label

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path | None = None,
        device: str = "auto",
        *,
        half: bool = False,
        options: SegmenterOptions | None = None,
    ) -> Segmenter:
        """Loads a checkpoint (training or exported) or a bundled model by name.

        Args:
            path: a checkpoint file, a bundled model's name ("real", "synthetic"; see
                `BUNDLED_MODELS`), or None for the default bundled model (`DEFAULT_MODEL`).
            device: "auto", "cpu", "cuda" or "cuda:N".
            half: float16 network (CUDA only).
            options: supervoxel / merging / filtering settings.

        Raises:
            OccusegError: missing, corrupted or incompatible checkpoint; bad device.
        """
        path, label = resolve_checkpoint(path)
        torch_device = resolve_device(device)
        checkpoint = load_checkpoint(path, map_location="cpu")
        model = OccuSegNet.from_config(checkpoint["config"].model)
        try:
            model.load_state_dict(checkpoint["model"])
        except RuntimeError as error:
            raise OccusegError(f"checkpoint {path} does not fit its own config: {error}") from None
        return cls(
            model=model,
            config=checkpoint["config"],
            device=torch_device,
            half=half,
            options=options,
            model_label=label,
        )

    @property
    def voxel_size_m(self) -> float:
        return self.config.data.voxel_size_m

    @property
    def class_names(self) -> dict[int, str]:
        """Dataset class id -> name for every class the model predicts."""
        return dict(zip(self.classes.dataset_ids, self.classes.names, strict=True))

    def on_device(self, device: str | torch.device) -> Segmenter:
        """A copy of this segmenter running on another device (e.g. CPU after a CUDA OOM)."""
        model = copy.deepcopy(self.model).to("cpu")
        return Segmenter(
            model=model,
            config=self.config,
            device=torch.device(device),
            half=self.half and torch.device(device).type == "cuda",
            options=self.options,
            model_label=self.model_label,
        )

    def predict_voxels(self, grid: VoxelGrid) -> VoxelPredictions:
        """Runs the network on one voxel grid, averaged over `options.views` test-time views;
        on the CPU, on the threads `network_threads` chooses (the cores other work left free)."""
        views = views_in_order(self.options.views)
        on_cpu = self.device.type == "cpu"
        with network_threads() if on_cpu else contextlib.nullcontext():
            if len(views) == 1:
                return self._predict_view(grid)
            outputs = [
                self._predict_view(dataclasses.replace(grid, coords=view_coords(grid.coords, v)))
                for v in views
            ]
        outputs = [
            dataclasses.replace(out, spatial_embedding=unview_vectors(out.spatial_embedding, v))
            for out, v in zip(outputs, views, strict=True)
        ]
        return VoxelPredictions(*(
            np.mean([getattr(o, f.name) for o in outputs], axis=0, dtype=np.float32)
            for f in dataclasses.fields(VoxelPredictions)
        ))  # fmt: skip

    @torch.inference_mode()
    def _predict_view(self, grid: VoxelGrid) -> VoxelPredictions:
        batch = collate([grid], features=self.config.data.input_features).to(self.device)
        with torch.autocast(device_type=self.device.type, dtype=torch.float16, enabled=self.half):
            out = self.model(batch)
        numpy = lambda t: t.float().cpu().numpy()  # noqa: E731
        return VoxelPredictions(
            semantic_probs=numpy(torch.softmax(out.semantic_logits.float(), dim=1)),
            feature_embedding=numpy(out.feature_embedding),
            spatial_embedding=numpy(out.spatial_embedding),
            sigma=numpy(out.sigma),
            log_occupancy=numpy(out.log_occupancy),
        )

    def supervoxels(self, scene: Scene, grid: VoxelGrid) -> tuple[np.ndarray, np.ndarray]:
        """(V,) supervoxel id of each voxel and (E, 2) adjacencies (see `scene_supervoxels`)."""
        return scene_supervoxels(scene, grid, self.options)

    def cluster(
        self,
        grid: VoxelGrid,
        predictions: VoxelPredictions,
        supervoxel: np.ndarray,
        edges: np.ndarray,
        merge: MergeConfig | None = None,
    ) -> InstanceSegmentation:
        """Occupancy-aware merging of the supervoxels into scored instances (eq. 12-14).

        Args:
            merge: merging settings for this call (e.g. an ablation); default `options.merge`.
        """
        return cluster_instances(
            semantic_probs=predictions.semantic_probs,
            positions_m=grid.positions_m,
            spatial_embedding=predictions.spatial_embedding,
            feature_embedding=predictions.feature_embedding,
            sigma=predictions.sigma,
            log_occupancy=predictions.log_occupancy,
            supervoxel=supervoxel,
            edges=edges,
            background_train_ids=self.classes.background_train_ids,
            config=merge or self.options.merge,
        )

    def prepare(self, scene: Scene) -> PreparedScene:
        """The stages before merging, run once: voxelize, the network, supervoxels (on the
        scan turned to its walls with `options.align_walls`; the grid's positions are then the
        turned ones, its point order the input's).

        `segment` continues with `cluster` and `assemble_result`; the evaluation clusters the
        same prepared scene once per ablation.
        """
        timings = {}
        tick = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal tick
            now = time.perf_counter()
            timings[name] = now - tick
            tick = now

        turned = align_to_walls(scene) if self.options.align_walls else scene
        grid = voxelize(turned, self.voxel_size_m)
        lap("voxelize")
        predictions = self.predict_voxels(grid)
        lap("network")
        supervoxel, edges = self.supervoxels(turned, grid)
        lap("supervoxels")
        return PreparedScene(scene, grid, predictions, supervoxel, edges, timings)

    def segment(self, scene: Scene) -> SegmentationResult:
        """Segments one scene; see `SegmentationResult` for what comes back. A scan that
        `options.tiling` asks to tile is segmented tile by tile and stitched (bounded memory)."""
        if should_tile(scene.xyz, self.options.tiling):
            return segment_tiled(
                scene,
                self.segment_whole,
                self.options.tiling,
                min_points=self.options.min_instance_points,
            )
        return self.segment_whole(scene)

    def segment_whole(self, scene: Scene) -> SegmentationResult:
        """Segments one scene in one pass, never tiled."""
        start = time.perf_counter()
        prepared = self.prepare(scene)
        tick = time.perf_counter()
        instances = self.cluster(
            prepared.grid, prepared.predictions, prepared.supervoxel, prepared.edges
        )
        timings = {**prepared.timings_s, "clustering": time.perf_counter() - tick}
        result = self.assemble_result(
            scene, prepared.grid, prepared.predictions, instances, timings
        )
        timings["total"] = time.perf_counter() - start
        return result

    def assemble_result(
        self,
        scene: Scene,
        grid: VoxelGrid,
        predictions: VoxelPredictions,
        instances: InstanceSegmentation,
        timings: dict,
    ) -> SegmentationResult:
        """Per-point labels and instance records of clustered voxels (filters applied).

        A point of a kept instance takes the instance's class. Any other point takes, with
        `options.semantics_from_instances`, the most likely background class of its voxel (wall
        or floor), else its voxel's most likely class.
        """
        point_instance = grid.to_points(instances.voxel_instance)
        point_count = np.bincount(
            point_instance[point_instance >= 0], minlength=instances.num_instances
        )
        keep = (point_count >= max(self.options.min_instance_points, 1)) & (
            instances.score >= self.options.score_threshold
        )
        new_id = np.full(instances.num_instances + 1, -1, dtype=np.int64)
        new_id[np.flatnonzero(keep)] = np.arange(int(keep.sum()))
        old_id = point_instance
        point_instance = new_id[np.where(old_id >= 0, old_id, instances.num_instances)]
        point_class = grid.to_points(self._voxel_classes(predictions.semantic_probs))
        inside = point_instance >= 0
        point_class[inside] = instances.class_train_id[old_id[inside]]
        records = self._records(scene.xyz, point_instance, instances, np.flatnonzero(keep))
        return SegmentationResult(
            instance_ids=point_instance,
            semantic_ids=self.classes.to_dataset_ids(point_class),
            instances=records,
            timings_s=timings,
            class_names=self.class_names,
        )

    def _voxel_classes(self, semantic_probs: np.ndarray) -> np.ndarray:
        """(V,) train id of each voxel for points outside every instance (see assemble_result)."""
        background = list(self.classes.background_train_ids)
        if not (self.options.semantics_from_instances and background):
            return semantic_probs.argmax(axis=1)
        return np.asarray(background)[semantic_probs[:, background].argmax(axis=1)]

    def _records(
        self,
        xyz: np.ndarray,
        point_instance: np.ndarray,
        instances: InstanceSegmentation,
        kept: np.ndarray,
    ) -> tuple[InstanceRecord, ...]:
        if kept.size == 0:
            return ()
        counts, sums, lo, hi = instance_extents(xyz, point_instance, kept.size)
        class_ids = self.classes.to_dataset_ids(instances.class_train_id[kept])
        names = self.class_names
        return tuple(
            InstanceRecord(
                id=k,
                class_id=int(class_ids[k]),
                class_name=names[int(class_ids[k])],
                score=float(instances.score[old]),
                point_count=int(counts[k]),
                voxel_count=int(instances.voxel_count[old]),
                predicted_occupancy=float(instances.predicted_occupancy[old]),
                occupancy_ratio=float(instances.occupancy_ratio[old]),
                centroid_m=tuple(float(v) for v in sums[k] / counts[k]),
                box_min_m=tuple(float(v) for v in lo[k]),
                box_max_m=tuple(float(v) for v in hi[k]),
            )
            for k, old in enumerate(kept)
        )
