"""Writing a segmentation result: coloured PLY, per-point labels, JSON summary, ScanNet layout.

Files for a scene written under the name S (by default its scene name made file-name safe by
`file_stem`; `occuseg segment` passes the input file's name) in an output folder:
    S_instances.ply         points coloured by instance, with instance_id, semantic_id, score
    S_instance_ids.npy      (N,) int64 instance id per input point, -1 = none
    S_semantic_ids.npy      (N,) int64 dataset class id per input point
    S.json                  summary: instances (id, class, score, counts, occupancy, box), timings
    scannet/S.txt           ScanNet benchmark submission (with scannet/predicted_masks/)
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

import numpy as np

from occuseg_core.eval.scannet_submission import write_scannet_submission
from occuseg_core.io.ply import write_ply
from occuseg_core.types import Scene, SegmentationResult
from occuseg_core.visualize import instance_colors

SUMMARY_VERSION = 1


def file_stem(scene_name: str) -> str:
    """A file-name-safe version of a scene name (letters, digits, '.', '_', '-')."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", scene_name).lstrip("._-")
    return stem or "scene"


def result_summary(
    scene: Scene, result: SegmentationResult, input_path: str | Path | None = None
) -> dict:
    """A JSON-ready summary of a segmentation result (`input`: the scan's path, if known)."""
    return {
        "format": "occuseg-segmentation",
        "version": SUMMARY_VERSION,
        "scene": scene.name,
        "input": None if input_path is None else str(Path(input_path).resolve()),
        "num_points": result.num_points,
        "num_instances": len(result.instances),
        "timings_s": {k: round(v, 6) for k, v in result.timings_s.items()},
        "instances": [asdict(record) for record in result.instances],
    }


def write_result(
    out_dir: str | Path,
    scene: Scene,
    result: SegmentationResult,
    input_path: str | Path | None = None,
    name: str | None = None,
) -> list[Path]:
    """Writes every output file of one scene into `out_dir` (see module docstring).

    Args:
        out_dir: output folder (created if needed).
        scene: the segmented scene.
        result: what `Segmenter.segment(scene)` returned.
        input_path: the scan the scene was read from, recorded in the JSON summary.
        name: the files' name S (made file-name safe); default: the scene's name.

    Returns:
        The paths written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = file_stem(scene.name if name is None else name)
    ply = out_dir / f"{name}_instances.ply"
    write_ply(
        ply,
        scene.replace(semantic=None, instance=None),
        colors=instance_colors(result.instance_ids),
        vertex_properties={
            "instance_id": result.instance_ids.astype(np.int32),
            "semantic_id": result.semantic_ids.astype(np.int32),
            "score": result.point_scores(),
        },
    )
    ids = out_dir / f"{name}_instance_ids.npy"
    np.save(ids, result.instance_ids)
    semantic = out_dir / f"{name}_semantic_ids.npy"
    np.save(semantic, result.semantic_ids)
    summary = out_dir / f"{name}.json"
    summary.write_text(json.dumps(result_summary(scene, result, input_path), indent=2))
    submission = write_scannet_submission(
        out_dir / "scannet",
        name,
        result.instance_ids,
        result.instance_class_ids(),
        result.instance_scores(),
    )
    return [ply, ids, semantic, summary, submission]
