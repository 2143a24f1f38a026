"""Large scans tile by tile (issue 16): whole floors and buildings with bounded memory.

The scan's ground plane (x, y) is cut into tiles of at most `tile_m` where it is sparsest
(`plan_tiles`). Each tile is segmented on its own together with a band of `overlap_m` around
it (its *window*), so an object cut by a tile border is seen whole by the tile whose core
holds its centre (when it reaches less than `overlap_m` beyond that core). Stitching then:
1. keeps, of each tile, the instances whose centre (mean x, y of their points) lies in the
   tile's core: every object is kept by one tile, the one that saw it centred;
2. gives the kept instances their points, largest first; a piece mostly taken by an instance
   kept before (another tile's view of the same object) gives it its free points; the other
   tiles' pieces follow: the far part of an object longer than the band joins the instance of
   its class it overlaps, a piece no neighbour found is kept (`_claim_points`);
3. labels every other point as its own tile (the one whose core holds it) labelled it (a point
   its tile gave to an instance that stitching dropped takes the class of the nearest point
   outside every instance: no object class without an object), and recomputes each
   instance's point count, centroid and box (class, score and occupancy are the tile's).
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
        if not (np.isfinite(self.tile_m) and self.tile_m >= MIN_TILE_M):
            raise ValueError(f"tile_m must be >= {MIN_TILE_M} m; got {self.tile_m}")
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
    core, which it segments), `core`, a mask over `window` of the points in its core, and
    `faces`, the indices of the scan's faces whose three corners lie in the window (or None)."""

    lo: np.ndarray
    hi: np.ndarray
    window: np.ndarray
    core: np.ndarray
    faces: np.ndarray | None = None

    def holds(self, xy: np.ndarray) -> np.ndarray:
        """(N,) whether each (x, y) lies in the core."""
        return np.all((xy >= self.lo) & (xy < self.hi), axis=-1)


MIN_TILE_M = 0.5


def plan_tiles(
    xyz: np.ndarray, tile_m: float, overlap_m: float, faces: np.ndarray | None = None
) -> list[Tile]:
    """Cuts the scan into tiles no longer than `tile_m` in x or y (k-d style).

    A part longer than `tile_m` is cut across its longer axis, within the middle 40% of its
    extent, at the 10 cm slice that holds the fewest points: between rooms, through doorways
    and between pieces of furniture rather than through them, so that objects and rooms stay
    whole where the scan allows. The cores partition the plane; a point on a cut belongs to the
    far side. Each part carries its window (and faces) down the cuts, so planning reads every
    point once per level of cuts, not once per tile.
    """
    if not tile_m >= MIN_TILE_M:
        raise ValueError(f"tile_m must be >= {MIN_TILE_M} m; got {tile_m}")
    xy = np.asarray(xyz, dtype=np.float64)[:, :2]
    everything = np.arange(xy.shape[0])
    all_faces = None if faces is None or len(faces) == 0 else np.arange(len(faces))
    tiles = []
    stack = [(everything, everything, all_faces, np.full(2, -np.inf), np.full(2, np.inf))]
    while stack:
        core, window, window_faces, lo, hi = stack.pop()
        points = xy[core]
        low, high = points.min(axis=0), points.max(axis=0)
        axis = int(np.argmax(high - low))
        if high[axis] - low[axis] <= tile_m:
            in_core = np.all((xy[window] >= lo) & (xy[window] < hi), axis=1)  # = `core`
            tiles.append(Tile(lo, hi, window, in_core, window_faces))
            continue
        cut = _sparsest_cut(points[:, axis], low[axis], high[axis])
        left_hi, right_lo = hi.copy(), lo.copy()
        left_hi[axis] = right_lo[axis] = cut
        along = xy[window, axis]
        parts = [
            (core[points[:, axis] < cut], window[along <= cut + overlap_m], lo, left_hi),
            (core[points[:, axis] >= cut], window[along >= cut - overlap_m], right_lo, hi),
        ]
        for part_core, part_window, part_lo, part_hi in reversed(parts):
            part_faces = None
            if window_faces is not None:
                corners = xy[faces[window_faces], axis]  # (F, 3)
                inside = (
                    (corners <= cut + overlap_m)
                    if part_hi is left_hi
                    else (corners >= cut - overlap_m)
                )
                part_faces = window_faces[np.all(inside, axis=1)]
            stack.append((part_core, part_window, part_faces, part_lo, part_hi))
    return sorted(tiles, key=lambda tile: (tile.lo[1], tile.lo[0]))  # row by row


_CUT_SLICE_M = 0.1
_MAX_SLICES = 10_000


def _sparsest_cut(values: np.ndarray, low: float, high: float) -> float:
    """The middle of the emptiest slice in the middle 40% of [low, high] (ties: the most
    central), so both sides keep at least 30% of the extent; the middle if no slice fits."""
    start, stop = low + 0.3 * (high - low), high - 0.3 * (high - low)
    width = max(_CUT_SLICE_M, (stop - start) / _MAX_SLICES)  # a far outlier: coarser slices
    edges = np.arange(start, stop, width)
    if edges.size < 2:
        return (low + high) / 2
    counts, _ = np.histogram(values, bins=edges)
    centres = (edges[:-1] + edges[1:]) / 2
    best = np.lexsort((np.abs(centres - (low + high) / 2), counts))[0]
    return float(centres[best])


def crop_scene(scene: Scene, tile: Tile) -> Scene:
    """The scene's points in the tile's window, with the faces whose three corners are kept."""
    part = scene.subset(tile.window)
    if tile.faces is None or len(tile.faces) == 0:
        return part
    faces = np.searchsorted(tile.window, scene.faces[tile.faces])
    return part.replace(faces=faces)


def segment_tiled(
    scene: Scene,
    segment_whole: Callable[[Scene], SegmentationResult],
    options: TilingOptions,
    min_points: int = 0,
) -> SegmentationResult:
    """Segments `scene` tile by tile with `segment_whole` and stitches the tiles' instances.

    Args:
        min_points: drop stitched instances with fewer points (as `segment_whole` drops
            smaller instances of a tile).

    Returns:
        A SegmentationResult over all of the scene's points; `timings_s` sums each stage over
        the tiles and adds "stitching" and "total".
    """
    start = time.perf_counter()
    semantic = np.zeros(scene.num_points, dtype=np.int64)
    in_tile_instance = np.zeros(scene.num_points, dtype=bool)
    centred, others, timings, class_names = [], [], {}, {}
    for tile in plan_tiles(scene.xyz, options.tile_m, options.overlap_m, scene.faces):
        result = segment_whole(crop_scene(scene, tile))
        class_names = result.class_names
        for stage, seconds in result.timings_s.items():
            if stage != "total":
                timings[stage] = timings.get(stage, 0.0) + seconds
        semantic[tile.window[tile.core]] = result.semantic_ids[tile.core]
        in_tile_instance[tile.window[tile.core]] = result.instance_ids[tile.core] >= 0
        for points, record in _pieces(tile, result):
            centre = scene.xyz[points, :2].astype(np.float64).mean(axis=0)
            (centred if tile.holds(centre) else others).append((points, record))
    tick = time.perf_counter()
    instance_ids, records = _claim_points(scene, centred, others, options.min_kept_fraction,
                                          min_points)  # fmt: skip
    inside = instance_ids >= 0
    class_of_id = np.array([record.class_id for record in records], dtype=np.int64)
    semantic[inside] = class_of_id[instance_ids[inside]]  # a point of an instance: its class
    _relabel_orphans(scene.xyz, semantic, orphan=in_tile_instance & ~inside,
                     outside=~in_tile_instance & ~inside)  # fmt: skip
    timings["stitching"] = time.perf_counter() - tick
    timings["total"] = time.perf_counter() - start
    return SegmentationResult(instance_ids, semantic, records, timings, class_names)


def _relabel_orphans(xyz: np.ndarray, semantic: np.ndarray, orphan: np.ndarray,
                     outside: np.ndarray) -> None:  # fmt: skip
    """Gives each `orphan` point (its tile's instance was dropped in stitching) the class of
    the nearest `outside` point (in no instance anywhere), in place; none if there is none."""
    if not orphan.any() or not outside.any():
        return
    from scipy.spatial import cKDTree

    _, nearest = cKDTree(xyz[outside]).query(xyz[orphan])
    semantic[orphan] = semantic[np.flatnonzero(outside)[nearest]]


def _pieces(tile: Tile, result: SegmentationResult):
    """(scan point indices, record) of every instance a tile found."""
    order = np.argsort(result.instance_ids, kind="stable")
    bounds = np.searchsorted(result.instance_ids[order], np.arange(len(result.instances) + 1))
    return [(tile.window[order[bounds[r.id] : bounds[r.id + 1]]], r) for r in result.instances]


ATTACH_FRACTION = 0.25


def _claim_points(scene: Scene, centred, others, min_kept_fraction: float, min_points: int = 0):
    """Instance id of every point and the records of the kept instances (see the module doc).

    First the pieces centred in their tile's core, largest first, so the tile that saw an
    object centred and most whole speaks for it: a piece with at least `min_kept_fraction` of
    its points free becomes an instance; a piece mostly taken gives its free points to the
    instance it shares at least ATTACH_FRACTION of itself with (another tile's view of the same
    object, e.g. one longer than the band), or is dropped. Then the other tiles' pieces, largest
    first: one sharing ATTACH_FRACTION of itself with a kept instance of its class (or mostly
    taken by one) is that object's far part and gives it its free points; one mostly free is
    an object only its tile found. Instances with fewer than `min_points` points are dropped.
    """
    instance_ids = np.full(scene.num_points, -1, dtype=np.int64)
    kept = []
    by_size = lambda piece: -piece[0].size  # noqa: E731
    for group, off_centre in ((centred, False), (others, True)):
        for points, record in sorted(group, key=by_size):
            taken = instance_ids[points]
            free = points[taken < 0]
            if free.size == 0:
                continue
            owners = np.bincount(taken[taken >= 0], minlength=1)
            owner = int(owners.argmax())
            shares = owners[owner] >= ATTACH_FRACTION * points.size
            mostly_free = free.size >= min_kept_fraction * points.size
            same_class = bool(kept) and kept[owner].class_id == record.class_id
            if shares and (not mostly_free or (off_centre and same_class)):
                instance_ids[free] = owner
            elif mostly_free:
                instance_ids[free] = len(kept)
                kept.append(record)
    counts = np.bincount(instance_ids[instance_ids >= 0], minlength=len(kept))
    keep = np.flatnonzero(counts >= max(min_points, 1))
    new_id = np.full(len(kept) + 1, -1, dtype=np.int64)
    new_id[keep] = np.arange(keep.size)
    instance_ids = new_id[np.where(instance_ids >= 0, instance_ids, len(kept))]
    kept = [kept[k] for k in keep]
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
