"""Kitchen cabinet runs labelled as one instance (`SynthConfig.joined_kitchen_cabinets`,
`occuseg synth --joined-kitchen-cabinets`), as ScanNet's annotators label them. Expectations:
instance ids worked out by hand on hand-made layouts, and the unjoined scan of the same seed
(the flag changes labels only: every joined instance is a union of unjoined ones)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from occuseg_core.cli import main
from occuseg_core.data.synthetic import DEFAULT_CONFIG, ROOM_TYPES, SynthConfig, synthesize
from occuseg_core.data.synthetic.geometry import Pose, box
from occuseg_core.data.synthetic.groups import joined, kitchen_run
from occuseg_core.data.synthetic.objects import (
    CABINET,
    CHAIR,
    UNANNOTATED,
    RoomLayout,
    SceneObject,
    rectangle_walls,
)
from occuseg_core.data.synthetic.placement import FloorPlan
from occuseg_core.data.synthetic.scan import object_labels

KITCHEN = replace(DEFAULT_CONFIG, room_types=("kitchen",))


def thing(semantic: int, labelled_as: int | None = None, x: float = 0.0) -> SceneObject:
    return SceneObject(
        "thing", semantic, (box(x, 0.0, 0.0, 0.5, 0.5, 0.5),), ((0.5, 0.5, 0.5),),
        labelled_as=labelled_as,
    )  # fmt: skip


def layout_of(objects: list[SceneObject]) -> RoomLayout:
    return RoomLayout("kitchen", 4.0, 4.0, 2.5, rectangle_walls(4.0, 4.0), tuple(objects))


def test_an_object_labelled_as_an_earlier_one_takes_its_instance_and_adds_none() -> None:
    objects = [
        thing(CABINET), thing(CABINET, labelled_as=0), thing(CHAIR), thing(UNANNOTATED),
        thing(CABINET, labelled_as=1), thing(CHAIR, labelled_as=2), thing(CABINET),
    ]  # fmt: skip
    semantic, instance = object_labels(layout_of(objects))
    assert semantic.tolist() == [CABINET, CABINET, CHAIR, 0, CABINET, CHAIR, CABINET]
    assert instance.tolist() == [1, 1, 2, 0, 1, 2, 3]  # ids stay 1..K, no gaps


@pytest.mark.parametrize(
    ("objects", "why"),
    [
        ([thing(CABINET, labelled_as=1), thing(CABINET)], "later"),
        ([thing(CABINET, labelled_as=0)], "itself"),
        ([thing(CHAIR), thing(CABINET, labelled_as=0)], "another class"),
    ],
)
def test_a_join_to_a_later_object_itself_or_another_class_is_refused(objects, why) -> None:
    with pytest.raises(ValueError, match="earlier object of the same class"):
        object_labels(layout_of(objects))


def test_placing_a_group_renumbers_its_joins_like_its_hosts() -> None:
    plan = FloorPlan(4.0, 4.0, 2.5, rectangle_walls(4.0, 4.0))
    plan.add([thing(CHAIR), thing(CHAIR)], Pose(1.0, 1.0, 0.0))
    indices = plan.add(joined([thing(CABINET, x=k * 0.5) for k in range(3)], 0), Pose(2, 2, 0))
    assert indices == [2, 3, 4]
    assert [o.labelled_as for o in plan.objects] == [None, None, None, 2, 2]


@pytest.mark.parametrize("seed", range(6))
def test_a_kitchen_run_is_one_base_cabinet_and_one_wall_cabinet(seed: int) -> None:
    parts = {}
    for one in (False, True):
        rng = np.random.default_rng(seed)
        parts[one] = kitchen_run(rng, 2.6, fridge=True, uppers=True, one_instance=one)
    separate, one = parts[False], parts[True]
    assert [o.parts for o in separate] == [o.parts for o in one]  # labels only
    semantic, instance = object_labels(layout_of(one))
    _, before = object_labels(layout_of(separate))
    cabinets = np.flatnonzero(semantic == CABINET)
    base = [i for i in cabinets if one[i].z_max < 1.0]
    hung = [i for i in cabinets if one[i].z_max > 1.0]
    assert len(base) >= 3 and len(hung) == len(base) - 1  # none above the sink
    assert len(set(instance[base])) == 1 and len(set(instance[hung])) == 1
    assert instance[base[0]] != instance[hung[0]]
    assert len(set(before[cabinets])) == len(cabinets)  # without the flag: one per cabinet
    others = [i for i in range(len(one)) if i not in cabinets]
    assert len(set(instance[others])) == len(others)  # counter, sink, fridge stay apart


@pytest.mark.parametrize("seed", range(3))
def test_joined_kitchen_scans_keep_their_points_and_coarsen_only_the_cabinets(seed: int) -> None:
    apart = synthesize(seed, KITCHEN).scene
    one = synthesize(seed, replace(KITCHEN, joined_kitchen_cabinets=True)).scene
    for name in ("xyz", "colors", "normals", "semantic"):
        assert np.array_equal(getattr(apart, name), getattr(one, name)), name
    pairs = np.unique(np.stack([apart.instance, one.instance]), axis=1)
    assert len(np.unique(pairs[0])) == pairs.shape[1]  # each old instance lies in one new one
    merged = [new for new in np.unique(pairs[1]) if np.sum(pairs[1] == new) > 1]
    assert merged and all(np.all(one.semantic[one.instance == m] == CABINET) for m in merged)
    assert np.array_equal(apart.instance == 0, one.instance == 0)


@pytest.mark.parametrize("room", sorted(set(ROOM_TYPES) - {"kitchen"}))
def test_other_rooms_are_labelled_as_before(room: str) -> None:
    config = replace(DEFAULT_CONFIG, room_types=(room,))
    for seed in range(2):
        apart = synthesize(seed, config).scene
        one = synthesize(seed, replace(config, joined_kitchen_cabinets=True)).scene
        assert np.array_equal(apart.instance, one.instance)


def test_the_setting_is_checked_and_kept_out_of_old_dataset_files() -> None:
    assert "joined_kitchen_cabinets" not in DEFAULT_CONFIG.to_dict()  # dataset.json as before
    config = SynthConfig(joined_kitchen_cabinets=True)
    values = json.loads(json.dumps(config.to_dict()))
    assert values["joined_kitchen_cabinets"] is True and SynthConfig.from_dict(values) == config
    for bad in (1, "yes", None):
        with pytest.raises(ValueError, match="joined_kitchen_cabinets must be true or false"):
            SynthConfig(joined_kitchen_cabinets=bad)


def test_synth_command_takes_joined_kitchen_cabinets(tmp_path: Path) -> None:
    runs = {}
    for flag in ([], ["--joined-kitchen-cabinets"]):
        out = tmp_path / f"ds{len(flag)}"
        args = ["synth", "--out", str(out), "--scenes", "1", "--seed", "3", "--val-fraction", "0",
                "--room-types", "kitchen", "--no-progress", *flag]  # fmt: skip
        assert main(args) == 0
        info = json.loads((out / "dataset.json").read_text())
        assert info["generator"]["config"].get("joined_kitchen_cabinets", False) is bool(flag)
        with np.load(out / "train" / "synth_00000.npz") as arrays:
            cabinet = arrays["semantic"] == CABINET
            runs[bool(flag)] = len(np.unique(arrays["instance"][cabinet]))
    assert 1 <= runs[True] < runs[False]
