"""Training augmentation: small callables on points, applied before voxelization.

Point dropout (a random fraction of the points kept, for density robustness) and geometric
changes (rotation about z, flips, scaling, elastic distortion) change the points, so
voxel counts and instance centres are recomputed from the augmented scene; the occupancy target
(log of an instance's voxel count) therefore always matches what the network sees.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import RegularGridInterpolator
from scipy.ndimage import gaussian_filter

from occuseg_core.config import AugmentConfig
from occuseg_core.geometry import rotate_z
from occuseg_core.types import Scene


def elastic_distortion(
    xyz: np.ndarray, granularity_m: float, magnitude_m: float, rng: np.random.Generator
) -> np.ndarray:
    """Smooth random displacement field applied to the points.

    A Gaussian noise vector is drawn on a grid of cell size `granularity_m`, smoothed, and
    interpolated trilinearly at every point; displacements have a standard deviation of about
    `magnitude_m` metres and vary smoothly over a few grid cells.

    Args:
        xyz: (N, 3) points in metres.
        granularity_m: noise grid cell size in metres (> 0).
        magnitude_m: displacement scale in metres.
        rng: random generator.
    """
    lo = xyz.min(axis=0) - 2 * granularity_m
    shape = np.ceil((xyz.max(axis=0) - lo) / granularity_m).astype(int) + 3
    noise = rng.standard_normal((3, *shape))
    noise = np.stack([gaussian_filter(channel, sigma=1.0, mode="nearest") for channel in noise])
    noise /= max(float(noise.std()), 1e-9)
    axes = [lo[d] + granularity_m * np.arange(shape[d]) for d in range(3)]
    displacement = np.stack(
        [RegularGridInterpolator(axes, noise[d], bounds_error=False, fill_value=0.0)(xyz)
         for d in range(3)],
        axis=1,
    )  # fmt: skip
    return xyz + magnitude_m * displacement


def jitter_colors(
    colors: np.ndarray, strength: float, noise: float, rng: np.random.Generator
) -> np.ndarray:
    """Brightness/contrast change, a per-channel shift and per-point noise, clipped to [0, 1]."""
    gain = 1.0 + rng.uniform(-strength, strength)
    shift = rng.normal(0.0, strength / 2.0, size=3)
    mean = colors.mean(axis=0)
    out = (colors - mean) * gain + mean + shift + rng.normal(0.0, noise, size=colors.shape)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def auto_contrast(colors: np.ndarray, blend: float) -> np.ndarray:
    """Colours stretched per channel to span 0..1, blended with the originals.

    Args:
        colors: (N, 3) colours in [0, 1].
        blend: 0 keeps the colours, 1 takes the stretched ones.

    Returns:
        (N, 3) float32; a channel with one value everywhere is left as it is.
    """
    lo, hi = colors.min(axis=0), colors.max(axis=0)
    span = hi - lo
    stretched = np.where(span > 1e-6, (colors - lo) / np.where(span > 1e-6, span, 1.0), colors)
    return ((1.0 - blend) * colors + blend * stretched).astype(np.float32)


def crop_window(xyz: np.ndarray, width_m: float, rng: np.random.Generator) -> np.ndarray:
    """(N,) bool: the points inside a random window `width_m` wide along x and y.

    Along an axis where the scene is narrower than the window everything is kept; otherwise
    the window's start is uniform over the positions that keep it inside the scene's extent.
    """
    keep = np.ones(len(xyz), dtype=bool)
    for axis in (0, 1):
        lo, hi = float(xyz[:, axis].min()), float(xyz[:, axis].max())
        if hi - lo <= width_m:
            continue
        start = rng.uniform(lo, hi - width_m)
        keep &= (xyz[:, axis] >= start) & (xyz[:, axis] <= start + width_m)
    return keep


def keep_random_points(scene: Scene, fraction: float, rng: np.random.Generator) -> Scene:
    """The scene with each point kept with probability `fraction` (at least one point kept)."""
    mask = rng.random(scene.num_points) < fraction
    if not mask.any():
        mask[rng.integers(scene.num_points)] = True
    return scene.subset(mask)


def augment_scene(scene: Scene, config: AugmentConfig, rng: np.random.Generator) -> Scene:
    """A randomly augmented copy of a training scene (labels unchanged).

    Args:
        scene: the input scene (z up).
        config: which augmentations to apply and their ranges.
        rng: random generator; the same seed gives the same augmentation.
    """
    keep_lo, keep_hi = config.point_keep_range
    if keep_lo < 1.0:  # drawn only when on, so other settings augment exactly as before
        scene = keep_random_points(scene, rng.uniform(keep_lo, keep_hi), rng)
    if config.crop_m is not None and rng.random() < config.crop_probability:
        inside = crop_window(scene.xyz, config.crop_m, rng)
        if inside.any():
            scene = scene.subset(inside)
    xyz = scene.xyz.astype(np.float64) - scene.xyz.mean(axis=0)
    normals = None if scene.normals is None else scene.normals.astype(np.float64)
    if config.rotate_z:
        if config.rotate_z_right_angles:
            jitter = np.deg2rad(rng.uniform(-1.0, 1.0) * config.rotate_z_jitter_deg)
            angle = rng.integers(0, 4) * np.pi / 2 + jitter
        else:
            angle = rng.uniform(0.0, 2.0 * np.pi)
        xyz = rotate_z(xyz, angle)
        normals = None if normals is None else rotate_z(normals, angle)
    if config.flip_xy:
        flip = np.where(rng.random(2) < 0.5, -1.0, 1.0)
        xyz[:, :2] *= flip
        if normals is not None:
            normals[:, :2] *= flip
    xyz *= rng.uniform(*config.scale_range)
    if config.elastic:
        for granularity, magnitude in zip(
            config.elastic_granularity_m, config.elastic_magnitude_m, strict=True
        ):
            xyz = elastic_distortion(xyz, granularity, magnitude, rng)
    colors = scene.colors
    if config.auto_contrast_probability > 0 and rng.random() < config.auto_contrast_probability:
        colors = auto_contrast(colors, rng.uniform(0.0, 1.0))
    if config.color_jitter > 0 or config.color_noise > 0:
        colors = jitter_colors(colors, config.color_jitter, config.color_noise, rng)
    return scene.replace(
        xyz=xyz.astype(np.float32), colors=colors,
        normals=None if normals is None else normals.astype(np.float32), faces=None,
    )  # fmt: skip
