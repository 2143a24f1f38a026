"""`occuseg supervoxels`: over-segment a mesh (or a point cloud) and write ScanNet's segs.json.

Mesh mode reproduces ScanNet's segmentator (`segment_mesh`): `segIndices` holds, for every
vertex, the index of the vertex representing its segment, and the default output name is
ScanNet's `<input without suffix>.<kThresh with 6 decimals>.segs.json`, written in the working
directory (not beside the input, which is often a dataset folder). Point mode (clouds
without faces) voxelizes the points, runs `segment_voxels` and gives every point the
supervoxel id (0..K-1) of its voxel.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np

from occuseg_core.atomic import atomic_destination
from occuseg_core.errors import OccusegError

HELP = "supervoxels of a mesh or point cloud, written as ScanNet segs.json (segIndices)"

_SCANNET_ID = re.compile(r"scene\d{4}_\d{2}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="mesh or cloud: .ply, .pcd, .npz, *_vert_all.npy")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="output .segs.json (default: ScanNet's name <input name>.<kthresh>.segs.json in the"
        " working directory)",
    )
    parser.add_argument(
        "--kthresh",
        type=float,
        help="Felzenszwalb scale k; larger gives bigger segments (default 0.01 mesh, 0.05 points)",
    )
    parser.add_argument(
        "--min-verts",
        type=int,
        help="join segments with fewer vertices/voxels to a neighbour (default 20)",
    )
    parser.add_argument(
        "--mode",
        choices=("auto", "mesh", "points"),
        default="auto",
        help="mesh graph or voxel graph; auto = mesh when the input has faces",
    )
    parser.add_argument(
        "--voxel-size", type=float, default=0.02, metavar="M", help="point mode voxel edge [m]"
    )
    parser.add_argument(
        "--neighbor-radius",
        type=int,
        default=1,
        metavar="R",
        help="point mode: link voxels within R cells (1 = 26-neighbourhood; 2 for sparse clouds)",
    )
    parser.add_argument("--scene-id", help="sceneId written to the JSON (default: from the name)")


def run(args: argparse.Namespace) -> int:
    from occuseg_core.io import read_scene

    scene = read_scene(args.input)
    mode = args.mode
    if mode == "auto":
        mode = "mesh" if scene.faces is not None and len(scene.faces) else "points"
    if mode == "mesh" and (scene.faces is None or len(scene.faces) == 0):
        raise OccusegError(f"{args.input}: has no faces; use --mode points for point clouds")
    start = time.perf_counter()
    if mode == "mesh":
        seg_indices, params = _segment_mesh(scene, args)
    else:
        seg_indices, params = _segment_points(scene, args)
    seconds = time.perf_counter() - start
    out = args.out or default_output_path(args.input, params["kThresh"])
    scene_id = args.scene_id or scene_id_from_name(scene.name or args.input.stem)
    write_segs_json(out, scene_id, params, seg_indices)
    count = np.unique(seg_indices).shape[0]
    what = "vertices" if mode == "mesh" else "points"
    print(f"{count} segments over {seg_indices.shape[0]} {what} ({mode} mode, {seconds:.3f} s)"
          f" -> {out}")  # fmt: skip
    return 0


def _segment_mesh(scene, args: argparse.Namespace) -> tuple[np.ndarray, dict]:
    from occuseg_core.supervoxel import MeshSupervoxelConfig, segment_mesh

    defaults = MeshSupervoxelConfig()
    config = MeshSupervoxelConfig(
        k_thresh=defaults.k_thresh if args.kthresh is None else args.kthresh,
        min_verts=defaults.min_verts if args.min_verts is None else args.min_verts,
    )
    seg_indices = segment_mesh(scene.xyz, scene.faces, config)
    return seg_indices, {"kThresh": config.k_thresh, "segMinVerts": config.min_verts}


def _segment_points(scene, args: argparse.Namespace) -> tuple[np.ndarray, dict]:
    from dataclasses import replace

    from occuseg_core.data.voxelize import voxelize
    from occuseg_core.supervoxel import PointCloudSupervoxelConfig, segment_voxels

    config = PointCloudSupervoxelConfig()
    if args.kthresh is not None:
        config = replace(config, k_thresh=args.kthresh)
    if args.min_verts is not None:
        config = replace(config, min_size_vox=args.min_verts)
    config = replace(config, neighbor_radius_vox=args.neighbor_radius)
    grid = voxelize(scene, args.voxel_size)
    supervoxel = segment_voxels(grid.coords, grid.colors, grid.normals, config)
    params = {
        "kThresh": config.k_thresh,
        "segMinVerts": config.min_size_vox,
        "mode": "points",
        "voxelSize": grid.voxel_size_m,
    }
    return grid.to_points(supervoxel), params


def default_output_path(input_path: Path, k_thresh: float) -> Path:
    """ScanNet's output name in the working directory: `a/scan.ply` -> `scan.0.010000.segs.json`
    for k = 0.01."""
    return Path(f"{input_path.stem}.{k_thresh:.6f}.segs.json")


def scene_id_from_name(name: str) -> str:
    """The ScanNet scene id inside a name (`scene0000_00_vh_clean_2` -> `scene0000_00`), else
    the name up to its first dot."""
    match = _SCANNET_ID.search(name)
    return match.group(0) if match else name.split(".")[0]


def write_segs_json(path: Path, scene_id: str, params: dict, seg_indices: np.ndarray) -> None:
    """Writes `{"params": ..., "sceneId": ..., "segIndices": [...]}` atomically.

    Args:
        path: destination file.
        scene_id: the `sceneId` value.
        params: the `params` object (kThresh, segMinVerts, ...).
        seg_indices: (N,) integer segment of each vertex / point.

    Raises:
        OccusegError: the file cannot be written.
    """
    document = {"params": params, "sceneId": scene_id, "segIndices": seg_indices.tolist()}
    try:
        with atomic_destination(path) as tmp, open(tmp, "w") as f:
            json.dump(document, f, separators=(",", ":"))
    except OSError as error:
        raise OccusegError(f"{path}: cannot write ({error.strerror or error})") from None
