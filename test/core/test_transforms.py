"""Augmentation: hand-checked rotation, determinism, labels untouched, magnitudes as configured."""

import dataclasses

import numpy as np
import pytest

from occuseg_core import Scene
from occuseg_core.config import AugmentConfig
from occuseg_core.data.transforms import augment_scene, elastic_distortion, rotate_z

OFF = AugmentConfig(rotate_z=False, flip_xy=False, scale_range=(1.0, 1.0), elastic=False,
                    color_jitter=0.0, color_noise=0.0)  # fmt: skip


def _scene(rng, n=2000):
    xyz = rng.uniform(0, 2, (n, 3)).astype(np.float32)
    return Scene(
        xyz, rng.random((n, 3)), semantic=rng.integers(1, 5, n), instance=rng.integers(0, 9, n)
    )


def test_rotate_z_by_90_degrees():
    """(1, 0, 5) turned by +90 degrees about z is (0, 1, 5)."""
    np.testing.assert_allclose(
        rotate_z(np.array([[1.0, 0.0, 5.0]]), np.pi / 2), [[0, 1, 5]], atol=1e-12
    )


def test_same_seed_same_augmentation_and_labels_untouched(rng):
    scene = _scene(rng)
    a = augment_scene(scene, AugmentConfig(), np.random.default_rng(3))
    b = augment_scene(scene, AugmentConfig(), np.random.default_rng(3))
    c = augment_scene(scene, AugmentConfig(), np.random.default_rng(4))
    np.testing.assert_array_equal(a.xyz, b.xyz)
    assert not np.allclose(a.xyz, c.xyz)
    np.testing.assert_array_equal(a.semantic, scene.semantic)
    np.testing.assert_array_equal(a.instance, scene.instance)


@pytest.mark.parametrize("seed", range(8))
def test_right_angle_rotation_keeps_axis_alignment(rng, seed):
    """Without jitter, an axis-aligned scene stays axis-aligned: its centred x/y extents are
    those of the original, possibly swapped (a 90-degree turn)."""
    scene = _scene(rng)
    config = dataclasses.replace(OFF, rotate_z=True, rotate_z_right_angles=True)
    out = augment_scene(scene, config, np.random.default_rng(seed))
    extent = np.ptp(out.xyz[:, :2], axis=0)
    original = np.ptp(scene.xyz[:, :2], axis=0)
    assert np.allclose(extent, original, atol=1e-5) or np.allclose(
        extent, original[::-1], atol=1e-5
    )
    pairwise = lambda x: np.linalg.norm(x[:50, None] - x[None, :50], axis=-1)  # noqa: E731
    np.testing.assert_allclose(pairwise(out.xyz), pairwise(scene.xyz), atol=1e-5)  # rigid


def test_scaling_stays_in_range(rng):
    scene = _scene(rng)
    config = dataclasses.replace(OFF, scale_range=(0.9, 1.1))
    for seed in range(5):
        out = augment_scene(scene, config, np.random.default_rng(seed))
        ratio = np.ptp(out.xyz[:, 2]) / np.ptp(scene.xyz[:, 2])
        assert 0.9 - 1e-6 <= ratio <= 1.1 + 1e-6


def test_elastic_displacement_has_the_configured_scale(rng):
    xyz = rng.uniform(0, 3, (20_000, 3))
    moved = elastic_distortion(
        xyz, granularity_m=0.5, magnitude_m=0.02, rng=np.random.default_rng(0)
    )
    std = np.std(moved - xyz)
    assert 0.005 < std < 0.04  # about magnitude_m, smooth (interpolated) field
    # smooth: two points 1 cm apart (in the same call, so the same field) move almost alike
    pair = np.r_[xyz, [[1.5, 1.5, 1.5], [1.51, 1.5, 1.5]]]
    step = elastic_distortion(pair, 0.5, 0.02, np.random.default_rng(0)) - pair
    assert np.linalg.norm(step[-1] - step[-2]) < 0.005


def test_point_dropout_keeps_the_drawn_fraction_with_labels_attached(rng):
    """Keep range (0.5, 0.5): about half the points stay (2000 points: 3 sigma = 0.034), each
    with its own label and colour, and the scene is otherwise only centred."""
    n = 2000
    scene = Scene(rng.uniform(0, 2, (n, 3)).astype(np.float32), rng.random((n, 3)),
                  semantic=rng.integers(1, 5, n), instance=np.arange(1, n + 1))  # fmt: skip
    config = dataclasses.replace(OFF, color_jitter=0.0, point_keep_range=(0.5, 0.5))
    out = augment_scene(scene, config, np.random.default_rng(1))
    assert abs(out.num_points / n - 0.5) < 0.034
    kept = out.instance - 1  # which original point each output point is
    assert np.all(np.diff(kept) > 0)
    np.testing.assert_array_equal(out.semantic, scene.semantic[kept])
    np.testing.assert_allclose(out.colors, scene.colors[kept].astype(np.float32))
    np.testing.assert_allclose(out.xyz - out.xyz[0], scene.xyz[kept] - scene.xyz[kept[0]],
                               atol=1e-5)  # fmt: skip
    tiny = _scene(rng, n=3)
    assert augment_scene(tiny, dataclasses.replace(OFF, point_keep_range=(1e-9, 1e-9)),
                         np.random.default_rng(0)).num_points == 1  # fmt: skip


def test_point_dropout_off_by_default_and_checked():
    from occuseg_core.config import config_from_dict, load_config

    assert AugmentConfig().point_keep_range == (1.0, 1.0)
    values = load_config("small").to_dict()
    for bad in ([0.0, 1.0], [0.6, 0.5], [0.5, 1.2]):
        values["data"]["augment"]["point_keep_range"] = bad
        with pytest.raises(ValueError, match="point_keep_range"):
            config_from_dict(values)


def test_auto_contrast_by_hand():
    """Channel r spans 0.2..0.6: stretched to 0..1, so 0.4 -> 0.5; with blend 0.5 the output is
    the mean of the two (0.4 -> 0.45). A constant channel (g = 0.3) stays as it is."""
    from occuseg_core.data.transforms import auto_contrast

    colors = np.array([[0.2, 0.3, 0.0], [0.4, 0.3, 0.5], [0.6, 0.3, 1.0]])
    np.testing.assert_allclose(auto_contrast(colors, 1.0)[:, 0], [0.0, 0.5, 1.0], atol=1e-6)
    np.testing.assert_allclose(auto_contrast(colors, 0.5)[:, 0], [0.1, 0.45, 0.8], atol=1e-6)
    np.testing.assert_allclose(auto_contrast(colors, 1.0)[:, 1], 0.3, atol=1e-6)
    np.testing.assert_allclose(auto_contrast(colors, 0.0), colors, atol=1e-6)


def test_crop_keeps_a_window_of_the_configured_width(rng):
    """A 2 m x 2 m scene cropped to 1.5 m: what stays spans at most 1.5 m along x and y, about
    (1.5 / 2)^2 of the points (3 sigma of 2000 points: 0.029), labels attached; a scene
    narrower than the window is left whole."""
    from occuseg_core.data.transforms import crop_window

    n = 2000
    scene = Scene(rng.uniform(0, 2, (n, 3)).astype(np.float32), rng.random((n, 3)),
                  semantic=rng.integers(1, 5, n), instance=np.arange(1, n + 1))  # fmt: skip
    config = dataclasses.replace(OFF, crop_m=1.5)
    for seed in range(5):
        out = augment_scene(scene, config, np.random.default_rng(seed))
        assert np.all(np.ptp(out.xyz[:, :2], axis=0) <= 1.5 + 1e-6)
        assert abs(out.num_points / n - 0.5625) < 0.029 + 0.05  # + the window's edge effects
        np.testing.assert_array_equal(out.semantic, scene.semantic[out.instance - 1])
    assert crop_window(scene.xyz, 2.5, rng).all()
    never = dataclasses.replace(config, crop_probability=0.0)
    assert augment_scene(scene, never, np.random.default_rng(0)).num_points == n


def test_new_augmentations_are_checked_and_off_by_default():
    from occuseg_core.config import config_from_dict, load_config

    assert AugmentConfig().crop_m is None and AugmentConfig().auto_contrast_probability == 0.0
    values = load_config("small").to_dict()
    values["data"]["augment"]["crop_m"] = 0.0
    with pytest.raises(ValueError, match="crop_m must be > 0"):
        config_from_dict(values)
    values["data"]["augment"]["crop_m"] = None
    values["data"]["augment"]["auto_contrast_probability"] = 1.5
    with pytest.raises(ValueError, match="probabilities"):
        config_from_dict(values)
    values["data"]["augment"]["auto_contrast_probability"] = 0.2
    values["data"]["sources"] = [{"root": "a", "augment": {"point_keep_range": [0.0, 1.0]}}]
    with pytest.raises(ValueError, match=r"sources\[0\]\.augment\.point_keep_range"):
        config_from_dict(values)
