"""`SceneReader`: the one interface of every split reader (NPZ dataset folders and the release
readers): names, class table, indexing rules, and `head`, which reads nothing up front."""

import numpy as np
import pytest

from occuseg_core import Scene
from occuseg_core.data.readers import READERS, make_reader
from occuseg_core.data.scene_reader import SceneReader


class CountingReader(SceneReader):
    """Three scenes of `points` points each; counts what is read from 'disk'."""

    CLASS_TABLE = "scannet20"

    def __init__(self, points: int = 1) -> None:
        self.root, self.split = "mem", "test"
        self.scene_names = ("a", "b", "c")
        self.points = points
        self.reads: list[int] = []

    def _read(self, index: int) -> Scene:
        self.reads.append(index)
        n = self.points
        xyz = np.column_stack([np.arange(n), np.full(n, index), np.zeros(n)]).astype(np.float32)
        return Scene(xyz, np.zeros((n, 3), np.float32), semantic=np.arange(n) % 40 + 1,
                     instance=np.arange(n), name=self.scene_names[index])  # fmt: skip


def test_indexing_rules():
    reader = CountingReader()
    assert len(reader) == 3 and reader[-1].name == "c" and reader[np.int64(1)].name == "b"
    assert [scene.name for scene in reader] == ["a", "b", "c"]
    for bad in (slice(0, 2), 1.0, True, "a"):
        with pytest.raises(TypeError):
            reader[bad]
    for out in (3, -4):
        with pytest.raises(IndexError):
            reader[out]
    assert reader.reads == [2, 1, 0, 1, 2]
    assert repr(reader) == "CountingReader('mem', 'test', 3 scenes)"


def test_head_reads_only_what_is_indexed():
    reader = CountingReader()
    head = reader.head(2)
    assert reader.reads == [] and len(head) == 2 and head.scene_names == ("a", "b")
    assert head.class_table.name == "scannet20"
    assert head[-1].name == "b" and reader.reads == [1]
    with pytest.raises(IndexError):
        head[2]
    assert len(reader.head(10)) == 3 and len(reader.head(0)) == 0
    with pytest.raises(ValueError, match="count >= 0"):
        reader.head(-1)


def test_every_reader_is_a_scene_reader_with_its_class_table(tmp_path):
    from occuseg_core.data.dataset import write_synthetic_dataset

    assert all(issubclass(cls, SceneReader) for cls in READERS.values())
    assert {cls.CLASS_TABLE for name, cls in READERS.items() if name != "synthetic"} == {
        "scannet20", "s3dis13", "scenenn10"}  # fmt: skip
    write_synthetic_dataset(tmp_path / "d", 2, seed=1, val_fraction=0.5, progress=False)
    val = make_reader("synthetic", tmp_path / "d", "val")
    assert val.class_table.name == "scannet20"  # read from dataset.json
    assert val.head(1)[0].name == val.scene_names[0]


def test_a_reader_without_class_table_says_so():
    class Nameless(SceneReader):
        pass

    with pytest.raises(NotImplementedError, match="Nameless names no class table"):
        _ = Nameless().class_table


def test_thinned_keeps_a_seeded_fraction_of_each_scene():
    """4,000 points at fraction 0.25: about 1,000 kept (3 sigma = 82), labels travel with their
    points, the same subset on every read, another for another seed; nothing read up front."""
    reader = CountingReader(points=4000)
    thin = reader.thinned(0.25, seed=3)
    assert reader.reads == [] and thin.scene_names == reader.scene_names
    assert thin.class_table.name == "scannet20"
    first, again = thin[1], thin[1]
    assert abs(first.num_points - 1000) < 82
    np.testing.assert_array_equal(first.xyz, again.xyz)
    kept = first.instance  # the original index of every kept point
    np.testing.assert_array_equal(first.xyz[:, 0], kept)
    np.testing.assert_array_equal(first.semantic, kept % 40 + 1)
    assert not np.array_equal(reader.thinned(0.25, seed=4)[1].instance, kept)
    assert reader.thinned(1.0)[0].num_points == 4000
    for bad in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError, match="kept fraction"):
            reader.thinned(bad)
