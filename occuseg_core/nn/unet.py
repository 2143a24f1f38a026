"""The sparse 3D residual U-Net backbone (paper sec. 3.3, widths [m, 2m, ..., 6m]).

Each level runs residual submanifold blocks; a stride-2 sparse convolution goes down a level and
the matching inverse convolution (same `indice_key`) comes back up onto exactly the active sites
of the skip connection, whose features are concatenated before the decoder blocks.
"""

from __future__ import annotations

import spconv.pytorch as spconv
from torch import nn

from occuseg_core.nn.blocks import ResidualBlock, concat_features
from occuseg_core.nn.norm import norm_layer


def _blocks(
    in_channels: int, out_channels: int, count: int, key: str, norm: str
) -> spconv.SparseSequential:
    layers = [ResidualBlock(in_channels, out_channels, key, norm)]
    layers += [ResidualBlock(out_channels, out_channels, key, norm) for _ in range(count - 1)]
    return spconv.SparseSequential(*layers)


class SparseUNet(nn.Module):
    """Sparse residual U-Net: voxel features in, per-voxel features of width `widths[0]` out.

    Args:
        in_channels: input feature width (3 for RGB).
        widths: feature width per level, finest first, e.g. (16, 32, 48, 64, 80); len >= 1.
        blocks_per_level: residual blocks per level in the encoder and in the decoder (>= 1).
        norm: "batch" or "scene" (see `occuseg_core.nn.norm`).
    """

    def __init__(
        self, *, in_channels: int, widths: tuple[int, ...], blocks_per_level: int,
        norm: str = "batch",
    ) -> None:  # fmt: skip
        super().__init__()
        if len(widths) < 1 or any(w <= 0 for w in widths):
            raise ValueError(f"widths must be a non-empty tuple of positive ints; got {widths}")
        if blocks_per_level < 1:
            raise ValueError(f"blocks_per_level must be >= 1; got {blocks_per_level}")
        self.widths = tuple(int(w) for w in widths)
        self.out_channels = self.widths[0]
        self.stem = spconv.SparseSequential(
            spconv.SubMConv3d(
                in_channels, widths[0], 3, padding=1, bias=False, indice_key="subm0"
            ),
            norm_layer(widths[0], norm),
            nn.ReLU(inplace=True),
        )
        levels = len(widths)
        self.encoders = nn.ModuleList(
            _blocks(widths[i], widths[i], blocks_per_level, f"subm{i}", norm)
            for i in range(levels)
        )
        self.downs = nn.ModuleList(
            spconv.SparseSequential(
                spconv.SparseConv3d(
                    widths[i], widths[i + 1], 2, stride=2, bias=False, indice_key=f"down{i}"
                ),
                norm_layer(widths[i + 1], norm),
                nn.ReLU(inplace=True),
            )
            for i in range(levels - 1)
        )
        self.ups = nn.ModuleList(
            spconv.SparseSequential(
                spconv.SparseInverseConv3d(
                    widths[i + 1], widths[i], 2, bias=False, indice_key=f"down{i}"
                ),
                norm_layer(widths[i], norm),
                nn.ReLU(inplace=True),
            )
            for i in range(levels - 1)
        )
        self.decoders = nn.ModuleList(
            _blocks(2 * widths[i], widths[i], blocks_per_level, f"subm{i}", norm)
            for i in range(levels - 1)
        )

    def forward(self, x: spconv.SparseConvTensor) -> spconv.SparseConvTensor:
        """Args: x: sparse tensor with `in_channels` features. Returns: same sites, widths[0]."""
        x = self.stem(x)
        skips = []
        for level, encoder in enumerate(self.encoders):
            x = encoder(x)
            if level < len(self.downs):
                skips.append(x)
                x = self.downs[level](x)
        for level in reversed(range(len(self.downs))):
            x = self.ups[level](x)
            x = self.decoders[level](concat_features(skips[level], x))
        return x
