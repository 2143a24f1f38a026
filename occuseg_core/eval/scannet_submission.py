"""Reading and writing the ScanNet v2 instance benchmark's submission and ground-truth files.

Layout (official): `<pred_dir>/<scene>.txt` has one line per predicted instance,
`<relative mask path> <label id> <confidence>`; each mask file holds one integer per mesh
vertex (non-zero = inside). Ground truth `<gt_dir>/<scene>.txt` holds one id per vertex,
`nyu40 * 1000 + instance`, 0 where unannotated. As in the official script, every prediction
file must have a ground-truth file, while ground-truth scenes without a prediction file are
skipped by the evaluators unless their `missing` argument says otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from occuseg_core.errors import OccusegError
from occuseg_core.eval.overlaps import ScenePredictions

MASK_FOLDER = "predicted_masks"
RESULT_FILE_NAME = "semantic_instance_evaluation.txt"
"""The official script writes its output here and never reads it as a prediction file."""

_ZERO, _NEWLINE = ord("0"), ord("\n")


def read_id_file(path: str | os.PathLike) -> np.ndarray:
    """Reads a file of one integer per line (a mask or a ground-truth file).

    Args:
        path: text file; "0"/"1" lines take a fast path, any integers are accepted.

    Returns:
        (N,) int64 values in file order.

    Raises:
        OccusegError: missing file, or a line that is not an integer (naming the file).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise OccusegError(f"file not found: {path}") from None
    if data and not data.endswith(b"\n"):
        data += b"\n"
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size % 2 == 0 and np.all(raw[1::2] == _NEWLINE):
        digits = raw[0::2].astype(np.int64) - _ZERO
        if np.all((digits >= 0) & (digits <= 9)):
            return digits
    try:
        return np.array([int(line) for line in data.decode("ascii").splitlines()], np.int64)
    except (ValueError, UnicodeDecodeError) as error:
        raise OccusegError(f"{path}: expected one integer per line ({error})") from None


def _parse_line(line: str, where: str) -> tuple[str, int, float]:
    parts = line.split()
    if len(parts) != 3:
        raise OccusegError(
            f"{where}: expected '<mask path> <label id> <confidence>', got {line.strip()!r}"
        )
    try:
        label = int(float(parts[1]))  # the official reader accepts "5.0"
        score = float(parts[2])
    except ValueError:
        raise OccusegError(f"{where}: label id and confidence must be numbers") from None
    if not np.isfinite(score):
        raise OccusegError(f"{where}: confidence must be finite; got {parts[2]}")
    return parts[0], label, score


def _mask_path(rel: str, prediction_file: Path, pred_root: Path, where: str) -> Path:
    if os.path.isabs(rel):
        raise OccusegError(f"{where}: the mask path must be relative; got {rel}")
    path = (prediction_file.parent / rel).resolve()
    if not path.is_relative_to(pred_root.resolve()):
        raise OccusegError(f"{where}: mask {rel} lies outside the prediction folder {pred_root}")
    return path


def read_scannet_prediction(
    path: str | os.PathLike, num_vertices: int, pred_root: str | os.PathLike | None = None
) -> ScenePredictions:
    """Reads one scene's prediction file and its mask files.

    Args:
        path: `<pred_dir>/<scene>.txt`.
        num_vertices: vertex count of the scene's ground truth; every mask must match it.
        pred_root: folder the masks must lie in (default: the file's folder).

    Returns:
        ScenePredictions in line order.

    Raises:
        OccusegError: malformed line, absolute or escaping mask path, a mask listed twice,
            missing or malformed mask file, or a mask length that is not `num_vertices`.
    """
    path = Path(path)
    pred_root = Path(pred_root) if pred_root is not None else path.parent
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    masks, labels, scores, seen = [], [], [], set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        rel, label, score = _parse_line(line, where)
        mask_file = _mask_path(rel, path, pred_root, where)
        if mask_file in seen:
            raise OccusegError(f"{where}: mask {rel} is listed twice")
        seen.add(mask_file)
        mask = read_id_file(mask_file)
        if mask.size != num_vertices:
            raise OccusegError(
                f"{mask_file} has {mask.size} lines but the ground truth of {path.stem} has"
                f" {num_vertices} vertices"
            )
        masks.append(mask != 0)
        labels.append(label)
        scores.append(score)
    if not masks:
        return ScenePredictions.empty(num_vertices)
    return ScenePredictions(np.stack(masks), np.array(labels, np.int64), np.array(scores))


def _scene_files(folder: Path, what: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise OccusegError(f"{what} folder not found: {folder}")
    return {
        p.stem: p
        for p in sorted(folder.glob("*.txt"))
        if p.is_file() and p.name != RESULT_FILE_NAME
    }


def read_scannet_submission(
    pred_dir: str | os.PathLike, gt_dir: str | os.PathLike
) -> tuple[dict[str, ScenePredictions], dict[str, np.ndarray]]:
    """Reads a whole submission and all ground-truth scenes.

    Args:
        pred_dir: folder of `<scene>.txt` prediction files (masks in subfolders).
        gt_dir: folder of `<scene>.txt` ground-truth files.

    Returns:
        ({scene: predictions}, {scene: (V,) int64 gt ids}) sorted by scene name. Ground-truth
        scenes without a prediction file are included; the evaluators' `missing` argument
        decides what happens to them (the official script skips them).

    Raises:
        OccusegError: missing folders, no prediction file, a prediction file without ground
            truth (an error in the official script too), or any malformed file.
    """
    pred_files = _scene_files(Path(pred_dir), "prediction")
    gt_files = _scene_files(Path(gt_dir), "ground-truth")
    if not pred_files:
        raise OccusegError(f"no prediction files (<scene>.txt) in {pred_dir}")
    orphans = sorted(set(pred_files) - set(gt_files))
    if orphans:
        raise OccusegError(
            f"prediction file {orphans[0]}.txt has no ground-truth file in {gt_dir}"
            + (f" (and {len(orphans) - 1} more)" if len(orphans) > 1 else "")
        )
    ground_truths = {name: read_id_file(path) for name, path in gt_files.items()}
    predictions = {
        name: read_scannet_prediction(path, ground_truths[name].size, pred_dir)
        for name, path in pred_files.items()
    }
    return predictions, ground_truths


_SCENE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _submission_arrays(
    instances: np.ndarray, label_ids: np.ndarray, scores: np.ndarray
) -> ScenePredictions:
    instances = np.asarray(instances)
    if instances.ndim == 1:
        return ScenePredictions.from_instance_ids(instances, label_ids, scores)
    return ScenePredictions(instances, label_ids, scores)


def _mask_bytes(mask: np.ndarray) -> bytes:
    lines = np.empty((mask.size, 2), dtype=np.uint8)
    lines[:, 0] = _ZERO + mask
    lines[:, 1] = _NEWLINE
    return lines.tobytes()


def write_scannet_submission(
    out_dir: str | os.PathLike,
    scene_name: str,
    instances: np.ndarray,
    label_ids: np.ndarray,
    scores: np.ndarray,
) -> Path:
    """Writes one scene in the official submission layout, atomically.

    Files: `<out_dir>/<scene>.txt` with lines `predicted_masks/<scene>_<k>.txt <label> <score>`
    and one 0/1 mask file per instance. Everything is written into a temporary folder first;
    the masks are then moved into place and the scene file last, so a reader never sees a scene
    file naming absent masks, and nothing is left behind on error. Mask files of an earlier
    write of the same scene that the new one no longer uses are removed.

    Args:
        out_dir: submission folder (created if needed).
        scene_name: e.g. "scene0011_00"; letters, digits, ".", "_" and "-" only.
        instances: (V,) int per-vertex instance index in [0, K), -1 for none; or (K, V) bool
            masks (may overlap).
        label_ids: (K,) NYU40 label id of each instance.
        scores: (K,) finite confidence of each instance.

    Returns:
        Path of the scene file.

    Raises:
        OccusegError: bad scene name, or inconsistent arrays (see ScenePredictions).
    """
    if not _SCENE_NAME.fullmatch(scene_name):
        raise OccusegError(
            f"scene name must be letters, digits, '.', '_', '-'; got {scene_name!r}"
        )
    pred = _submission_arrays(instances, label_ids, scores)
    if pred.num_instances and pred.label_ids.min() <= 0:
        raise OccusegError("label ids must be > 0 (dataset ids, e.g. NYU40)")
    out_dir = Path(out_dir)
    (out_dir / MASK_FOLDER).mkdir(parents=True, exist_ok=True)
    _stage_and_publish(out_dir, scene_name, pred)
    _remove_stale_masks(out_dir / MASK_FOLDER, scene_name, pred.num_instances)
    return out_dir / f"{scene_name}.txt"


def _stage_and_publish(out_dir: Path, scene_name: str, pred: ScenePredictions) -> None:
    """Writes all files into a temporary folder, then renames masks first, scene file last."""
    staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=f".{scene_name}."))
    try:
        names = [f"{scene_name}_{k}.txt" for k in range(pred.num_instances)]
        labels, scores = pred.label_ids.tolist(), pred.scores.tolist()
        lines = [
            f"{MASK_FOLDER}/{name} {label} {score!r}\n"
            for name, label, score in zip(names, labels, scores, strict=True)
        ]
        for name, mask in zip(names, pred.masks, strict=True):
            (staging / name).write_bytes(_mask_bytes(mask))
        (staging / "scene.txt").write_text("".join(lines), encoding="utf-8")
        for name in names:
            os.replace(staging / name, out_dir / MASK_FOLDER / name)
        os.replace(staging / "scene.txt", out_dir / f"{scene_name}.txt")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _remove_stale_masks(masks_dir: Path, scene_name: str, num_instances: int) -> None:
    """Deletes `<scene>_<k>.txt` masks with k >= num_instances (left by an earlier write)."""
    pattern = re.compile(re.escape(scene_name) + r"_(\d+)\.txt")
    for path in masks_dir.glob(f"{scene_name}_*.txt"):
        match = pattern.fullmatch(path.name)
        if match and int(match.group(1)) >= num_instances:
            path.unlink(missing_ok=True)
