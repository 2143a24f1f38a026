"""Rendering results: projections, the depth test, the picture's pixels and `occuseg render`.

The scene is a 4 x 3 m floor with two walls, a 1 m blue box (instance 0) and a small green box
(instance 1). A magenta marker point floats 10 cm above the blue box's centre, part of
instance 0: it is the nearest point along its pixel's ray in both views, so the picture must
show its input colour at its projection in the left column and instance 0's colour in the
right one.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from occuseg_core.cli import main
from occuseg_core.errors import OccusegError
from occuseg_core.io import write_scene
from occuseg_core.render import figure_layout, render_segmentation, scene_views, subsample_indices
from occuseg_core.render.annotate import (
    draw_boxes,
    draw_instance_table,
    panel_axes,
    place_labels,
    table_row,
)
from occuseg_core.render.layout import COLUMNS
from occuseg_core.render.raster import splat_winners
from occuseg_core.render.views import facing_mask, fit_top_view, vertex_normals
from occuseg_core.result_io import write_result
from occuseg_core.types import InstanceRecord, Scene, SegmentationResult
from occuseg_core.visualize import instance_palette

MARKER_RGB = np.array([250, 0, 250], dtype=np.uint8)
DPI = 60  # small pictures keep the tests fast; the layout scales with the dpi


def _grid(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    aa, bb = np.meshgrid(a, b, indexing="ij")
    return aa.ravel(), bb.ravel()


def _box(low, high, step=0.04):
    """Points and outward normals of a box's top and four sides."""
    (x0, y0, _), (x1, y1, z1) = low, high
    xs, ys, zs = (np.arange(lo, hi + 1e-9, step) for lo, hi in zip(low, high, strict=True))
    faces = []
    u, v = _grid(xs, ys)
    faces.append((np.c_[u, v, np.full_like(u, z1)], (0, 0, 1)))
    for x, n in ((x0, -1), (x1, 1)):
        u, v = _grid(ys, zs)
        faces.append((np.c_[np.full_like(u, x), u, v], (n, 0, 0)))
    for y, n in ((y0, -1), (y1, 1)):
        u, v = _grid(xs, zs)
        faces.append((np.c_[u, np.full_like(u, y), v], (0, n, 0)))
    return (np.concatenate([f[0] for f in faces]),
            np.concatenate([np.tile(f[1], (len(f[0]), 1)) for f in faces]))  # fmt: skip


def make_scene_and_result() -> tuple[Scene, SegmentationResult, int]:
    """The scene of the module docstring, its result and the marker's index."""
    u, v = _grid(np.arange(0, 4.0, 0.04), np.arange(0, 3.0, 0.04))
    floor = (np.c_[u, v, np.zeros_like(u)], np.tile((0, 0, 1), (len(u), 1)))
    u, v = _grid(np.arange(0, 4.0, 0.05), np.arange(0.05, 2.0, 0.05))
    wall_y = (np.c_[u, np.zeros_like(u), v], np.tile((0, 1, 0), (len(u), 1)))
    u, v = _grid(np.arange(0.05, 3.0, 0.05), np.arange(0.05, 2.0, 0.05))
    wall_x = (np.c_[np.zeros_like(u), u, v], np.tile((1, 0, 0), (len(u), 1)))
    blue, green = _box((1.0, 0.8, 0.0), (2.0, 1.8, 0.8)), _box((2.8, 1.9, 0.0), (3.4, 2.5, 0.5))
    marker = (np.array([[1.5, 1.3, 0.9]]), np.array([[0.0, 0.0, 1.0]]))
    parts = [floor, wall_y, wall_x, blue, marker, green]
    rgb = [(150, 120, 90), *[(200, 200, 190)] * 2, (50, 70, 200), MARKER_RGB, (30, 170, 60)]
    ids = [-1, -1, -1, 0, 0, 1]
    sizes = [len(p[0]) for p in parts]
    scene = Scene(
        xyz=np.concatenate([p[0] for p in parts]), normals=np.concatenate([p[1] for p in parts]),
        colors=np.repeat(np.array(rgb, dtype=np.uint8), sizes, axis=0), name="boxes",
    )  # fmt: skip
    instance_ids = np.repeat(np.array(ids, dtype=np.int64), sizes)
    records = tuple(_record(k, name, scene.xyz[instance_ids == k])
                    for k, name in enumerate(("cabinet", "chair")))  # fmt: skip
    semantic = np.where(instance_ids == 0, 3, np.where(instance_ids == 1, 5, 1))
    result = SegmentationResult(instance_ids, semantic, records, {"total": 0.1},
                                {3: "cabinet", 5: "chair"})  # fmt: skip
    return scene, result, sum(sizes[:4])


def _record(k: int, name: str, xyz: np.ndarray) -> InstanceRecord:
    as_tuple = lambda a: tuple(float(x) for x in a)  # noqa: E731
    return InstanceRecord(k, 3 if k == 0 else 5, name, 0.9 - 0.1 * k, len(xyz), len(xyz) // 2,
                          len(xyz) / 2.2, 1.1, as_tuple(xyz.mean(0)), as_tuple(xyz.min(0)),
                          as_tuple(xyz.max(0)))  # fmt: skip


def pixel_of(image: np.ndarray, view_name: str, column: str, point: np.ndarray) -> np.ndarray:
    """The picture's RGB at the projection of `point` in one panel (of a SCENE picture)."""
    layout = figure_layout(DPI)
    uv, _ = scene_views(SCENE.xyz, layout)[view_name].project(point[None])
    col, row = np.floor(uv[0]).astype(int)
    box = layout.panels[(view_name, column)]
    assert box.contains(col, row)
    return image[box.top_px + row, box.left_px + col]


def marker_pixels(image: np.ndarray, view_name: str) -> tuple[np.ndarray, np.ndarray]:
    """The marker's pixel in the input and in the instance column of one view."""
    return tuple(pixel_of(image, view_name, column, SCENE.xyz[MARKER]) for column in COLUMNS)


SCENE, RESULT, MARKER = make_scene_and_result()


@pytest.fixture(scope="module")
def picture(tmp_path_factory) -> np.ndarray:
    path = render_segmentation(SCENE, RESULT, tmp_path_factory.mktemp("r") / "p.png", dpi=DPI)
    return np.asarray(Image.open(path).convert("RGB"))


def test_picture_has_the_layout_size(picture):
    layout = figure_layout(DPI)
    assert picture.shape == (layout.height_px, layout.width_px, 3)
    assert figure_layout(2 * DPI).width_px == pytest.approx(2 * layout.width_px, abs=2)


@pytest.mark.parametrize("view_name", ["top", "perspective"])
def test_marker_pixel_has_input_colour_left_and_instance_colour_right(picture, view_name):
    left, right = marker_pixels(picture, view_name)
    np.testing.assert_array_equal(left, MARKER_RGB)
    np.testing.assert_array_equal(right, instance_palette(2)[0])


def test_top_view_shows_the_small_box_and_floor_colours(picture):
    """The green box's top centre (3.1, 2.2, 0.5) and a bare floor spot (3.5, 0.4, 0)."""
    green_top, floor = np.array([3.1, 2.2, 0.5]), np.array([3.5, 0.4, 0.0])
    np.testing.assert_array_equal(pixel_of(picture, "top", "input", green_top), [30, 170, 60])
    np.testing.assert_array_equal(
        pixel_of(picture, "top", "instance", green_top), instance_palette(2)[1]
    )
    np.testing.assert_array_equal(pixel_of(picture, "top", "input", floor), [150, 120, 90])
    np.testing.assert_array_equal(pixel_of(picture, "top", "instance", floor), [160, 160, 160])


def test_table_shows_each_instance_swatch(picture):
    table = figure_layout(DPI).table
    region = picture[table.top_px : table.top_px + table.height_px, table.left_px :]
    colours = {tuple(c) for c in region.reshape(-1, 3)}
    for rgb in instance_palette(2):
        assert tuple(rgb) in colours


def test_table_and_box_labels_name_every_instance():
    """The green box has 16 x 16 top points and 4 sides of 16 x 13: 1,088 points."""
    layout = figure_layout(DPI)
    figure = Figure(figsize=(layout.width_px / DPI, layout.height_px / DPI), dpi=DPI)
    draw_instance_table(figure, layout, RESULT.instances)
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert table_row(RESULT.instances[0]) in texts and table_row(RESULT.instances[1]) in texts
    assert table_row(RESULT.instances[1]).split() == ["1", "chair", "0.80", "1,088", "1.10"]
    box = layout.panels[("top", "instance")]
    axes = panel_axes(figure, layout, box, "top view")
    draw_boxes(axes, scene_views(SCENE.xyz, layout)["top"], RESULT.instances, layout.scale)
    assert [t.get_text() for t in axes.texts] == ["top view", "0 cabinet", "1 chair"]
    outlines = [p for p in axes.patches if p.get_edgecolor()[:3] == (0.0, 0.0, 0.0)]
    assert len(outlines) == 2


def test_table_says_how_many_instances_did_not_fit():
    records = tuple(replace(RESULT.instances[0], id=k) for k in range(300))
    figure = Figure(figsize=(19, 12), dpi=DPI)
    draw_instance_table(figure, figure_layout(DPI), records)
    texts = [t.get_text() for t in figure.axes[0].texts]
    rows = [text for text in texts if text in {table_row(r) for r in records}]
    more = [text for text in texts if "more in the JSON summary" in text]
    assert 30 < len(rows) < 300 and rows == [table_row(r) for r in records[: len(rows)]]
    assert more == [f"... and {300 - len(rows)} more in the JSON summary"]


def test_top_view_orientation():
    """x to the right, y up, and higher points nearer (smaller depth)."""
    view = fit_top_view(np.array([[0, 0, 0], [2, 1, 0], [0, 0, 1.0]]), 200, 100, margin_px=0)
    uv, depth = view.project(np.array([[0, 0, 0], [2, 1, 0], [0, 0, 1.0]]))
    np.testing.assert_allclose(uv[1] - uv[0], [200, -100])  # 2 x 1 m in 200 x 100 px
    assert depth[2] < depth[0]


def test_perspective_camera_looks_from_above_a_corner_and_sees_everything():
    view = scene_views(SCENE.xyz, figure_layout(DPI))["perspective"]
    assert view.position_m[2] > SCENE.xyz[:, 2].max()
    assert view.position_m[0] < 0 and view.position_m[1] < 0
    uv, depth = view.project(SCENE.xyz)
    box = figure_layout(DPI).panels[("perspective", "input")]
    assert (depth > 0).all() and (uv >= 0).all() and (uv < [box.width_px, box.height_px]).all()


def test_back_faces_of_the_near_walls_are_hidden():
    """Both walls face +x / +y, into the room, away from the camera at -x, -y."""
    view = scene_views(SCENE.xyz, figure_layout(DPI))["perspective"]
    facing = facing_mask(view, SCENE.xyz, SCENE.normals)
    walls = (np.abs(SCENE.normals[:, 2]) < 0.5) & ((SCENE.xyz[:, 0] == 0) | (SCENE.xyz[:, 1] == 0))
    assert walls.sum() > 1000 and not facing[walls].any()
    assert facing[SCENE.normals[:, 2] > 0.5].all()


def test_vertex_normals_of_a_counter_clockwise_square_point_up():
    xyz = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0.0]])
    normals = vertex_normals(xyz, np.array([[0, 1, 2], [0, 2, 3]]))
    np.testing.assert_allclose(normals, np.tile([0, 0, 1.0], (4, 1)))


def test_nearer_square_wins_whatever_the_order():
    uv = np.array([[5.2, 5.7], [5.9, 5.1], [1.0, 1.0]])
    for order in ([0, 1, 2], [2, 1, 0]):
        winners = splat_winners(uv[order], np.array([3.0, 1.0, 2.0])[order], 10, 8, 3)
        assert np.asarray(order)[winners[5, 5]] == 1
    assert (winners[0:3, 0:3] >= 0).all() and winners[7, 9] == -1


def test_splat_winners_match_a_brute_force_z_buffer(rng):
    """Per pixel, the nearest of the squares covering it (sizes 1..4), checked one by one."""
    n, width, height = 60, 23, 17
    uv = rng.uniform(-2, [width + 2, height + 2], size=(n, 2))
    depth, sizes = rng.uniform(1, 5, n), rng.integers(1, 5, n)
    expected = np.full((height, width), -1)
    for row in range(height):
        for col in range(width):
            lo = np.floor(uv).astype(int) - (sizes[:, None] - 1) // 2
            hit = ((col >= lo[:, 0]) & (col < lo[:, 0] + sizes)
                   & (row >= lo[:, 1]) & (row < lo[:, 1] + sizes))  # fmt: skip
            if hit.any():
                expected[row, col] = np.flatnonzero(hit)[np.argmin(depth[hit])]
    np.testing.assert_array_equal(splat_winners(uv, depth, width, height, sizes), expected)


def test_labels_are_placed_without_overlap_inside_the_panel():
    boxes = np.array([[10, 20, 40, 60], [30, 20, 60, 60], [50, 20, 80, 60], [90, 0, 99, 10.0]])
    sizes = np.tile([35.0, 10.0], (4, 1))
    corners = place_labels(boxes, sizes, 100, 80)
    rects = np.c_[corners, corners + sizes]
    assert (rects[:, :2] >= 0).all() and (rects[:, 2] <= 100).all() and (rects[:, 3] <= 80).all()
    for i in range(4):
        for j in range(i):
            apart = (rects[i, 2] <= rects[j, 0] or rects[j, 2] <= rects[i, 0]
                     or rects[i, 3] <= rects[j, 1] or rects[j, 3] <= rects[i, 1])  # fmt: skip
            assert apart, (i, j, rects)


def test_subsampling_is_deterministic_and_bounded():
    first, again = subsample_indices(1000, 100), subsample_indices(1000, 100)
    np.testing.assert_array_equal(first, again)
    assert len(np.unique(first)) == 100 and (np.diff(first) > 0).all() and first[-1] < 1000
    np.testing.assert_array_equal(subsample_indices(50, 100), np.arange(50))


def test_subsampled_pictures_are_identical(tmp_path):
    paths = [render_segmentation(SCENE, RESULT, tmp_path / f"{k}.png", dpi=40, max_points=3000)
             for k in range(2)]  # fmt: skip
    first, second = (np.asarray(Image.open(p)) for p in paths)
    np.testing.assert_array_equal(first, second)
    full = np.asarray(Image.open(render_segmentation(SCENE, RESULT, tmp_path / "f.png", dpi=40)))
    assert not np.array_equal(first, full)


def test_without_input_colours_the_left_column_is_grey(tmp_path):
    path = render_segmentation(SCENE, RESULT, tmp_path / "g.png", dpi=DPI, has_input_colors=False)
    image = np.asarray(Image.open(path).convert("RGB"))
    for view_name in ("top", "perspective"):
        (r, g, b), right = marker_pixels(image, view_name)
        assert r == g == b and 70 <= r <= 220
        np.testing.assert_array_equal(right, instance_palette(2)[0])


def test_write_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "p.png"
    target.write_bytes(b"old picture")

    def failing_savefig(self, fname, **kwargs):
        open(fname, "wb").write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", failing_savefig)
    with pytest.raises(OccusegError, match="No space left"):
        render_segmentation(SCENE, RESULT, target, dpi=30)
    assert target.read_bytes() == b"old picture" and sorted(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"scene": SCENE.subset(np.arange(100))}, "has 16870 points but the scene has 100"),
        ({"result": replace(RESULT, instances=RESULT.instances[:1])}, "instance id 1 but"),
        ({"path": "p.jpg"}, "must be a .png"),
        ({"path": "missing/p.png"}, "does not exist"),
        ({"max_points": 0}, "max_points must be >= 1"),
    ],
)
def test_bad_inputs_raise_clear_errors(tmp_path, change, message):
    args = {"scene": SCENE, "result": RESULT, "path": "p.png", **change}
    with pytest.raises(OccusegError, match=message):
        render_segmentation(args["scene"], args["result"], tmp_path / args["path"],
                            max_points=change.get("max_points", 10))  # fmt: skip


@pytest.fixture
def written(tmp_path):
    """`write_result` output of SCENE in tmp_path/out and the scan as tmp_path/boxes.npz."""
    write_result(tmp_path / "out", SCENE, RESULT)
    write_scene(SCENE, tmp_path / "boxes.npz")
    return tmp_path


def _render_cli(argv, out) -> np.ndarray:
    assert main(["render", *map(str, argv), "--out", str(out), "--dpi", str(DPI)]) == 0
    return np.asarray(Image.open(out).convert("RGB"))


@pytest.mark.parametrize("result_file", ["boxes.json", "boxes_instances.ply"])
def test_cli_uses_the_input_scan_colours(written, result_file, capsys):
    image = _render_cli([written / "out" / result_file, "--input", written / "boxes.npz"],
                        written / "pic" / "p.png")  # fmt: skip
    assert image.shape[:2] == (figure_layout(DPI).height_px, figure_layout(DPI).width_px)
    for view_name in ("top", "perspective"):
        left, right = marker_pixels(image, view_name)
        np.testing.assert_array_equal(left, MARKER_RGB)
        np.testing.assert_array_equal(right, instance_palette(2)[0])
    assert capsys.readouterr().out.strip() == f"wrote {written / 'pic' / 'p.png'}"


def test_cli_without_input_draws_grey_and_says_so(written, capsys):
    image = _render_cli([written / "out" / "boxes.json"], written / "p.png")
    (r, g, b), _ = marker_pixels(image, "top")
    assert r == g == b
    assert "no scan recorded, pass --input SCAN" in capsys.readouterr().out


@pytest.mark.parametrize("recorded, coloured", [("../boxes.npz", True), ("gone.npz", False)])
def test_cli_uses_the_scan_recorded_in_the_summary(written, recorded, coloured, capsys):
    summary_path = written / "out" / "boxes.json"
    summary = json.loads(summary_path.read_text())
    summary_path.write_text(json.dumps({**summary, "input": recorded}))
    image = _render_cli([summary_path], written / "p.png")
    assert np.array_equal(marker_pixels(image, "top")[0], MARKER_RGB) == coloured
    assert ("recorded scan gone.npz not found" in capsys.readouterr().out) != coloured


def _edit_summary(path, **changes):
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def _summary_with(**changes):
    return lambda folder: _edit_summary(folder / "out" / "boxes.json", **changes)


def _drop_second_record(folder):
    summary = folder / "out" / "boxes.json"
    _edit_summary(summary, instances=json.loads(summary.read_text())["instances"][:1])


def _write_scan(scene):
    return lambda folder: write_scene(scene, folder / "s.npz")


@pytest.mark.parametrize(
    "breakage, argv_extra, message",
    [
        (lambda d: (d / "out" / "boxes.json").unlink(), [], "boxes.json: no such file"),
        (_summary_with(num_points=7), [], "16870 points but its summary says 7"),
        (_summary_with(format="x"), [], "not an occuseg"),
        (_drop_second_record, [], "instance id 1 but"),
        (_write_scan(SCENE.subset(np.arange(50))), ["--input", "s.npz"], "50 points but the"),
        (_write_scan(SCENE.replace(xyz=SCENE.xyz + 0.1)), ["--input", "s.npz"], "points differ"),
        (lambda d: None, ["--input", "nothing.ply"], "no such file"),
    ],
)
def test_cli_reports_missing_or_inconsistent_files_in_one_line(
    written, breakage, argv_extra, message, capsys
):
    breakage(written)
    extra = [written / a if a.endswith(("npz", "ply")) else a for a in argv_extra]
    argv = ["render", str(written / "out" / "boxes_instances.ply"), *map(str, extra)]
    assert main([*argv, "--out", str(written / "p.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("occuseg render: error: ") and err.count("\n") == 1 and message in err
    assert not (written / "p.png").exists()


def test_cli_refuses_a_file_that_is_not_a_result(written, capsys):
    assert main(["render", str(written / "boxes.npz"), "--out", str(written / "p.png")]) == 2
    assert "not a segmentation result" in capsys.readouterr().err


def test_a_single_point_without_instances_renders(tmp_path):
    scene = Scene(xyz=np.zeros((1, 3)), colors=np.full((1, 3), 0.2), name="dot")
    result = SegmentationResult(np.array([-1]), np.array([0]), (), {}, {})
    image = np.asarray(Image.open(render_segmentation(scene, result, tmp_path / "d.png", dpi=30)))
    box = figure_layout(30).panels[("top", "input")]
    panel = image[box.top_px :, box.left_px :][: box.height_px, : box.width_px, :3]
    assert (panel == 51).all(axis=-1).any()  # round(0.2 * 255) = 51
