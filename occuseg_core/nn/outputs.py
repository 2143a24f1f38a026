"""`HeadOutputs`: the per-voxel predictions of the OccuSeg heads (paper sec. 3.1).

This module owns only the container the model returns and the losses consume; it imports
nothing but torch, so `occuseg_core.losses` can use it without pulling in spconv.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor


@dataclass(frozen=True, eq=False)
class HeadOutputs:
    """Per-voxel head predictions for the V voxels of a batch (all scenes concatenated).

    Args:
        semantic_logits: (V, K) float, unnormalised class scores c_i over the K train ids.
        feature_embedding: (V, E) float, feature embedding s_i (eq. 5-8), unitless.
        spatial_embedding: (V, 3) float, offset d_i in metres from the voxel centre mu_i to
            its predicted instance centre (eq. 3); the predicted centre is mu_i + d_i.
        sigma: (V, 2) float, positive [sigma_s, sigma_d]: feature (unitless) and spatial
            (metres) bandwidths b_i of eq. 8.
        log_occupancy: (V,) float, o_i, the predicted log of the voxel count of the voxel's
            instance (eq. 10).

    Raises:
        ValueError: a field is not a floating tensor of the shape above, the V differ, or the
            tensors are on different devices.
    """

    semantic_logits: Tensor
    feature_embedding: Tensor
    spatial_embedding: Tensor
    sigma: Tensor
    log_occupancy: Tensor

    def __post_init__(self) -> None:
        # name -> (required trailing dims, None = any size; printable shape)
        expected = {
            "semantic_logits": ((None,), "(V, K)"),
            "feature_embedding": ((None,), "(V, E)"),
            "spatial_embedding": ((3,), "(V, 3)"),
            "sigma": ((2,), "(V, 2)"),
            "log_occupancy": ((), "(V,)"),
        }
        first = self.semantic_logits
        num_voxels = first.shape[0] if isinstance(first, Tensor) and first.ndim > 0 else None
        for name, (trailing, pretty) in expected.items():
            value = getattr(self, name)
            if not isinstance(value, Tensor) or not value.is_floating_point():
                raise ValueError(f"HeadOutputs.{name} must be a floating torch.Tensor")
            shape_ok = value.ndim == 1 + len(trailing) and value.shape[0] == num_voxels
            if not shape_ok or any(
                w not in (None, value.shape[1 + k]) for k, w in enumerate(trailing)
            ):
                raise ValueError(
                    f"HeadOutputs.{name} must be {pretty} with V = {num_voxels} (the rows of"
                    f" semantic_logits); got {tuple(value.shape)}"
                )
            if value.device != first.device:
                raise ValueError(
                    f"HeadOutputs.{name} is on {value.device}, semantic_logits on {first.device}"
                )

    @property
    def num_voxels(self) -> int:
        """V, the number of voxels (rows)."""
        return self.semantic_logits.shape[0]

    def detach(self) -> HeadOutputs:
        """A copy whose tensors are detached from the autograd graph (same storage)."""
        return HeadOutputs(**{f.name: getattr(self, f.name).detach() for f in fields(self)})

    def to(self, device: torch.device | str) -> HeadOutputs:
        """A copy with every tensor moved to `device` (a no-op copy where already there).

        Args:
            device: target device, e.g. torch.device("cpu") or "cuda:0".
        """
        return HeadOutputs(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})
