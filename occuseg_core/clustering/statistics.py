"""Per-supervoxel statistics of the head outputs (paper sec. 3.2, eq. 12-13).

A supervoxel v_i is summarised by sums over its voxels Omega_i (kept as sums, not means, so
the statistics of a union of supervoxels, the "virtual super-voxel" of eq. 14, are a cheap
addition):

- spatial centre D_i = mean over Omega_i of (mu_k + d_k)   (eq. 12)
- feature embedding S_i = mean of s_k
- covariances sigma_s^i, sigma_d^i = means of the per-voxel predictions
- occupancy: mean of the predicted log-occupancy o_k; the predicted instance size is
  exp(mean o) and the occupancy ratio is r_i = |Omega_i| / exp(mean o).

Eq. 13 as printed reads r_i = O_i / |Omega_i|, but the sentence after it ("r_i > 1 indicates
that there are too many voxels in v_i") and the authors' release mean cluster size over
predicted size; DESIGN.md and this package use that reading, so eq. 14's division by
max(r, 0.5) punishes clusters that outgrow their predicted instance and boosts (up to 2x)
clusters that are still too small.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class SupervoxelStatistics:
    """Voxel sums per supervoxel; every mean of eq. 12-14 is a sum divided by `voxel_count`.

    Args:
        voxel_count: (K,) int64 number of voxels |Omega_i| (0 for an id no voxel uses).
        center_sum: (K, 3) float64 sum of predicted centres mu_k + d_k, metres.
        feature_sum: (K, E) float64 sum of feature embeddings s_k.
        sigma_sum: (K, 2) float64 sum of [sigma_s, sigma_d] (feature units, metres).
        log_occupancy_sum: (K,) float64 sum of predicted log-occupancies o_k (log voxels).
    """

    voxel_count: np.ndarray
    center_sum: np.ndarray
    feature_sum: np.ndarray
    sigma_sum: np.ndarray
    log_occupancy_sum: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "voxel_count", np.asarray(self.voxel_count, dtype=np.int64))
        for name in ("center_sum", "feature_sum", "sigma_sum", "log_occupancy_sum"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.float64))
        k = self.voxel_count.shape[0] if self.voxel_count.ndim == 1 else -1
        expected = {
            "voxel_count": (k,), "center_sum": (k, 3), "sigma_sum": (k, 2),
            "log_occupancy_sum": (k,),
        }  # fmt: skip
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} must be {shape}; got {getattr(self, name).shape}")
        if self.feature_sum.ndim != 2 or self.feature_sum.shape[0] != k:
            raise ValueError(f"feature_sum must be ({k}, E); got {self.feature_sum.shape}")
        if k and (
            self.voxel_count.min() < 0 or self.sigma_sum[self.voxel_count > 0].min(initial=1) <= 0
        ):
            raise ValueError("voxel counts must be >= 0 and sigma sums > 0 where count > 0")

    @property
    def num_supervoxels(self) -> int:
        return int(self.voxel_count.shape[0])

    @property
    def embedding_dim(self) -> int:
        return int(self.feature_sum.shape[1])

    def _mean(self, sums: np.ndarray) -> np.ndarray:
        count = self.voxel_count.reshape((-1,) + (1,) * (sums.ndim - 1)).astype(np.float64)
        return np.divide(sums, count, out=np.zeros_like(sums), where=count > 0)

    @property
    def centers_m(self) -> np.ndarray:
        """(K, 3) float64 D_i (eq. 12), metres; 0 for empty ids."""
        return self._mean(self.center_sum)

    @property
    def features(self) -> np.ndarray:
        """(K, E) float64 S_i, the mean feature embedding; 0 for empty ids."""
        return self._mean(self.feature_sum)

    @property
    def sigmas(self) -> np.ndarray:
        """(K, 2) float64 mean [sigma_s, sigma_d]; 0 for empty ids."""
        return self._mean(self.sigma_sum)

    @property
    def mean_log_occupancy(self) -> np.ndarray:
        """(K,) float64 mean o over Omega_i (log voxels); 0 for empty ids."""
        return self._mean(self.log_occupancy_sum)

    @property
    def predicted_occupancy(self) -> np.ndarray:
        """(K,) float64 predicted instance size exp(mean o), voxels."""
        return np.exp(self.mean_log_occupancy)

    @property
    def occupancy_ratio(self) -> np.ndarray:
        """(K,) float64 r_i = |Omega_i| / exp(mean o) (see the module docstring); 0 if empty."""
        return self.voxel_count / self.predicted_occupancy

    def subset(self, index: np.ndarray) -> SupervoxelStatistics:
        """The statistics of some supervoxels, renumbered 0..len(index)-1 in the given order.

        Args:
            index: (K',) int64 supervoxel ids to keep (or a (K,) bool mask).
        """
        take = np.asarray(index)
        return SupervoxelStatistics(
            voxel_count=self.voxel_count[take], center_sum=self.center_sum[take],
            feature_sum=self.feature_sum[take], sigma_sum=self.sigma_sum[take],
            log_occupancy_sum=self.log_occupancy_sum[take],
        )  # fmt: skip


def _voxel_array(name: str, array: np.ndarray, num_voxels: int, columns: int | None) -> np.ndarray:
    """Validated float64 (V,) array (columns None) or (V, columns) array (columns -1: any)."""
    array = np.asarray(array)
    if columns is None:
        ok = array.shape == (num_voxels,)
    else:
        ok = array.ndim == 2 and array.shape[0] == num_voxels and columns in (-1, array.shape[1])
    if not ok:
        wanted = f"({num_voxels},)" if columns is None else f"({num_voxels}, {columns})"
        raise ValueError(f"{name} must have shape {wanted} (-1 = any); got {array.shape}")
    if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite numbers; got dtype {array.dtype} or NaN/inf")
    return array.astype(np.float64, copy=False)


def _supervoxel_ids(supervoxel: np.ndarray, num_supervoxels: int | None) -> tuple[np.ndarray, int]:
    """Validated (V,) int64 ids and K."""
    supervoxel = np.asarray(supervoxel)
    if supervoxel.ndim != 1 or not np.issubdtype(supervoxel.dtype, np.integer):
        raise ValueError(
            f"supervoxel must be (V,) integers; got {supervoxel.shape} {supervoxel.dtype}"
        )
    k = int(supervoxel.max(initial=-1)) + 1 if num_supervoxels is None else int(num_supervoxels)
    if supervoxel.size and (supervoxel.min() < 0 or supervoxel.max() >= k):
        raise ValueError(
            f"supervoxel ids must lie in [0, {k}); got [{supervoxel.min()}, {supervoxel.max()}]"
        )
    return supervoxel.astype(np.int64, copy=False), k


def _sum_rows(index: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """(k, C) float64: per-id sums of the (V, C) values (bincount per column)."""
    out = np.empty((k, values.shape[1]), dtype=np.float64)
    for column in range(values.shape[1]):
        out[:, column] = np.bincount(index, weights=values[:, column], minlength=k)
    return out


def supervoxel_statistics(
    supervoxel: np.ndarray,
    positions_m: np.ndarray,
    spatial_embedding: np.ndarray,
    feature_embedding: np.ndarray,
    sigma: np.ndarray,
    log_occupancy: np.ndarray,
    num_supervoxels: int | None = None,
) -> SupervoxelStatistics:
    """Sums the per-voxel head outputs over each supervoxel.

    Args:
        supervoxel: (V,) int supervoxel id of each voxel, in [0, K).
        positions_m: (V, 3) voxel centres mu_k, metres.
        spatial_embedding: (V, 3) predicted offsets d_k to the instance centre, metres.
        feature_embedding: (V, E) feature embeddings s_k.
        sigma: (V, 2) predicted [sigma_s, sigma_d], > 0 (feature units, metres).
        log_occupancy: (V,) predicted log instance size o_k, log voxels (pass zeros and set
            `MergeConfig.use_occupancy=False` for a model without an occupancy head).
        num_supervoxels: K; default max(supervoxel) + 1 (0 when V = 0).

    Returns:
        The `SupervoxelStatistics` of the K supervoxels (ids no voxel uses get count 0).

    Raises:
        ValueError: mismatched shapes, non-finite values, sigma <= 0, ids outside [0, K).
    """
    index, k = _supervoxel_ids(supervoxel, num_supervoxels)
    v = index.shape[0]
    positions = _voxel_array("positions_m", positions_m, v, 3)
    offsets = _voxel_array("spatial_embedding", spatial_embedding, v, 3)
    features = _voxel_array("feature_embedding", feature_embedding, v, -1)
    sigma = _voxel_array("sigma", sigma, v, 2)
    log_occupancy = _voxel_array("log_occupancy", log_occupancy, v, None)
    if v and sigma.min() <= 0:
        raise ValueError(f"sigma must be > 0 (a covariance); got min {sigma.min():.3g}")
    return SupervoxelStatistics(
        voxel_count=np.bincount(index, minlength=k).astype(np.int64),
        center_sum=_sum_rows(index, positions + offsets, k),
        feature_sum=_sum_rows(index, features, k),
        sigma_sum=_sum_rows(index, sigma, k),
        log_occupancy_sum=np.bincount(index, weights=log_occupancy, minlength=k),
    )
