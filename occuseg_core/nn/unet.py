"""The sparse 3D residual U-Net backbone (paper sec. 3.3, widths [m, 2m, ..., 6m]).

Each level runs residual submanifold blocks; a stride-2 sparse convolution goes down a level and
the matching inverse convolution (same `indice_key`) comes back up onto exactly the active sites
of the skip connection, whose features are concatenated before the decoder blocks.

Optionally (`context_levels`) the decoder features of coarser levels are projected to a few
channels, looked up for every voxel (its cell at level L is coord >> L: the model pads the grid
so that every such cell exists) and appended to the output, a short path from the coarse
context to the heads.
"""

from __future__ import annotations

import spconv.pytorch as spconv
import torch
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
        context_levels: coarser levels (1..len(widths)-1) whose features are appended.
        context_channels: width each context level is projected to (they are summed).
    """

    def __init__(
        self, *, in_channels: int, widths: tuple[int, ...], blocks_per_level: int,
        norm: str = "batch", context_levels: tuple[int, ...] = (), context_channels: int = 16,
    ) -> None:  # fmt: skip
        super().__init__()
        if len(widths) < 1 or any(w <= 0 for w in widths):
            raise ValueError(f"widths must be a non-empty tuple of positive ints; got {widths}")
        if blocks_per_level < 1:
            raise ValueError(f"blocks_per_level must be >= 1; got {blocks_per_level}")
        if any(not 1 <= level < len(widths) for level in context_levels):
            raise ValueError(
                f"context_levels must lie in 1..{len(widths) - 1}; got {context_levels}"
            )
        self.widths = tuple(int(w) for w in widths)
        self.context_levels = tuple(int(level) for level in context_levels)
        self.out_channels = self.widths[0] + (context_channels if context_levels else 0)
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
        self.context = nn.ModuleDict(
            {
                str(level): nn.Sequential(
                    nn.Linear(widths[level], context_channels, bias=False),
                    norm_layer(context_channels, norm),
                    nn.ReLU(inplace=True),
                )
                for level in self.context_levels
            }
        )

    def forward(self, x: spconv.SparseConvTensor) -> spconv.SparseConvTensor:
        """Args: x: sparse tensor with `in_channels` features. Returns: same sites,
        `out_channels` (widths[0], plus context_channels with context levels)."""
        x = self.stem(x)
        skips = []
        for level, encoder in enumerate(self.encoders):
            x = encoder(x)
            if level < len(self.downs):
                skips.append(x)
                x = self.downs[level](x)
        coarse = {level: x for level in self.context_levels if level == len(self.downs)}
        for level in reversed(range(len(self.downs))):
            x = self.ups[level](x)
            x = self.decoders[level](concat_features(skips[level], x))
            if level in self.context_levels:
                coarse[level] = x
        if not self.context_levels:
            return x
        context = sum(
            self.context[str(level)](coarse[level].features)[cell_rows(x, coarse[level], level)]
            for level in self.context_levels
        )
        return x.replace_feature(torch.cat([x.features, context], dim=1))


def cell_rows(
    fine: spconv.SparseConvTensor, coarse: spconv.SparseConvTensor, level: int
) -> torch.Tensor:
    """For every site of `fine`, the row of `coarse` (`level` halvings down) holding its cell.

    Raises:
        ValueError: a fine site whose cell (coord >> level) is not a site of `coarse`.
    """
    shape = torch.tensor(coarse.spatial_shape, dtype=torch.int64, device=fine.indices.device)

    def keys(indices: torch.Tensor) -> torch.Tensor:
        batch, a, b, c = indices.long().unbind(1)
        return ((batch * shape[0] + a) * shape[1] + b) * shape[2] + c

    if fine.indices.shape[0] == 0:
        return torch.zeros(0, dtype=torch.int64, device=fine.indices.device)
    cells = fine.indices.long().clone()
    cells[:, 1:] >>= level
    coarse_keys = keys(coarse.indices)
    order = torch.argsort(coarse_keys)
    sorted_keys = coarse_keys[order]
    wanted = keys(cells)
    position = torch.searchsorted(sorted_keys, wanted).clamp(max=max(len(sorted_keys) - 1, 0))
    if len(sorted_keys) == 0 or not torch.equal(sorted_keys[position], wanted):
        raise ValueError(f"a voxel has no cell at level {level}: pad the grid (model.forward)")
    return order[position]
