"""Pictures of segmentation results, readable without a 3D viewer.

`render_segmentation(scene, result, path)` writes one PNG: input and instance colours side by
side, seen from the top and from a corner, with labelled boxes and an instance table.
`load_written_result(path)` reads back what `result_io.write_result` wrote, for
`occuseg render`. Modules: `views` (cameras), `raster` (points to pixels), `layout`, `annotate`
(matplotlib overlays), `figure` (the picture), `load` (result files).
"""

from occuseg_core.render.figure import render_segmentation, scene_views, subsample_indices
from occuseg_core.render.layout import Layout, figure_layout
from occuseg_core.render.load import WrittenResult, load_written_result, read_input_scene

__all__ = [
    "Layout", "WrittenResult", "figure_layout", "load_written_result", "read_input_scene",
    "render_segmentation", "scene_views", "subsample_indices",
]  # fmt: skip
