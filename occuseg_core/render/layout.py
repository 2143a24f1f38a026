"""Where everything goes in the rendered picture, in pixels from the top-left corner.

Rows are views (top, perspective), columns are colourings (input, instance); the instance table
runs down the right-hand side. Sizes are given at 100 dpi and scale with the dpi, so a higher
dpi gives the same picture with more pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

VIEWS = ("top", "perspective")
COLUMNS = ("input", "instance")
BASE_DPI = 100.0
_MARGIN = 12
_TITLE_BAND = 52
_PANEL_TITLE_BAND = 22
_PANEL_W, _PANEL_H = 700, 520
_GAP = 12
_TABLE_W = 440


@dataclass(frozen=True)
class PanelBox:
    """A rectangle of the picture, in pixels: left, top (from the picture's top edge), size."""

    left_px: int
    top_px: int
    width_px: int
    height_px: int

    def contains(self, u_px: float, v_px: float) -> bool:
        return 0 <= u_px < self.width_px and 0 <= v_px < self.height_px


@dataclass(frozen=True)
class Layout:
    """The picture's size and the rectangles of its parts.

    Args:
        width_px, height_px: picture size.
        scale: dpi / 100, applied to every base size.
        panels: {(view, column): PanelBox} with view in VIEWS, column in COLUMNS.
        table: the instance table's rectangle.
        title_top_px: baseline region of the picture title.
    """

    width_px: int
    height_px: int
    scale: float
    panels: dict[tuple[str, str], PanelBox]
    table: PanelBox
    title_top_px: int


def figure_layout(dpi: float) -> Layout:
    """The layout of a picture rendered at `dpi` (see module docstring).

    Args:
        dpi: dots per inch, > 0; 100 gives a 1900 x 1200-ish picture.

    Returns:
        The layout.
    """
    if not dpi > 0:
        raise ValueError(f"dpi must be > 0; got {dpi}")
    scale = dpi / BASE_DPI

    def px(value: float) -> int:
        return int(round(value * scale))

    panels = {}
    for row, view in enumerate(VIEWS):
        top = _TITLE_BAND + _PANEL_TITLE_BAND + row * (_PANEL_H + _PANEL_TITLE_BAND + _GAP)
        for col, column in enumerate(COLUMNS):
            left = _MARGIN + col * (_PANEL_W + _GAP)
            panels[(view, column)] = PanelBox(px(left), px(top), px(_PANEL_W), px(_PANEL_H))
    width = _MARGIN + 2 * _PANEL_W + _GAP + 2 * _GAP + _TABLE_W + _MARGIN
    height = _TITLE_BAND + 2 * (_PANEL_TITLE_BAND + _PANEL_H) + _GAP + _MARGIN
    table_left = _MARGIN + 2 * _PANEL_W + 3 * _GAP
    table = PanelBox(px(table_left), px(_TITLE_BAND), px(_TABLE_W), px(height - _TITLE_BAND))
    return Layout(px(width), px(height), scale, panels, table, px(_MARGIN))
