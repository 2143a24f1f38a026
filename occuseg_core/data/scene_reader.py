"""What every reader of a dataset split is: named, labelled `Scene`s read from disk on indexing.

`SceneReader` is the base of `SceneDataset` (our NPZ dataset folders, synthetic or prepared) and
of the release readers (`ScanNetScans`, `S3DISRooms`, `SceneNNScenes`), so training, evaluation
and `occuseg prepare` take any of them: `scene_names`, `class_table`, `len`, `[i]` -> Scene,
iteration, `head(n)` for the first n scenes without reading them, and `thinned(fraction)` for
the same scenes at a lower point density (robustness checks).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from occuseg_core.classes import ClassTable, class_table
from occuseg_core.types import Scene


class SceneReader(Sequence):
    """One split of a dataset: `scene_names`, `class_table`, `len`, `[i]` -> `Scene`.

    Subclasses set `root`, `split` and `scene_names`, implement `_read(index) -> Scene` for a
    non-negative index in range, and either set `CLASS_TABLE` (a class table name fixed by the
    dataset) or override `class_table`.
    """

    CLASS_TABLE: str | None = None
    scene_names: tuple[str, ...] = ()

    @property
    def class_table(self) -> ClassTable:
        """The class table the split's labels are scored with (e.g. SCANNET20)."""
        if self.CLASS_TABLE is None:
            raise NotImplementedError(f"{type(self).__name__} names no class table")
        return class_table(self.CLASS_TABLE)

    def _read(self, index: int) -> Scene:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.scene_names)

    def __getitem__(self, index: int) -> Scene:
        """Reads scene `index` (negative counts from the end).

        Raises:
            TypeError: a slice or a non-integer index (use `head` for the first scenes).
            IndexError: index out of range.
            OccusegError: a missing, unreadable or corrupt file (the message names it).
        """
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"scene index must be an integer; got {index!r}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"scene index {index} out of range for {len(self)} scenes")
        return self._read(int(index) % len(self))

    def head(self, count: int) -> SceneReader:
        """The first `count` scenes (all when there are fewer), read only when indexed.

        Raises:
            ValueError: a negative count.
        """
        if count < 0:
            raise ValueError(f"head wants a count >= 0; got {count}")
        return _Head(self, min(count, len(self)))

    def thinned(self, fraction: float, seed: int = 0) -> SceneReader:
        """The same scenes with each point kept with probability `fraction`, read on indexing.

        Scene i is thinned with the generator seeded by (seed, i), so it is the same subset
        every time. Faces are dropped (a thinned mesh is a point cloud).

        Raises:
            ValueError: a fraction outside (0, 1].
        """
        if not 0 < fraction <= 1:
            raise ValueError(f"the kept fraction must be in (0, 1]; got {fraction}")
        return _Thinned(self, fraction, seed)

    def __repr__(self) -> str:
        root, split = getattr(self, "root", None), getattr(self, "split", None)
        return f"{type(self).__name__}({str(root)!r}, {split!r}, {len(self)} scenes)"


class _View(SceneReader):
    """Scenes derived from another reader's: same root, split and class table."""

    def __init__(self, reader: SceneReader, scene_names: tuple[str, ...]) -> None:
        self.reader = reader
        self.root = getattr(reader, "root", None)
        self.split = getattr(reader, "split", None)
        self.scene_names = scene_names

    @property
    def class_table(self) -> ClassTable:
        return self.reader.class_table


class _Head(_View):
    """The first scenes of another reader (see `SceneReader.head`)."""

    def __init__(self, reader: SceneReader, count: int) -> None:
        super().__init__(reader, tuple(reader.scene_names[:count]))

    def _read(self, index: int) -> Scene:
        return self.reader[index]


class _Thinned(_View):
    """Another reader's scenes at a lower point density (see `SceneReader.thinned`)."""

    def __init__(self, reader: SceneReader, fraction: float, seed: int) -> None:
        super().__init__(reader, tuple(reader.scene_names))
        self.fraction, self.seed = fraction, seed

    def _read(self, index: int) -> Scene:
        from occuseg_core.data.transforms import keep_random_points

        rng = np.random.default_rng([self.seed, index])
        return keep_random_points(self.reader[index], self.fraction, rng)
