"""Drawing points into pixel images: square splats with a depth test, and a few colourings.

Every point becomes a small square of pixels; where squares overlap, the point nearest the
camera wins (the painter's algorithm, done as a z-buffer so it is exact and order-free). The
winner map is computed once per view and reused for every colouring of the same points.
"""

from __future__ import annotations

import numpy as np

BACKGROUND = np.array([255, 255, 255], dtype=np.uint8)
"""Colour of pixels no point covers."""
MAX_POINT_SIZE_PX = 8
DENSITY_CELL_PX = 8


def point_spacing_px(uv: np.ndarray, width_px: int, height_px: int) -> float:
    """Typical distance between neighbouring points in the picture, in pixels.

    Bins the points into square cells of DENSITY_CELL_PX pixels and takes the spacing of the
    sparser occupied cells (30th percentile of the counts), so sparse large surfaces such as
    floors decide, rather than dense objects or the panel's empty parts.

    Args:
        uv: (N, 2) pixel coordinates of the points.
        width_px, height_px: panel size; points outside it are ignored.

    Returns:
        The spacing (DENSITY_CELL_PX when no point lies in the panel).
    """
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < width_px) & (uv[:, 1] >= 0) & (uv[:, 1] < height_px)
    if not inside.any():
        return float(DENSITY_CELL_PX)
    cells = np.floor(uv[inside] / DENSITY_CELL_PX).astype(np.int64)
    columns = int(np.ceil(width_px / DENSITY_CELL_PX))
    counts = np.bincount(cells[:, 1] * columns + cells[:, 0])
    typical = float(np.percentile(counts[counts > 0], 30.0))
    return DENSITY_CELL_PX / np.sqrt(typical)


def square_sizes_px(spacing_px: np.ndarray | float, max_size_px: int) -> np.ndarray:
    """Side of each point's square: 40% above its spacing, so surfaces show closed, not dotted.

    Args:
        spacing_px: point spacing in pixels, one value or (N,).
        max_size_px: the largest size allowed (>= 1).

    Returns:
        int64 sizes in 1..max_size_px, the shape of `spacing_px`.
    """
    return np.clip(np.ceil(1.4 * np.asarray(spacing_px)), 1, max(1, max_size_px)).astype(np.int64)


def _squares(uv: np.ndarray, size_px: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Columns, rows and point positions of every pixel of `size_px` squares around `uv`."""
    base = np.floor(uv).astype(np.int64)
    steps = np.arange(size_px) - (size_px - 1) // 2
    du, dv = (a.ravel() for a in np.meshgrid(steps, steps))
    cols = (base[:, 0:1] + du[None, :]).ravel()
    rows = (base[:, 1:2] + dv[None, :]).ravel()
    return cols, rows, np.repeat(np.arange(len(uv)), len(du))


def splat_winners(
    uv: np.ndarray, depth: np.ndarray, width_px: int, height_px: int, size_px
) -> np.ndarray:
    """Which point is visible at each pixel when every point is a square.

    Args:
        uv: (N, 2) float pixel coordinates (u right, v down) of the square centres.
        depth: (N,) distance along the view direction; smaller is nearer and wins.
        width_px, height_px: image size.
        size_px: side of the squares, >= 1: one int for all points or (N,) ints.

    Returns:
        (height_px, width_px) int64 index into the points, -1 where no point covers the pixel.
    """
    sizes = np.broadcast_to(np.asarray(size_px, dtype=np.int64), (len(uv),))
    if len(uv) and sizes.min() < 1:
        raise ValueError(f"square sizes must be >= 1; got {sizes.min()}")
    order = np.argsort(depth, kind="stable")  # rank 0 = nearest
    nearest_rank = np.full(height_px * width_px, len(order), dtype=np.int64)
    for size in np.unique(sizes):
        ranks = np.flatnonzero(sizes[order] == size)
        cols, rows, which = _squares(uv[order[ranks]], int(size))
        inside = (cols >= 0) & (cols < width_px) & (rows >= 0) & (rows < height_px)
        pixels = rows[inside] * width_px + cols[inside]
        np.minimum.at(nearest_rank, pixels, ranks[which[inside]])
    winners = np.full(height_px * width_px, -1, dtype=np.int64)
    covered = nearest_rank < len(order)
    winners[covered] = order[nearest_rank[covered]]
    return winners.reshape(height_px, width_px)


def paint(winners: np.ndarray, colors: np.ndarray, background: np.ndarray = BACKGROUND):
    """(H, W, 3) uint8 image: each pixel the colour of its winning point, else `background`.

    Args:
        winners: (H, W) int64 from `splat_winners`.
        colors: (N, 3) uint8 colour of every point.
        background: (3,) uint8.
    """
    image = np.empty((*winners.shape, 3), dtype=np.uint8)
    image[:] = background
    covered = winners >= 0
    image[covered] = colors[winners[covered]]
    return image


def to_uint8_colors(colors: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 from float 0..1 colours (as stored in a `Scene`) or uint8."""
    colors = np.asarray(colors)
    if colors.dtype == np.uint8:
        return colors
    return np.clip(np.round(colors * 255.0), 0, 255).astype(np.uint8)


def height_shaded_grey(z_m: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 greys from dark (low) to light (high), robust to outliers.

    Used when the input colours are unknown: the geometry stays readable, and grey cannot be
    mistaken for real colours.
    """
    z_m = np.asarray(z_m, dtype=np.float64)
    if len(z_m) == 0:
        return np.empty((0, 3), dtype=np.uint8)
    low, high = np.percentile(z_m, [1.0, 99.0])
    level = np.clip((z_m - low) / max(high - low, 1e-6), 0.0, 1.0)
    grey = np.round(70.0 + 150.0 * level).astype(np.uint8)
    return np.repeat(grey[:, None], 3, axis=1)
