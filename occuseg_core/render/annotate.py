"""Matplotlib annotations of the rendered picture: panel frames and titles, labelled instance
boxes on the top view, and the instance table.

Each annotation lives on transparent axes laid over its rectangle, with data coordinates in
pixels from the rectangle's top-left corner, so they line up with the rasterised points.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from occuseg_core.render.layout import BASE_DPI, Layout, PanelBox
from occuseg_core.render.views import View
from occuseg_core.types import InstanceRecord
from occuseg_core.visualize import NO_INSTANCE_COLOR, instance_palette

LABEL_FONT_PT = 7.0
LABEL_PAD_PT = 1.0
MONO_CHAR_EM = 0.602
"""Advance of one DejaVu Sans Mono character (matplotlib's monospace font), in em."""
LABEL_LINE_EM = 1.17
TABLE_FONT_PT = 8.5
TABLE_ROW_PX = 15
_TABLE_HEADER = f"{'id':>3}  {'class':<16} {'score':>5} {'points':>8} {'occ':>5}"
_TABLE_TOP_PX = 58
_TABLE_FOOTER_PX = 58


def _overlay_axes(figure: Figure, layout: Layout, box: PanelBox, base_units: bool) -> Axes:
    """Transparent axes over `box`; data units are pixels of the box (at 100 dpi if
    `base_units`), y down."""
    axes = figure.add_axes((
        box.left_px / layout.width_px, 1 - (box.top_px + box.height_px) / layout.height_px,
        box.width_px / layout.width_px, box.height_px / layout.height_px,
    ))  # fmt: skip
    divisor = layout.scale if base_units else 1.0
    axes.set_xlim(0, box.width_px / divisor)
    axes.set_ylim(box.height_px / divisor, 0)
    axes.set_axis_off()
    axes.patch.set_visible(False)
    axes.set_zorder(1)
    return axes


def panel_axes(figure: Figure, layout: Layout, box: PanelBox, title: str) -> Axes:
    """Overlay axes for one image panel (pixel units), framed and titled above the frame."""
    axes = _overlay_axes(figure, layout, box, base_units=False)
    axes.add_patch(Rectangle((0, 0), box.width_px, box.height_px, fill=False,
                             edgecolor="0.75", linewidth=0.8, clip_on=False))  # fmt: skip
    axes.text(0, -4 * layout.scale, title, fontsize=11, ha="left", va="bottom", clip_on=False)
    return axes


def _text_color(rgb: np.ndarray) -> str:
    luminance = float(np.dot(rgb[:3], [0.299, 0.587, 0.114])) / 255.0
    return "black" if luminance > 0.55 else "white"


def _label_size_px(text: str, scale: float) -> tuple[float, float]:
    """Width and height in pixels of a box label with its tag (monospace, so exact widths)."""
    points_to_px = scale * BASE_DPI / 72.0
    pad = 2 * LABEL_PAD_PT * points_to_px
    return (len(text) * MONO_CHAR_EM * LABEL_FONT_PT * points_to_px + pad,
            LABEL_LINE_EM * LABEL_FONT_PT * points_to_px + pad)  # fmt: skip


def _overlap(a: tuple, b: tuple) -> float:
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(width, 0.0) * max(height, 0.0)


def _inside(rect: tuple, width_px: int, height_px: int) -> tuple:
    """`rect` (u, v, w, h) moved the least to lie in the panel (to its top-left if too big)."""
    u, v, w, h = rect
    return (
        float(np.clip(u, 0, max(width_px - w, 0))),
        float(np.clip(v, 0, max(height_px - h, 0))),
        w,
        h,
    )


def place_labels(boxes_px: np.ndarray, sizes_px: np.ndarray, width_px: int, height_px: int):
    """Top-left corners for box labels that overlap each other as little as possible.

    Each label tries, in order: above its box's top-left corner, inside it, below the box,
    inside its bottom, then the same at the box's right edge; it takes the first spot clear of
    the labels placed before it (else the least covered), moved inside the panel.

    Args:
        boxes_px: (K, 4) boxes u0, v0, u1, v1 in panel pixels (v down).
        sizes_px: (K, 2) label width and height.
        width_px, height_px: panel size.

    Returns:
        (K, 2) float64 label corners (u, v of the top-left), in panel pixels.
    """
    placed: list[tuple] = []
    for (u0, v0, u1, v1), (w, h) in zip(boxes_px, sizes_px, strict=True):
        spots = [(u, v) for u in (u0, u1 - w) for v in (v0 - h, v0, v1, v1 - h)]
        rects = [_inside((u, v, w, h), width_px, height_px) for u, v in spots]
        covered = [sum(_overlap(rect, other) for other in placed) for rect in rects]
        placed.append(rects[int(np.argmin(covered))])  # argmin: the first clear spot wins
    return np.array([rect[:2] for rect in placed], dtype=np.float64).reshape(-1, 2)


def draw_boxes(axes: Axes, view: View, instances: Sequence[InstanceRecord], scale: float):
    """Outlines each instance's xy box on a top-view panel and labels it "id class" on a tag
    of the instance's colour, placed by `place_labels`.

    Args:
        axes: overlay axes in panel pixels (`panel_axes`).
        view: the panel's (orthographic top) view.
        instances: the instances; `instances[k].id == k` picks colour k.
        scale: dpi / 100 (label sizes).
    """
    palette = instance_palette(len(instances))
    boxes = np.zeros((len(instances), 4))
    for k, record in enumerate(instances):
        uv, _ = view.project(np.array([record.box_min_m, record.box_max_m], dtype=np.float64))
        boxes[k] = [*uv.min(axis=0), *uv.max(axis=0)]
        axes.add_patch(Rectangle(boxes[k, :2], *(boxes[k, 2:] - boxes[k, :2]), fill=False,
                                 edgecolor="black", linewidth=0.9))  # fmt: skip
    texts = [f"{record.id} {record.class_name}" for record in instances]
    sizes = np.array([_label_size_px(text, scale) for text in texts]).reshape(-1, 2)
    width, height = axes.get_xlim()[1], axes.get_ylim()[0]
    corners = place_labels(boxes, sizes, int(width), int(height))
    pad = LABEL_PAD_PT * scale * BASE_DPI / 72.0
    for record, text, (u, v) in zip(instances, texts, corners, strict=True):
        rgb = palette[record.id]
        axes.text(u + pad, v + pad, text, fontsize=LABEL_FONT_PT, family="monospace",
                  ha="left", va="top", color=_text_color(rgb), clip_on=True,
                  bbox={"facecolor": rgb / 255.0, "edgecolor": "black", "linewidth": 0.5,
                        "pad": LABEL_PAD_PT, "alpha": 0.9})  # fmt: skip


def table_row(record: InstanceRecord) -> str:
    """One line of the instance table: id, class, score, points, occupancy ratio."""
    return (
        f"{record.id:>3}  {record.class_name[:16]:<16} {record.score:5.2f}"
        f" {record.point_count:>8,d} {record.occupancy_ratio:5.2f}"
    )


def _swatch(axes: Axes, y: float, rgb: np.ndarray) -> None:
    axes.add_patch(Rectangle((0, y - 5), 12, 10, facecolor=rgb / 255.0, edgecolor="black",
                             linewidth=0.5))  # fmt: skip


def draw_instance_table(figure: Figure, layout: Layout, instances: Sequence[InstanceRecord]):
    """The instance table in `layout.table`: a colour swatch and `table_row` per instance, as
    many as fit, then how many more there are."""
    box = layout.table
    axes = _overlay_axes(figure, layout, box, base_units=True)
    height = box.height_px / layout.scale
    mono = {"family": "monospace", "fontsize": TABLE_FONT_PT, "va": "center"}
    axes.text(0, 22, f"Instances ({len(instances)})", fontsize=12, fontweight="bold",
              va="center")  # fmt: skip
    axes.text(18, 44, _TABLE_HEADER, fontweight="bold", **mono)
    capacity = max(int((height - _TABLE_TOP_PX - _TABLE_FOOTER_PX) // TABLE_ROW_PX), 1)
    shown = instances if len(instances) <= capacity else instances[: capacity - 1]
    palette = instance_palette(len(instances))
    y = _TABLE_TOP_PX
    for record in shown:
        _swatch(axes, y, palette[record.id])
        axes.text(18, y, table_row(record), **mono)
        y += TABLE_ROW_PX
    if len(shown) < len(instances):
        axes.text(18, y, f"... and {len(instances) - len(shown)} more in the JSON summary", **mono)
    if not instances:
        axes.text(18, y, "no instances found", **mono)
    footer = height - _TABLE_FOOTER_PX + 20
    _swatch(axes, footer, NO_INSTANCE_COLOR)
    axes.text(18, footer, "no instance (walls, floor, unclustered)", **mono)
    axes.text(0, footer + 20, "occ: voxels / predicted occupancy (1 = as predicted)", **mono)
