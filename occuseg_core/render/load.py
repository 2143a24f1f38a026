"""Reading back a result that `result_io.write_result` wrote, to render it.

A result is the pair `<scene>_instances.ply` (points, instance colours, per-point instance_id
and semantic_id) and `<scene>.json` (the instance records); either file finds the other. The
input colours come from the scanned file: given explicitly, or recorded in the summary's
optional "input" field; every pairing is checked (point counts, positions) so a picture never
shows one scan's colours on another scan's points.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from occuseg_core.errors import OccusegError
from occuseg_core.io import read_ply_with_properties, read_scene
from occuseg_core.io._files import read_json
from occuseg_core.types import InstanceRecord, Scene, SegmentationResult

PLY_SUFFIX = "_instances.ply"
SUMMARY_FORMAT = "occuseg-segmentation"
POSITION_TOLERANCE_M = 1e-3
"""An input scan pairs with a result only if every point lies this close to the result's."""
_VECTOR_FIELDS = ("centroid_m", "box_min_m", "box_max_m")


@dataclass(frozen=True, eq=False)
class WrittenResult:
    """A result read back from its files.

    Args:
        scene: the result PLY's points (colours are instance colours, not the scan's).
        result: per-point ids from the PLY, instance records and timings from the summary.
        summary: the parsed JSON summary.
        ply_path: the `<scene>_instances.ply` file.
        summary_path: the `<scene>.json` file.
    """

    scene: Scene
    result: SegmentationResult
    summary: dict
    ply_path: Path
    summary_path: Path


def result_paths(path: str | Path) -> tuple[Path, Path]:
    """(instances PLY, JSON summary) of a result, from either of them; both must exist.

    Raises:
        OccusegError: a path that is neither kind, or a missing file.
    """
    path = Path(path)
    if path.name.endswith(PLY_SUFFIX):
        ply, summary = path, path.with_name(path.name[: -len(PLY_SUFFIX)] + ".json")
    elif path.suffix.lower() == ".json":
        ply, summary = path.with_name(path.stem + PLY_SUFFIX), path
    else:
        raise OccusegError(
            f"{path}: not a segmentation result; pass the <scene>.json summary or the"
            f" <scene>{PLY_SUFFIX} that `occuseg segment` wrote"
        )
    if not path.is_file():
        raise OccusegError(f"{path}: no such file")
    for sibling in (ply, summary):
        if not sibling.is_file():
            raise OccusegError(f"{sibling}: no such file (the result {path.name} needs it)")
    return ply, summary


def _read_summary(path: Path) -> dict:
    summary = read_json(path, "not a readable JSON summary")
    if not isinstance(summary, dict) or summary.get("format") != SUMMARY_FORMAT:
        raise OccusegError(f"{path}: not an occuseg summary (format is not {SUMMARY_FORMAT!r})")
    for key in ("num_points", "instances"):
        if key not in summary:
            raise OccusegError(f"{path}: summary lacks {key!r}")
    return summary


def _record(entry: object, index: int, where: Path) -> InstanceRecord:
    names = [f.name for f in fields(InstanceRecord)]
    if not isinstance(entry, dict) or any(name not in entry for name in names):
        missing = names if not isinstance(entry, dict) else [n for n in names if n not in entry]
        raise OccusegError(f"{where}: instance {index} lacks {', '.join(missing)}")
    try:
        values = {name: entry[name] for name in names}
        for name in _VECTOR_FIELDS:
            values[name] = tuple(float(v) for v in values[name])
            if len(values[name]) != 3:
                raise ValueError(f"{name} must have 3 values")
        for name in ("id", "class_id", "point_count", "voxel_count"):
            values[name] = int(values[name])
        for name in ("score", "predicted_occupancy", "occupancy_ratio"):
            values[name] = float(values[name])
        values["class_name"] = str(values["class_name"])
    except (TypeError, ValueError) as error:
        raise OccusegError(f"{where}: instance {index}: {error}") from None
    if values["id"] != index:
        raise OccusegError(f"{where}: instance {index} has id {values['id']}; ids must be 0..I-1")
    return InstanceRecord(**values)


def _point_ids(
    ply: Path, properties: dict[str, np.ndarray], num_points: int
) -> tuple[np.ndarray, np.ndarray]:
    for name in ("instance_id", "semantic_id"):
        if name not in properties:
            raise OccusegError(f"{ply}: no {name!r} vertex property; not written by occuseg")
    instance_ids = properties["instance_id"].astype(np.int64)
    if len(instance_ids) != num_points:
        raise OccusegError(f"{ply}: {len(instance_ids)} points but its summary says {num_points}")
    return instance_ids, properties["semantic_id"].astype(np.int64)


def load_written_result(path: str | Path) -> WrittenResult:
    """Reads a result written by `write_result`, from its PLY or its JSON summary.

    Args:
        path: `<scene>.json` or `<scene>_instances.ply`; the other must sit beside it.

    Returns:
        The result with its geometry.

    Raises:
        OccusegError: missing sibling, unreadable or foreign files, or files that disagree
            (point counts, instance ids without a record).
    """
    ply, summary_path = result_paths(path)
    summary = _read_summary(summary_path)
    entries = summary["instances"]
    if not isinstance(entries, list):
        raise OccusegError(f"{summary_path}: 'instances' must be a list")
    records = tuple(_record(entry, k, summary_path) for k, entry in enumerate(entries))
    scene, properties = read_ply_with_properties(ply)
    instance_ids, semantic_ids = _point_ids(ply, properties, int(summary["num_points"]))
    if len(instance_ids) != scene.num_points:
        raise OccusegError(f"{ply}: vertex properties and positions differ in length")
    highest = int(instance_ids.max(initial=-1))
    if highest >= len(records):
        raise OccusegError(
            f"{ply}: a point has instance id {highest} but {summary_path.name} lists"
            f" {len(records)} instances; the files are from different runs"
        )
    timings = summary.get("timings_s", {})
    result = SegmentationResult(
        instance_ids=instance_ids, semantic_ids=semantic_ids, instances=records,
        timings_s={str(k): float(v) for k, v in timings.items()} if isinstance(timings, dict)
        else {},
        class_names={r.class_id: r.class_name for r in records},
    )  # fmt: skip
    name = str(summary.get("scene") or scene.name)
    return WrittenResult(scene.replace(name=name), result, summary, ply, summary_path)


def _check_pairing(scan: Scene, written: WrittenResult, scan_path: Path) -> None:
    expected = written.scene.num_points
    if scan.num_points != expected:
        raise OccusegError(
            f"{scan_path}: {scan.num_points} points but the result"
            f" {written.ply_path.name} has {expected}; not the scan that was segmented"
        )
    offset = float(np.abs(scan.xyz - written.scene.xyz).max())
    if offset > POSITION_TOLERANCE_M:
        raise OccusegError(
            f"{scan_path}: points differ from {written.ply_path.name} by up to {offset:.3g} m;"
            " not the scan that was segmented (or its points were reordered)"
        )


def _recorded_input(written: WrittenResult) -> Path | None:
    recorded = written.summary.get("input")
    if recorded is None:
        return None
    if not isinstance(recorded, str) or not recorded:
        raise OccusegError(f"{written.summary_path}: 'input' must be a path string")
    path = Path(recorded)
    if path.is_absolute():
        return path
    beside = written.summary_path.parent / path
    return beside if beside.exists() else path


def read_input_scene(
    written: WrittenResult, input_path: str | Path | None = None
) -> tuple[Scene | None, str | None]:
    """The scan the result was computed from, for its colours.

    Args:
        written: the result read back.
        input_path: the scan; default: the summary's "input" path (absolute, or relative to
            the summary's folder, else to the working directory), if recorded.

    Returns:
        (the scan, None) when found, else (None, a short note saying why there is none).

    Raises:
        OccusegError: an explicit input that is missing or unreadable, or any input that does
            not pair with the result (different point count or positions).
    """
    if input_path is not None:
        scan_path = Path(input_path)
    else:
        scan_path = _recorded_input(written)
        if scan_path is None:
            return None, "no scan recorded, pass --input SCAN"
        if not scan_path.exists():
            return None, f"recorded scan {scan_path.name} not found"
    scan = read_scene(scan_path)
    _check_pairing(scan, written, scan_path)
    return scan, None
