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


def padded_spatial_shape(spatial_shape, num_levels: int) -> list[int]:
    """The grid extent to give spconv: `spatial_shape` rounded up to a multiple of 2^(levels-1).

    A stride-2, kernel-2 convolution maps cell c to c // 2 but gives an odd extent n only
    n // 2 output cells, so without the padding a voxel at an even last coordinate (n - 1) had
    no cell one level down, and deeper levels cut off more (an extent of 501 kept the coarsest
    cells of coordinates below 480 only): those voxels, up to 64 cm along a room's far walls
    with six levels, got no coarse context on the way back up. With the padding every level
    has exactly the cells c >> level of the voxels.
    """
    step = 2 ** (num_levels - 1)
    return [max(-(-int(extent) // step), 1) * step for extent in spatial_shape]


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
            context_levels=config.unet.context_levels,
            context_channels=config.unet.context_channels,
        )
        heads = OccuSegHeads(
            in_channels=backbone.out_channels,
            num_classes=class_table(config.class_table).num_classes,
            embedding_dim=config.heads.embedding_dim,
            initial_log_occupancy=config.heads.initial_log_occupancy,
            norm=config.norm,
            occupancy_density=config.heads.occupancy_density,
            density_reference=config.heads.occupancy_density_reference,
        )
        return cls(backbone=backbone, heads=heads)

    def forward(self, batch: VoxelBatch) -> HeadOutputs:
        """Per-voxel predictions, rows in the order of `batch.coords`."""
        shape = padded_spatial_shape(batch.spatial_shape, len(self.backbone.widths))
        x = spconv.SparseConvTensor(batch.features, batch.coords, shape, batch.batch_size)
        log_density = None
        if self.heads.occupancy_density:
            log_density = scene_log_density(batch.coords)
        return self.heads(self.backbone(x).features, log_density)
