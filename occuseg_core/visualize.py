"""Colours for instances and classes, shared by the PLY writer, the renderer and the ROS nodes."""

from __future__ import annotations

import numpy as np

NO_INSTANCE_COLOR = np.array([160, 160, 160], dtype=np.uint8)
"""Grey for points that belong to no instance (walls, floor, unclustered)."""


def instance_palette(num_instances: int) -> np.ndarray:
    """(num_instances, 3) uint8 distinct, saturated colours; colour k depends only on k.

    Hues step by the golden angle so neighbouring ids differ strongly; saturation and value
    cycle a little so long lists stay distinguishable.
    """
    k = np.arange(num_instances, dtype=np.float64)
    hue = (k * 0.618033988749895) % 1.0
    saturation = 0.65 + 0.3 * ((k * 0.37) % 1.0)
    value = 0.75 + 0.25 * ((k * 0.53) % 1.0)
    return (hsv_to_rgb(hue, saturation, value) * 255).round().astype(np.uint8)


def hsv_to_rgb(hue: np.ndarray, saturation: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Vectorised HSV (each 0..1) to (N, 3) RGB 0..1."""
    h6 = hue * 6.0
    sector = np.floor(h6).astype(int) % 6
    f = h6 - np.floor(h6)
    p, q, t = (
        value * (1 - saturation),
        value * (1 - saturation * f),
        value * (1 - saturation * (1 - f)),
    )
    table = np.stack([
        np.stack([value, t, p], 1), np.stack([q, value, p], 1), np.stack([p, value, t], 1),
        np.stack([p, q, value], 1), np.stack([t, p, value], 1), np.stack([value, p, q], 1),
    ])  # fmt: skip
    return table[sector, np.arange(len(hue))]


def instance_colors(instance_ids: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 colour of each point from its instance id (-1 = grey)."""
    instance_ids = np.asarray(instance_ids)
    count = int(instance_ids.max(initial=-1)) + 1
    palette = np.concatenate([instance_palette(count), NO_INSTANCE_COLOR[None]])
    return palette[np.where(instance_ids >= 0, instance_ids, count)]
