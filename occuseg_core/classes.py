"""Class tables: NYU40 ids, the ScanNet v2 benchmark's 20 semantic / 18 instance classes.

Labels are stored in scenes as dataset ids (NYU40 for ScanNet and the synthetic generator,
0 = unannotated). The network predicts *train ids* 0..K-1; a `ClassTable` maps between the two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IGNORE_INDEX = -100
"""Train id of voxels that no loss or metric looks at (unannotated, or not a benchmark class)."""

NYU40_NAMES: dict[int, str] = {
    1: "wall", 2: "floor", 3: "cabinet", 4: "bed", 5: "chair", 6: "sofa", 7: "table", 8: "door",
    9: "window", 10: "bookshelf", 11: "picture", 12: "counter", 13: "blinds", 14: "desk",
    15: "shelves", 16: "curtain", 17: "dresser", 18: "pillow", 19: "mirror", 20: "floor mat",
    21: "clothes", 22: "ceiling", 23: "books", 24: "refrigerator", 25: "television", 26: "paper",
    27: "towel", 28: "shower curtain", 29: "box", 30: "whiteboard", 31: "person",
    32: "night stand", 33: "toilet", 34: "sink", 35: "lamp", 36: "bathtub", 37: "bag",
    38: "otherstructure", 39: "otherfurniture", 40: "otherprop",
}  # fmt: skip

SCANNET20_IDS: tuple[int, ...] = (
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    12,
    14,
    16,
    24,
    28,
    33,
    34,
    36,
    39,
)
"""NYU40 ids of the ScanNet v2 benchmark's 20 semantic classes, in train-id order."""

SCANNET_BACKGROUND_IDS: tuple[int, ...] = (1, 2)
"""Wall and floor: semantic classes that are never instances."""


@dataclass(frozen=True)
class ClassTable:
    """The classes a model predicts and how they map to the dataset's label ids.

    Args:
        name: table name, e.g. "scannet20".
        dataset_ids: dataset label id of each train id (train id = position).
        names: human-readable name of each train id.
        background_ids: dataset ids of classes that are never instances (wall, floor).
    """

    name: str
    dataset_ids: tuple[int, ...]
    names: tuple[str, ...]
    background_ids: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.dataset_ids) != len(self.names):
            raise ValueError(
                f"class table {self.name!r}: {len(self.dataset_ids)} ids but"
                f" {len(self.names)} names"
            )
        if len(set(self.dataset_ids)) != len(self.dataset_ids):
            raise ValueError(f"class table {self.name!r}: duplicate dataset ids")
        if any(i <= 0 for i in self.dataset_ids):
            raise ValueError(
                f"class table {self.name!r}: dataset ids must be > 0 (0 = unannotated)"
            )

    @property
    def num_classes(self) -> int:
        return len(self.dataset_ids)

    @property
    def background_train_ids(self) -> tuple[int, ...]:
        """Train ids of the classes that form no instances (wall, floor for ScanNet)."""
        return tuple(t for t, d in enumerate(self.dataset_ids) if d in set(self.background_ids))

    @property
    def instance_train_ids(self) -> tuple[int, ...]:
        """Train ids of the classes that form instances (all but the background)."""
        return tuple(
            t for t, d in enumerate(self.dataset_ids) if d not in set(self.background_ids)
        )

    def to_train_ids(self, dataset_labels: np.ndarray) -> np.ndarray:
        """Maps dataset label ids to train ids; unknown and unannotated ids give IGNORE_INDEX.

        Args:
            dataset_labels: (N,) integer dataset ids.

        Returns:
            (N,) int64 train ids in [0, K) or IGNORE_INDEX.
        """
        labels = np.asarray(dataset_labels).astype(np.int64, copy=False)
        size = max(int(labels.max(initial=0)), max(self.dataset_ids)) + 1
        lut = np.full(size, IGNORE_INDEX, dtype=np.int64)
        lut[list(self.dataset_ids)] = np.arange(self.num_classes)
        out = np.full(labels.shape, IGNORE_INDEX, dtype=np.int64)
        valid = labels >= 0
        out[valid] = lut[labels[valid]]
        return out

    def to_dataset_ids(self, train_ids: np.ndarray) -> np.ndarray:
        """Maps train ids back to dataset ids; IGNORE_INDEX (or any negative id) gives 0.

        Args:
            train_ids: (N,) integer train ids.

        Returns:
            (N,) int64 dataset ids, 0 where the train id is negative.
        """
        train_ids = np.asarray(train_ids).astype(np.int64, copy=False)
        table = np.asarray(self.dataset_ids, dtype=np.int64)
        out = np.zeros(train_ids.shape, dtype=np.int64)
        valid = train_ids >= 0
        if np.any(train_ids[valid] >= self.num_classes):
            raise ValueError(f"train ids must be < {self.num_classes}")
        out[valid] = table[train_ids[valid]]
        return out

    def is_instance_class(self, dataset_labels: np.ndarray) -> np.ndarray:
        """(N,) bool: the dataset id belongs to a benchmark class that forms instances."""
        labels = np.asarray(dataset_labels)
        instance_ids = [d for d in self.dataset_ids if d not in set(self.background_ids)]
        return np.isin(labels, instance_ids)


SCANNET20 = ClassTable(
    name="scannet20",
    dataset_ids=SCANNET20_IDS,
    names=tuple(NYU40_NAMES[i] for i in SCANNET20_IDS),
    background_ids=SCANNET_BACKGROUND_IDS,
)

S3DIS13 = ClassTable(
    name="s3dis13",
    dataset_ids=tuple(range(1, 14)),
    names=(
        "ceiling", "floor", "wall", "beam", "column", "window", "door", "table", "chair", "sofa",
        "bookcase", "board", "clutter",
    ),
    background_ids=(1, 2, 3),
)  # fmt: skip

SCENENN10_IDS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 14, 25, 40)
"""NYU40 ids of the SceneNN classes of the paper's Table 4 (after JSIS3D), in column order:
wall, floor, cabinet, bed, chair, sofa, table, desk, television ("tv"), prop (otherprop)."""

SCENENN10 = ClassTable(
    name="scenenn10",
    dataset_ids=SCENENN10_IDS,
    names=tuple(NYU40_NAMES[i] for i in SCENENN10_IDS[:-1]) + ("prop",),
    background_ids=(),
)
"""SceneNN's ten evaluated classes; all of them count as instances (walls and floors too)."""

CLASS_TABLES: dict[str, ClassTable] = {
    "scannet20": SCANNET20,
    "s3dis13": S3DIS13,
    "scenenn10": SCENENN10,
}


def class_table(name: str) -> ClassTable:
    """Returns the named class table; raises ValueError listing the known names."""
    try:
        return CLASS_TABLES[name]
    except KeyError:
        raise ValueError(f"unknown class table {name!r}; known: {sorted(CLASS_TABLES)}") from None
