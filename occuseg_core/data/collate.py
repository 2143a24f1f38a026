"""Voxel grids -> one batch for the network (and its training targets).

Scenes are concatenated voxel-wise; `voxel_scene` says which scene each voxel came from, and the
coordinates get a leading batch column as spconv expects. Coordinates are shifted per scene so
they start at 0 (spconv indices must be non-negative); `positions_m` keeps the true voxel
centres mu_i in the scene frame for the spatial embedding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from occuseg_core.classes import ClassTable
from occuseg_core.data.voxelize import VoxelGrid


@dataclass(frozen=True, eq=False)
class VoxelBatch:
    """Network input for B scenes, V voxels in total.

    Args:
        coords: (V, 4) int32 [scene, x, y, z], x/y/z >= 0.
        features: (V, C) float32 input features (see `input_features`).
        positions_m: (V, 3) float32 voxel centres mu_i in metres, scene frame.
        voxel_scene: (V,) int64 scene index of each voxel.
        spatial_shape: (3,) grid extent covering every scene's coords.
        batch_size: B.
        semantic_target: optional (V,) int64 train ids, IGNORE_INDEX where unlabelled.
        instance_ids: optional (V,) int64 per-scene instance ids, 0 = no instance (only
            instances of the class table's instance classes are kept).
    """

    coords: torch.Tensor
    features: torch.Tensor
    positions_m: torch.Tensor
    voxel_scene: torch.Tensor
    spatial_shape: tuple[int, int, int]
    batch_size: int
    semantic_target: torch.Tensor | None = None
    instance_ids: torch.Tensor | None = None

    @property
    def num_voxels(self) -> int:
        return int(self.coords.shape[0])

    def to(self, device: torch.device | str) -> VoxelBatch:
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return VoxelBatch(
            coords=move(self.coords), features=move(self.features),
            positions_m=move(self.positions_m), voxel_scene=move(self.voxel_scene),
            spatial_shape=self.spatial_shape, batch_size=self.batch_size,
            semantic_target=move(self.semantic_target), instance_ids=move(self.instance_ids),
        )  # fmt: skip


FEATURE_CHANNELS: dict[str, int] = {"rgb": 3, "height": 1}
"""Input features the network can take, and their widths."""

HEIGHT_SCALE_M = 2.0
"""Heights above the scene's floor are divided by this, so the feature stays about 0..1.5."""


def input_features(grid: VoxelGrid, names: tuple[str, ...] = ("rgb",)) -> np.ndarray:
    """(V, C) float32 network input of a voxel grid.

    Args:
        grid: the voxels.
        names: features in order (keys of FEATURE_CHANNELS): "rgb" is the mean colour centred
            on 0 (the paper's input); "height" is the voxel's height above the scene's floor,
            taken as the 1st percentile of voxel heights (robust to a few stray points below
            it), divided by HEIGHT_SCALE_M. Height needs z up, as in every indoor dataset.
    """
    parts = []
    for name in names:
        if name == "rgb":
            parts.append(grid.colors - 0.5)
        elif name == "height":
            z = grid.positions_m[:, 2].astype(np.float64)
            floor = np.percentile(z, 1.0) if z.size else 0.0
            parts.append(((z - floor) / HEIGHT_SCALE_M)[:, None])
        else:
            raise ValueError(f"unknown input feature {name!r}; known: {sorted(FEATURE_CHANNELS)}")
    return np.concatenate(parts, axis=1).astype(np.float32)


def training_targets(grid: VoxelGrid, classes: ClassTable) -> tuple[np.ndarray, np.ndarray]:
    """Semantic train ids and instance ids of a labelled grid.

    Returns:
        (V,) int64 train ids (IGNORE_INDEX for unannotated / non-benchmark classes) and
        (V,) int64 instance ids, 0 unless the voxel's class forms instances (not wall/floor).
    """
    if grid.semantic is None or grid.instance is None:
        raise ValueError("training needs scenes with semantic and instance labels")
    semantic = classes.to_train_ids(grid.semantic)
    instance = np.where(classes.is_instance_class(grid.semantic), grid.instance, 0)
    return semantic, instance.astype(np.int64)


def collate(
    grids: list[VoxelGrid],
    classes: ClassTable | None = None,
    features: tuple[str, ...] = ("rgb",),
) -> VoxelBatch:
    """Concatenates voxel grids into a batch; with `classes`, also the training targets.

    Args:
        grids: B >= 1 voxel grids.
        classes: class table mapping the grids' dataset labels to train ids, or None for
            inference batches without targets.
        features: the input features (see `input_features`), as the model was trained.
    """
    if not grids:
        raise ValueError("collate needs at least one voxel grid")
    coords, inputs, positions, scene_index, semantic, instance = [], [], [], [], [], []
    for b, grid in enumerate(grids):
        local = grid.coords - grid.coords.min(axis=0)
        coords.append(np.concatenate([np.full((grid.num_voxels, 1), b, np.int32), local], axis=1))
        inputs.append(input_features(grid, features))
        positions.append(grid.positions_m)
        scene_index.append(np.full(grid.num_voxels, b, np.int64))
        if classes is not None:
            sem, ins = training_targets(grid, classes)
            semantic.append(sem)
            instance.append(ins)
    all_coords = np.concatenate(coords)
    spatial_shape = tuple(int(s) + 1 for s in all_coords[:, 1:].max(axis=0))
    to_tensor = lambda parts: torch.from_numpy(np.concatenate(parts))  # noqa: E731
    return VoxelBatch(
        coords=torch.from_numpy(all_coords.astype(np.int32)),
        features=to_tensor(inputs), positions_m=to_tensor(positions),
        voxel_scene=to_tensor(scene_index), spatial_shape=spatial_shape, batch_size=len(grids),
        semantic_target=to_tensor(semantic) if classes is not None else None,
        instance_ids=to_tensor(instance) if classes is not None else None,
    )  # fmt: skip
