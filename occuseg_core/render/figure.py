"""`render_segmentation`: one PNG showing a segmentation without a 3D viewer.

A 2 x 2 grid (rows: top view, perspective view from a corner; columns: input colours, instance
colours), instance boxes labelled "id class" on the top-view instance panel, and a table of the
instances (id, class, score, points, occupancy ratio) on the right. Points are rasterised with a
depth test (`raster`), placed unresampled with `Figure.figimage`, and the annotations are drawn
by matplotlib on transparent axes over them. Never touches pyplot's global state.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from occuseg_core.atomic import atomic_destination
from occuseg_core.errors import OccusegError
from occuseg_core.render.annotate import draw_boxes, draw_instance_table, panel_axes
from occuseg_core.render.layout import COLUMNS, VIEWS, Layout, figure_layout
from occuseg_core.render.raster import (
    MAX_POINT_SIZE_PX,
    height_shaded_grey,
    paint,
    point_spacing_px,
    splat_winners,
    square_sizes_px,
    to_uint8_colors,
)
from occuseg_core.render.views import (
    View,
    facing_mask,
    fit_perspective_view,
    fit_top_view,
    vertex_normals,
)
from occuseg_core.types import Scene, SegmentationResult
from occuseg_core.visualize import instance_colors

DEFAULT_DPI = 100
SUBSAMPLE_SEED = 0
VIEW_TITLES = {"top": "top view", "perspective": "perspective"}


def subsample_indices(num_points: int, max_points: int) -> np.ndarray:
    """Sorted indices of at most `max_points` of `num_points` points, the same on every call
    (seeded with SUBSAMPLE_SEED); all points when there are few enough."""
    if num_points <= max_points:
        return np.arange(num_points)
    rng = np.random.default_rng(SUBSAMPLE_SEED)
    return np.sort(rng.choice(num_points, size=max_points, replace=False))


def _check_inputs(
    scene: Scene, result: SegmentationResult, max_points: int, dpi: float, path: Path
) -> None:
    if result.num_points != scene.num_points:
        raise OccusegError(
            f"result has {result.num_points} points but the scene has {scene.num_points}"
        )
    if isinstance(max_points, bool) or not isinstance(max_points, int | np.integer):
        raise OccusegError(f"max_points must be an integer; got {max_points!r}")
    if max_points < 1:
        raise OccusegError(f"max_points must be >= 1; got {max_points}")
    if not (isinstance(dpi, int | float | np.number) and 10 <= dpi <= 1000):
        raise OccusegError(f"dpi must be a number in [10, 1000]; got {dpi!r}")
    highest = int(result.instance_ids.max(initial=-1))
    if highest >= len(result.instances):
        raise OccusegError(
            f"a point has instance id {highest} but the result lists only"
            f" {len(result.instances)} instances"
        )
    if path.suffix.lower() != ".png":
        raise OccusegError(f"{path}: the picture must be a .png file")
    if not path.parent.is_dir():
        raise OccusegError(f"{path}: folder {path.parent} does not exist")


def scene_views(xyz_m: np.ndarray, layout: Layout) -> dict[str, View]:
    """The fitted top and perspective views of the points drawn (as the renderer uses them).

    Args:
        xyz_m: (N, 3) the points drawn (after subsampling), metres.
        layout: the picture layout (panel sizes).
    """
    box = layout.panels[(VIEWS[0], COLUMNS[0])]
    margin = int(round(10 * layout.scale))
    return {
        "top": fit_top_view(xyz_m, box.width_px, box.height_px, margin),
        "perspective": fit_perspective_view(xyz_m, box.width_px, box.height_px, margin),
    }


def _scene_normals(scene: Scene, keep: np.ndarray) -> np.ndarray | None:
    """(K, 3) normals of the drawn points: the scene's, else its mesh's, else None."""
    if scene.normals is not None:
        return scene.normals[keep]
    if scene.faces is not None and len(scene.faces):
        return vertex_normals(scene.xyz, scene.faces)[keep]
    return None


def _rasterize(xyz, normals, views: dict[str, View], layout: Layout) -> dict[str, np.ndarray]:
    """{view name: (H, W) winner map} of the drawn points.

    The top view's typical point spacing gives the scan's spacing in metres; in the
    perspective view each point's square then shrinks with its distance from the camera.
    """
    box = layout.panels[(VIEWS[0], COLUMNS[0])]
    largest = int(round(MAX_POINT_SIZE_PX * layout.scale))
    top_uv, top_depth = views["top"].project(xyz)
    spacing_px = point_spacing_px(top_uv, box.width_px, box.height_px)
    winners = {"top": splat_winners(top_uv, top_depth, box.width_px, box.height_px,
                                    square_sizes_px(spacing_px, largest))}  # fmt: skip
    view = views["perspective"]
    uv, depth = view.project(xyz)
    sizes = square_sizes_px(spacing_px / views["top"].scale_px * view.scale_px / depth, largest)
    if normals is not None:
        facing = facing_mask(view, xyz, normals)
        uv, depth, sizes = uv[facing], depth[facing], sizes[facing]
        kept = np.flatnonzero(facing)
    else:
        kept = np.arange(len(xyz))
    drawn = splat_winners(uv, depth, box.width_px, box.height_px, sizes)
    winners["perspective"] = np.where(drawn >= 0, kept[np.maximum(drawn, 0)], -1)
    return winners


def _column_titles(has_input_colors: bool, input_note: str | None) -> dict[str, str]:
    if has_input_colors:
        left = "input colours" + (f" ({input_note})" if input_note else "")
    else:
        left = f"height-shaded grey: {input_note or 'no input colours'}"
    return {"input": left, "instance": "instance colours (grey: no instance)"}


def _point_colors(
    scene: Scene, result: SegmentationResult, keep: np.ndarray, has_input_colors: bool
) -> dict[str, np.ndarray]:
    """{column: (K, 3) uint8 colour of each drawn point}."""
    return {
        "input": to_uint8_colors(scene.colors[keep])
        if has_input_colors
        else height_shaded_grey(scene.xyz[keep, 2]),
        "instance": instance_colors(result.instance_ids)[keep],
    }


def _draw_panels(figure: Figure, layout: Layout, images: dict, titles: dict[str, str]) -> dict:
    """Places each panel's image unresampled under titled overlay axes.

    Returns:
        {(view, column): the panel's overlay axes}.
    """
    axes = {}
    for (view_name, column), box in layout.panels.items():
        bottom_px = layout.height_px - box.top_px - box.height_px
        figure.figimage(images[(view_name, column)], box.left_px, bottom_px, origin="upper")
        title = f"{VIEW_TITLES[view_name]} · {titles[column]}"
        axes[(view_name, column)] = panel_axes(figure, layout, box, title)
    return axes


def _default_title(scene: Scene, result: SegmentationResult, drawn: int) -> str:
    title = f"{scene.name}: {scene.num_points:,} points, {len(result.instances)} instances"
    if drawn < scene.num_points:
        title += f" (drawing {drawn:,} points, evenly subsampled)"
    return title


def render_segmentation(
    scene: Scene,
    result: SegmentationResult,
    path: str | Path,
    *,
    title: str | None = None,
    max_points: int = 300_000,
    dpi: float = DEFAULT_DPI,
    has_input_colors: bool = True,
    input_note: str | None = None,
) -> Path:
    """Draws input and instance colours side by side, from the top and from a corner.

    Args:
        scene: the segmented scene; its colours fill the left column, its normals (or mesh
            faces) hide the back faces of walls in the perspective view.
        result: the segmentation of `scene` (same number of points).
        path: destination .png; its folder must exist; written atomically.
        title: picture title; default: scene name, point and instance counts.
        max_points: draw at most this many points (a fixed-seed random subset above it).
        dpi: resolution; 100 gives about 1900 x 1200 pixels.
        has_input_colors: False when `scene.colors` are not the scan's colours (e.g. read
            back from a result PLY): the left column then shows height-shaded grey.
        input_note: optional short text appended to the left column's titles.

    Returns:
        The path written.

    Raises:
        OccusegError: point counts differ, instance ids without a record, bad max_points or
            dpi, a path that is not .png or whose folder is missing, or a failed write.
    """
    path = Path(path)
    _check_inputs(scene, result, max_points, dpi, path)
    layout = figure_layout(dpi)
    keep = subsample_indices(scene.num_points, int(max_points))
    xyz = scene.xyz[keep]
    views = scene_views(xyz, layout)
    winners = _rasterize(xyz, _scene_normals(scene, keep), views, layout)
    colors = _point_colors(scene, result, keep, has_input_colors)
    figure = Figure(figsize=(layout.width_px / dpi, layout.height_px / dpi), dpi=dpi)
    FigureCanvasAgg(figure)
    images = {key: paint(winners[key[0]], colors[key[1]]) for key in layout.panels}
    axes = _draw_panels(figure, layout, images, _column_titles(has_input_colors, input_note))
    draw_boxes(axes[("top", "instance")], views["top"], result.instances, layout.scale)
    draw_instance_table(figure, layout, result.instances)
    title = title or _default_title(scene, result, len(keep))
    figure.text(layout.title_top_px / layout.width_px, 1 - layout.title_top_px / layout.height_px,
                title, fontsize=15, fontweight="bold", va="top", ha="left")  # fmt: skip
    return _save_atomically(figure, path, dpi)


def _save_atomically(figure: Figure, path: Path, dpi: float) -> Path:
    try:
        with atomic_destination(path) as tmp:
            figure.savefig(tmp, format="png", dpi=dpi)
    except OSError as error:
        raise OccusegError(f"{path}: cannot write ({error.strerror or error})") from None
    return path
