"""Large scans tile by tile (issue 16): whole floors and buildings with bounded memory.

The scan's ground plane (x, y) is cut into square tiles of `tile_m`. Each tile is segmented
on its own together with a band of `overlap_m` around it (its *window*), so an object cut by a
tile border is seen whole by the tile whose core holds its centre (when it reaches less than
`overlap_m` beyond that core). Stitching then:
1. keeps, of each tile, the instances whose centre (mean x, y of their points) lies in the
   tile's core: every object is kept by one tile, the one that saw it centred;
2. gives the kept instances their points, largest first; an instance left with less than
   `min_kept_fraction` of its points (a neighbour's cut piece of an object another tile
   saw whole) is dropped;
3. labels every other point as its own tile (the one whose core holds it) labelled it, and
   recomputes each instance's point count, centroid and box (class, score and occupancy are
   the tile's).
Peak memory is that of one window instead of the whole scan, plus the scan's own arrays.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from occuseg_core.types import Scene, SegmentationResult, instance_extents

TILING_MODES = ("auto", "always", "never")


@dataclass(frozen=True)
class TilingOptions:
    """When and how `Segmenter.segment` tiles a scan.

    Args:
        mode: "auto" tiles scans of more than `auto_points` points that span more than one
            tile; "always" tiles every scan that spans more than one tile (`occuseg segment
            --tile-m`); "never" segments every scan whole.
        tile_m: the longest a tile may be in x or y [m] (`plan_tiles` cuts where the scan is
            sparsest, so tiles come out between 0.3 and 1 times this).
        overlap_m: width of the band around each tile that it also segments [m]; an object
            reaching up to this far across a border is still seen whole by one tile.
        auto_points: the point count above which "auto" tiles.
        min_kept_fraction: a kept instance whose points were mostly taken by larger kept
            instances of other tiles is dropped when less than this fraction is left.
    """

    mode: str = "auto"
    tile_m: float = 6.0
    overlap_m: float = 0.5
    auto_points: int = 1_000_000
    min_kept_fraction: float = 0.5

    def __post_init__(self) -> None:
        if self.mode not in TILING_MODES:
            raise ValueError(f"tiling mode must be one of {TILING_MODES}; got {self.mode!r}")
        if not (np.isfinite(self.tile_m) and self.tile_m > 0):
            raise ValueError(f"tile_m must be > 0; got {self.tile_m}")
        if not (np.isfinite(self.overlap_m) and self.overlap_m >= 0):
            raise ValueError(f"overlap_m must be >= 0; got {self.overlap_m}")
        if self.auto_points < 1:
            raise ValueError(f"auto_points must be >= 1; got {self.auto_points}")
        if not 0 < self.min_kept_fraction <= 1:
            raise ValueError(f"min_kept_fraction must be in (0, 1]; got "
                             f"{self.min_kept_fraction}")  # fmt: skip


def should_tile(xyz: np.ndarray, options: TilingOptions) -> bool:
    """Whether `options` asks to tile a scan with these points."""
    if options.mode == "never" or xyz.shape[0] == 0:
        return False
    if options.mode == "auto" and xyz.shape[0] <= options.auto_points:
        return False
    extent = xyz[:, :2].max(axis=0) - xyz[:, :2].min(axis=0)
    return bool(np.any(extent > options.tile_m))


@dataclass(frozen=True, eq=False)
class Tile:
    """One tile: its core, the half-open rectangle `lo` <= (x, y) < `hi` (infinite towards the
    scan's outside), `window` (sorted indices of the scan's points within `overlap_m` of the
    core, which it segments) and `core`, a mask over `window` of the points in its core."""

    lo: np.ndarray
    hi: np.ndarray
    window: np.ndarray
    core: np.ndarray

    def holds(self, xy: np.ndarray) -> np.ndarray:
        """(N,) whether each (x, y) lies in the core."""
        return np.all((xy >= self.lo) & (xy < self.hi), axis=-1)


def plan_tiles(xyz: np.ndarray, tile_m: float, overlap_m: float) -> list[Tile]:
    """Cuts the scan into tiles no longer than `tile_m` in x or y (k-d style).

    A part longer than `tile_m` is cut across its longer axis, within the middle 40% of its
    extent, at the 10 cm slice that holds the fewest points: between rooms, through doorways
    and between pieces of furniture rather than through them, so that objects and rooms stay
    whole where the scan allows. The cores partition the plane; every point lies in exactly
    one.
    """
    xy = np.asarray(xyz, dtype=np.float64)[:, :2]
    cores: list[tuple[np.ndarray, np.ndarray]] = []
    stack = [(np.arange(xy.shape[0]), np.full(2, -np.inf), np.full(2, np.inf))]
    while stack:
        index, lo, hi = stack.pop()
        points = xy[index]
        low, high = points.min(axis=0), points.max(axis=0)
        axis = int(np.argmax(high - low))
        if high[axis] - low[axis] <= tile_m:
            cores.append((lo, hi))
            continue
        cut = _sparsest_cut(points[:, axis], low[axis], high[axis])
        left = points[:, axis] < cut
        left_hi, right_lo = hi.copy(), lo.copy()
        left_hi[axis] = right_lo[axis] = cut
        stack += [(index[~left], right_lo, hi), (index[left], lo, left_hi)]
    tiles = []
    for lo, hi in sorted(cores, key=lambda core: (core[0][1], core[0][0])):  # row by row
        window = np.flatnonzero(np.all((xy >= lo - overlap_m) & (xy <= hi + overlap_m), axis=1))
        core = np.all((xy[window] >= lo) & (xy[window] < hi), axis=1)
        tiles.append(Tile(lo, hi, window, core))
    return tiles


_CUT_SLICE_M = 0.1


def _sparsest_cut(values: np.ndarray, low: float, high: float) -> float:
    """The middle of the emptiest slice in the middle 40% of [low, high] (ties: the most
    central), so both sides keep at least 30% of the extent."""
    start, stop = low + 0.3 * (high - low), high - 0.3 * (high - low)
    edges = np.arange(start, stop + _CUT_SLICE_M, _CUT_SLICE_M)
    if edges.size < 2:
        return (low + high) / 2
    counts, _ = np.histogram(values, bins=edges)
    centres = (edges[:-1] + edges[1:]) / 2
    best = np.lexsort((np.abs(centres - (low + high) / 2), counts))[0]
    return float(centres[best])


def crop_scene(scene: Scene, index: np.ndarray) -> Scene:
    """The scene's points at sorted `index`, with the faces whose three corners are kept."""
    part = scene.subset(index)
    if scene.faces is None or len(scene.faces) == 0:
        return part
    new_index = np.full(scene.num_points, -1, dtype=np.int64)
    new_index[index] = np.arange(index.shape[0])
    faces = new_index[scene.faces]
    faces = faces[np.all(faces >= 0, axis=1)]
    return part.replace(faces=faces) if len(faces) else part


def segment_tiled(
    scene: Scene,
    segment_whole: Callable[[Scene], SegmentationResult],
    options: TilingOptions,
) -> SegmentationResult:
    """Segments `scene` tile by tile with `segment_whole` and stitches the tiles' instances.

    Returns:
        A SegmentationResult over all of the scene's points; `timings_s` sums each stage over
        the tiles and adds "stitching" and "total".
    """
    start = time.perf_counter()
    semantic = np.zeros(scene.num_points, dtype=np.int64)
    candidates, timings, class_names = [], {}, {}
    for tile in plan_tiles(scene.xyz, options.tile_m, options.overlap_m):
        result = segment_whole(crop_scene(scene, tile.window))
        class_names = result.class_names
        for stage, seconds in result.timings_s.items():
            if stage != "total":
                timings[stage] = timings.get(stage, 0.0) + seconds
        semantic[tile.window[tile.core]] = result.semantic_ids[tile.core]
        candidates += _centred_instances(tile, result, scene.xyz)
    tick = time.perf_counter()
    instance_ids, records = _claim_points(scene, candidates, options.min_kept_fraction)
    inside = instance_ids >= 0
    class_of_id = np.array([record.class_id for record in records], dtype=np.int64)
    semantic[inside] = class_of_id[instance_ids[inside]]  # a point of an instance: its class
    timings["stitching"] = time.perf_counter() - tick
    timings["total"] = time.perf_counter() - start
    return SegmentationResult(instance_ids, semantic, records, timings, class_names)


def _centred_instances(tile: Tile, result: SegmentationResult, xyz: np.ndarray):
    """(scan point indices, record) of the tile's instances centred in its core."""
    order = np.argsort(result.instance_ids, kind="stable")
    bounds = np.searchsorted(result.instance_ids[order], np.arange(len(result.instances) + 1))
    out = []
    for record in result.instances:
        points = tile.window[order[bounds[record.id] : bounds[record.id + 1]]]
        if tile.holds(xyz[points, :2].astype(np.float64).mean(axis=0)):
            out.append((points, record))
    return out


def _claim_points(scene: Scene, candidates, min_kept_fraction: float):
    """Instance id of every point and the records of the kept candidates (see the module doc)."""
    # Largest first: an instance a tile saw whole keeps its points against a neighbour's cut
    # piece of the same object, which is then left with too little of itself and dropped.
    candidates = sorted(candidates, key=lambda candidate: -candidate[0].size)
    instance_ids = np.full(scene.num_points, -1, dtype=np.int64)
    kept = []
    for points, record in candidates:
        free = points[instance_ids[points] < 0]
        if free.size == 0 or free.size < min_kept_fraction * points.size:
            continue
        instance_ids[free] = len(kept)
        kept.append(record)
    counts, sums, lo, hi = instance_extents(scene.xyz, instance_ids, len(kept))
    records = tuple(
        dataclasses.replace(
            record,
            id=k,
            point_count=int(counts[k]),
            centroid_m=tuple(float(v) for v in sums[k] / counts[k]),
            box_min_m=tuple(float(v) for v in lo[k]),
            box_max_m=tuple(float(v) for v in hi[k]),
        )  # fmt: skip
        for k, record in enumerate(kept)
    )
    return instance_ids, records
