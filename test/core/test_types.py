"""Scene validation at the boundary: every bad input gives a ValueError naming the problem."""

import numpy as np
import pytest

from occuseg_core import Scene


def _xyz(n=4):
    return np.arange(3 * n, dtype=np.float32).reshape(n, 3)


def test_uint8_colors_are_scaled_to_unit_range():
    scene = Scene(_xyz(2), np.array([[0, 128, 255], [255, 0, 0]], np.uint8))
    np.testing.assert_allclose(scene.colors[0], [0.0, 128 / 255, 1.0])
    assert scene.colors.dtype == np.float32 and scene.xyz.dtype == np.float32


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(xyz=np.zeros((0, 3)), colors=np.zeros((0, 3))), "empty"),
        (dict(xyz=np.zeros((3, 2)), colors=np.zeros((3, 3))), r"xyz must be \(N, 3\)"),
        (dict(xyz=np.array([[0, 0, np.nan]]), colors=np.zeros((1, 3))), "NaN or inf"),
        (dict(xyz=np.array([[0, np.inf, 0]]), colors=np.zeros((1, 3))), "NaN or inf"),
        (dict(xyz=np.zeros((3, 3)), colors=np.zeros((2, 3))), "colors must be"),
        (dict(xyz=np.zeros((2, 3)), colors=np.full((2, 3), 2.0)), r"\[0, 1\]"),
        (
            dict(xyz=np.zeros((2, 3)), colors=np.zeros((2, 3)), semantic=np.zeros(3, int)),
            "semantic",
        ),
        (dict(xyz=np.zeros((2, 3)), colors=np.zeros((2, 3)), instance=np.array([0, -1])), ">= 0"),
        (dict(xyz=np.zeros((2, 3)), colors=np.zeros((2, 3)), semantic=np.zeros(2)), "integers"),
        (dict(xyz=np.zeros((2, 3)), colors=np.zeros((2, 3)), normals=np.zeros((1, 3))), "normals"),
        (dict(xyz=np.zeros((2, 3)), colors=np.zeros((2, 3)), faces=np.array([[0, 1, 2]])), "face"),
    ],
)
def test_invalid_scenes_are_rejected_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Scene(**kwargs)


def test_subset_and_drop_invalid_keep_arrays_aligned():
    xyz = np.array([[0, 0, 0], [np.nan, 0, 0], [1, 1, 1]], np.float32)
    keep, arrays = Scene.drop_invalid(xyz, np.eye(3), semantic=np.array([1, 2, 3]))
    assert keep.tolist() == [0, 2]
    scene = Scene(arrays["xyz"], arrays["colors"], semantic=arrays["semantic"])
    assert scene.semantic.tolist() == [1, 3]
    assert scene.subset(np.array([1])).semantic.tolist() == [3]
