"""OccuSegNet: the sparse U-Net backbone plus the OccuSeg heads (paper sec. 3.1, 3.3).

`forward(batch) -> HeadOutputs` is all the network does; losses live in `occuseg_core.losses`
and inference (supervoxels, clustering) in `occuseg_core.inference`.
"""

from __future__ import annotations

import spconv.pytorch as spconv
from torch import nn

from occuseg_core.classes import class_table
from occuseg_core.config import ModelConfig
from occuseg_core.data.collate import VoxelBatch
from occuseg_core.nn.density import scene_log_density
from occuseg_core.nn.heads import OccuSegHeads
from occuseg_core.nn.outputs import HeadOutputs
from occuseg_core.nn.unet import SparseUNet


class OccuSegNet(nn.Module):
    """Backbone + heads.

    Args:
        backbone: the sparse U-Net.
        heads: the per-voxel heads; their input width must equal the backbone's output width.
    """

    def __init__(self, *, backbone: SparseUNet, heads: OccuSegHeads) -> None:
        super().__init__()
        self.backbone = backbone
        self.heads = heads

    @classmethod
    def from_config(cls, config: ModelConfig) -> OccuSegNet:
        backbone = SparseUNet(
            in_channels=config.unet.in_channels,
            widths=config.unet.widths,
            blocks_per_level=config.unet.blocks_per_level,
            norm=config.norm,
        )
        heads = OccuSegHeads(
            in_channels=backbone.out_channels,
            num_classes=class_table(config.class_table).num_classes,
            embedding_dim=config.heads.embedding_dim,
            initial_log_occupancy=config.heads.initial_log_occupancy,
            norm=config.norm,
            occupancy_density=config.heads.occupancy_density,
        )
        return cls(backbone=backbone, heads=heads)

    def forward(self, batch: VoxelBatch) -> HeadOutputs:
        """Per-voxel predictions, rows in the order of `batch.coords`."""
        # each stride-2 level halves the grid extent; keep >= 1 cell at the coarsest level
        min_extent = 2 ** (len(self.backbone.widths) - 1)
        shape = [max(int(s), min_extent) for s in batch.spatial_shape]
        x = spconv.SparseConvTensor(batch.features, batch.coords, shape, batch.batch_size)
        log_density = None
        if self.heads.occupancy_density:
            log_density = scene_log_density(batch.coords)
        return self.heads(self.backbone(x).features, log_density)
