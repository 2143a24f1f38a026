"""`SceneReader`: the one interface of every split reader (NPZ dataset folders and the release
readers): names, class table, indexing rules, and `head`, which reads nothing up front."""

import numpy as np
import pytest

from occuseg_core import Scene
from occuseg_core.data.readers import READERS, make_reader
from occuseg_core.data.scene_reader import SceneReader


class CountingReader(SceneReader):
    """Three one-point scenes; counts what is read from 'disk'."""

    CLASS_TABLE = "scannet20"

    def __init__(self) -> None:
        self.root, self.split = "mem", "test"
        self.scene_names = ("a", "b", "c")
        self.reads: list[int] = []

    def _read(self, index: int) -> Scene:
        self.reads.append(index)
        return Scene(np.full((1, 3), index, np.float32), np.zeros((1, 3), np.float32),
                     name=self.scene_names[index])  # fmt: skip


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
