"""Residual submanifold blocks for the sparse U-Net.

Every convolution is bias-free and followed by a normalisation (BatchNorm or `SceneNorm`):
spconv's CPU inference path rejects convolutions with a bias ("cpu don't support act and
bias"), and the normalisation's shift plays the bias's role anyway.
"""

from __future__ import annotations

import spconv.pytorch as spconv
import torch
from torch import nn

from occuseg_core.nn.norm import norm_layer


def norm_relu(channels: int, norm: str = "batch") -> nn.Sequential:
    """Normalisation + ReLU applied to a sparse tensor's features (SparseSequential aware)."""
    return nn.Sequential(norm_layer(channels, norm), nn.ReLU(inplace=True))


class ResidualBlock(spconv.SparseModule):
    """Two 3x3x3 submanifold convolutions with BatchNorm/ReLU and an identity (or 1x1) skip.

    Args:
        in_channels: input feature width.
        out_channels: output feature width; a 1x1 projection is used on the skip path when it
            differs from `in_channels`.
        indice_key: spconv key shared by all submanifold convs at one resolution, so their
            rulebook is computed once per forward.
        norm: "batch" or "scene" (see `occuseg_core.nn.norm`).
    """

    def __init__(
        self, in_channels: int, out_channels: int, indice_key: str, norm: str = "batch"
    ) -> None:
        super().__init__()
        self.conv1 = spconv.SubMConv3d(
            in_channels, out_channels, 3, padding=1, bias=False, indice_key=indice_key
        )
        self.norm1 = norm_relu(out_channels, norm)
        self.conv2 = spconv.SubMConv3d(
            out_channels, out_channels, 3, padding=1, bias=False, indice_key=indice_key
        )
        self.norm2 = norm_layer(out_channels, norm)
        self.skip = (
            nn.Identity()
            if in_channels == out_channels
            else nn.Sequential(
                nn.Linear(in_channels, out_channels, bias=False),
                norm_layer(out_channels, norm),
            )
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: spconv.SparseConvTensor) -> spconv.SparseConvTensor:
        identity = self.skip(x.features)
        out = self.conv1(x)
        out = out.replace_feature(self.norm1(out.features))
        out = self.conv2(out)
        out = out.replace_feature(self.relu(self.norm2(out.features) + identity))
        return out


def concat_features(
    a: spconv.SparseConvTensor, b: spconv.SparseConvTensor
) -> spconv.SparseConvTensor:
    """Concatenates the features of two sparse tensors that share the same active sites."""
    if a.features.shape[0] != b.features.shape[0]:
        raise ValueError(
            f"cannot concatenate sparse tensors with {a.features.shape[0]} and"
            f" {b.features.shape[0]} active sites"
        )
    return a.replace_feature(torch.cat([a.features, b.features], dim=1))
