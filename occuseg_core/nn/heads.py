"""The OccuSeg heads (paper sec. 3.1): per-voxel c_i, s_i, d_i, b_i and o_i from backbone features.

Each head is a small per-voxel MLP (the paper's "fully connected layer"):
- semantic logits c_i (K classes),
- feature embedding s_i (E dims),
- spatial embedding d_i (3-d offset from the voxel to its instance centre, metres),
- covariance b_i = (sigma_s, sigma_d), kept positive with softplus plus a floor,
- occupancy o_i, the log of the voxel count of the voxel's instance.

With `occupancy_density`, o_i also gets `density_gain` times the scene's mean log count of
occupied 3x3x3 neighbours (`occuseg_core.nn.density`) less a reference log density: the scan
density that per-scene normalisation hides from the features and that an instance's voxel
count depends on. The gain starts at 0 (the head starts as the paper's) and is learnt. The
reference centres the term on a typical training scan, so that the gain moves only what
differs between sparse and dense scans and the head's bias keeps the common level (without it
both are learnt along nearly the same direction and the gain stays small).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from occuseg_core.nn.norm import norm_layer
from occuseg_core.nn.outputs import HeadOutputs

SIGMA_FLOOR = 1e-2
"""Lower bound of the predicted covariances (feature units / metres), keeps eq. 8 finite."""


def _mlp(in_channels: int, out_channels: int, norm: str) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_channels, in_channels, bias=False),
        norm_layer(in_channels, norm),
        nn.ReLU(inplace=True),
        nn.Linear(in_channels, out_channels),
    )


def _inverse_softplus(y: float) -> float:
    return y + math.log(-math.expm1(-y))


class OccuSegHeads(nn.Module):
    """The five per-voxel heads.

    Args:
        in_channels: backbone output width.
        num_classes: K semantic classes.
        embedding_dim: E, dimension of the feature embedding s_i.
        initial_log_occupancy: initial bias of o_i (log of a typical instance voxel count), so
            training does not start by regressing from 0 to ~7.
        initial_sigma: initial (sigma_s, sigma_d) after the softplus.
        norm: "batch" or "scene" (see `occuseg_core.nn.norm`).
        occupancy_density: o_i gets a learnt multiple of the scan's log density, passed to
            `forward` as `log_density`, less `density_reference`.
        density_reference: the log density at which the density term is 0.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        embedding_dim: int,
        initial_log_occupancy: float = 6.0,
        initial_sigma: tuple[float, float] = (1.0, 0.5),
        norm: str = "batch",
        occupancy_density: bool = False,
        density_reference: float = 0.0,
    ) -> None:
        super().__init__()
        if num_classes < 1 or embedding_dim < 1:
            raise ValueError(
                f"num_classes and embedding_dim must be >= 1; got {num_classes}, {embedding_dim}"
            )
        self.semantic = _mlp(in_channels, num_classes, norm)
        self.feature_embedding = _mlp(in_channels, embedding_dim, norm)
        self.spatial_embedding = _mlp(in_channels, 3, norm)
        self.covariance = _mlp(in_channels, 2, norm)
        self.occupancy = _mlp(in_channels, 1, norm)
        self.occupancy_density = occupancy_density
        self.density_reference = float(density_reference)
        if occupancy_density:
            self.density_gain = nn.Parameter(torch.zeros(()))
        with torch.no_grad():
            self.occupancy[-1].bias.fill_(initial_log_occupancy)
            for i, sigma in enumerate(initial_sigma):
                self.covariance[-1].bias[i] = _inverse_softplus(sigma - SIGMA_FLOOR)
            self.spatial_embedding[-1].bias.zero_()

    def forward(
        self, features: torch.Tensor, log_density: torch.Tensor | None = None
    ) -> HeadOutputs:
        """Per-voxel outputs.

        Args:
            features: (V, in_channels).
            log_density: (V,) the scan's log density (`occuseg_core.nn.density.scene_log_density`);
                required exactly when the heads were built with `occupancy_density`.

        Returns:
            HeadOutputs with V rows.
        """
        log_occupancy = self.occupancy(features).squeeze(1)
        if self.occupancy_density:
            if log_density is None or log_density.shape != log_occupancy.shape:
                raise ValueError(
                    "these heads use the local density: pass log_density of shape"
                    f" ({features.shape[0]},); got"
                    f" {None if log_density is None else tuple(log_density.shape)}"
                )
            log_occupancy = log_occupancy + self.density_gain * (
                log_density - self.density_reference
            )
        elif log_density is not None:
            raise ValueError("log_density given to heads built without occupancy_density")
        return HeadOutputs(
            semantic_logits=self.semantic(features),
            feature_embedding=self.feature_embedding(features),
            spatial_embedding=self.spatial_embedding(features),
            sigma=F.softplus(self.covariance(features)) + SIGMA_FLOOR,
            log_occupancy=log_occupancy,
        )
