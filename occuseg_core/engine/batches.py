"""Scenes -> augmented voxel grids -> batches, for training and validation.

Augmentation is seeded by (run seed, epoch, scene index), so a run is reproducible whatever the
number of loader workers, and a resumed run sees the same augmentations it would have seen.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from occuseg_core.classes import ClassTable
from occuseg_core.config import DataConfig
from occuseg_core.data.collate import VoxelBatch, collate
from occuseg_core.data.transforms import augment_scene
from occuseg_core.data.voxelize import VoxelGrid, voxelize
from occuseg_core.types import Scene


class VoxelizedScenes(Dataset):
    """A sequence of scenes seen as (optionally augmented) voxel grids.

    Args:
        scenes: anything with `len()` and integer indexing that returns labelled `Scene`s.
        data: voxel size and augmentation settings.
        augment: apply `data.augment` (training) or not (validation).
        seed: run seed; with `set_epoch` it fixes each scene's augmentation.
    """

    def __init__(self, scenes: Sequence[Scene], data: DataConfig, *, augment: bool, seed: int):
        self.scenes = scenes
        self.data = data
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, index: int) -> VoxelGrid:
        scene = self.scenes[index]
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            scene = augment_scene(scene, self.data.augment, rng)
        return voxelize(scene, self.data.voxel_size_m)


def make_loader(
    dataset: VoxelizedScenes,
    classes: ClassTable,
    *,
    batch_size: int,
    shuffle: bool,
    num_workers: int,
    seed: int,
) -> DataLoader:
    """A DataLoader yielding `VoxelBatch`es with training targets.

    The shuffle order depends only on (seed, epoch) through a generator reseeded each epoch by
    `iterate_epoch`.
    """
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        collate_fn=lambda grids: collate(grids, classes, dataset.data.input_features),
        generator=generator,
        drop_last=False,
        persistent_workers=False,
    )


def iterate_epoch(loader: DataLoader, epoch: int, seed: int) -> Iterator[VoxelBatch]:
    """Batches of one epoch; the order and augmentations are a function of (seed, epoch)."""
    loader.dataset.set_epoch(epoch)
    if loader.generator is not None:
        loader.generator.manual_seed(seed * 100_003 + epoch)
    yield from loader
