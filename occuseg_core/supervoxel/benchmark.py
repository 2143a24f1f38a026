"""Speed and quality figures of the supervoxels on a real scan (issue targets: the 81k-vertex
ScanNet mesh in <= ~0.1 s, >= 99% agreement with ScanNet's segments; point-cloud mode on ~100k
voxels in ~0.1-0.2 s with supervoxels that rarely straddle two instances).

Run `python -m occuseg_core.supervoxel.benchmark <ScanNet scene folder>` (a folder holding the
files of `shared/data/scannet_scene0000_00`) to print every figure. The first call in a process
includes numba's start-up (and compilation when the on-disk cache is cold); it is reported
apart from the warm median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from occuseg_core.data.voxelize import majority_label, voxelize
from occuseg_core.supervoxel.graph import relabel_consecutive
from occuseg_core.supervoxel.mesh import MeshSupervoxelConfig, mesh_vertex_normals, segment_mesh
from occuseg_core.supervoxel.pointcloud import PointCloudSupervoxelConfig, segment_voxels
from occuseg_core.supervoxel.quality import best_match_agreement, supervoxel_purity
from occuseg_core.types import Scene

SCAN_MESH = "scene0000_00_vh_clean_2.labels_v1.ply"
SCAN_SEGS = "scene0000_00_vh_clean_2.0.010000.segs.json"


def time_calls(function: Callable[[], object], repeats: int = 7) -> dict[str, float]:
    """Wall time of the first call and the median / min of `repeats` further calls.

    Args:
        function: the call to time, without arguments.
        repeats: number of warm calls (>= 1).

    Returns:
        {"first_s", "median_s", "min_s"} in seconds.
    """
    start = time.perf_counter()
    function()
    first = time.perf_counter() - start
    warm = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        function()
        warm.append(time.perf_counter() - start)
    return {"first_s": first, "median_s": statistics.median(warm), "min_s": min(warm)}


def benchmark_mesh(
    xyz: np.ndarray, faces: np.ndarray, config: MeshSupervoxelConfig | None = None,
    repeats: int = 7,
) -> dict[str, float]:  # fmt: skip
    """Times `segment_mesh`; adds the number of segments.

    Args:
        xyz: (N, 3) vertex positions [m].
        faces: (M, 3) triangles.
        config: segmentator parameters (ScanNet's by default).
        repeats: warm calls timed.
    """
    config = config or MeshSupervoxelConfig()
    timing = time_calls(lambda: segment_mesh(xyz, faces, config), repeats)
    timing["num_segments"] = float(np.unique(segment_mesh(xyz, faces, config)).shape[0])
    return timing


def benchmark_voxels(
    coords: np.ndarray, colors: np.ndarray, normals: np.ndarray | None = None,
    config: PointCloudSupervoxelConfig | None = None, repeats: int = 7,
) -> dict[str, float]:  # fmt: skip
    """Times `segment_voxels` (normals estimated when None); adds the number of supervoxels.

    Args:
        coords: (V, 3) int voxel indices.
        colors: (V, 3) float RGB 0..1.
        normals: optional (V, 3) normals.
        config: parameters (defaults when None).
        repeats: warm calls timed.
    """
    config = config or PointCloudSupervoxelConfig()
    timing = time_calls(lambda: segment_voxels(coords, colors, normals, config), repeats)
    timing["num_supervoxels"] = float(segment_voxels(coords, colors, normals, config).max() + 1)
    return timing


def sample_mesh_surface(
    xyz: np.ndarray, faces: np.ndarray, spacing_m: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random points on the triangles, about one per spacing_m^2 (a stand-in for a dense depth
    map of the same room).

    Args:
        xyz: (N, 3) vertex positions [m].
        faces: (M, 3) triangles.
        spacing_m: mean point spacing [m].
        rng: random generator.

    Returns:
        (P, 3) float64 points, (P, 3) float64 barycentric weights, (P,) int64 their triangle.
    """
    corners = xyz[faces].astype(np.float64)
    area = 0.5 * np.linalg.norm(
        np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1
    )
    count = int(area.sum() / spacing_m**2)
    face = rng.choice(faces.shape[0], count, p=area / area.sum())
    uv = rng.random((count, 2))
    outside = uv.sum(axis=1) > 1
    uv[outside] = 1 - uv[outside]
    weights = np.column_stack([1 - uv.sum(axis=1), uv])
    return np.einsum("pk,pkc->pc", weights, corners[face]), weights, face


def scan_report(scene_dir: Path, repeats: int = 7) -> dict[str, float]:
    """Every figure of the issue on ScanNet scene0000_00 (see the module docstring)."""
    from occuseg_core.io import read_ply, read_scannet_export

    mesh = read_ply(scene_dir / SCAN_MESH)
    labelled = read_scannet_export(scene_dir)  # axis-aligned xyz, RGB, NYU40 + instance labels
    official = np.asarray(json.loads((scene_dir / SCAN_SEGS).read_text())["segIndices"])
    report = {
        f"mesh_{k}": v for k, v in benchmark_mesh(mesh.xyz, mesh.faces, None, repeats).items()
    }
    segments = segment_mesh(mesh.xyz, mesh.faces)
    report["mesh_agreement_ours_to_official"] = best_match_agreement(segments, official)
    report["mesh_agreement_official_to_ours"] = best_match_agreement(official, segments)
    grid = voxelize(labelled, 0.02)
    on_voxels = relabel_consecutive(majority_label(grid.point_to_voxel, segments, grid.num_voxels))
    report["vertex_voxels"] = float(grid.num_voxels)
    report.update(_purity("mesh_on_voxels", on_voxels, grid.instance))
    for radius in (1, 2):
        config = PointCloudSupervoxelConfig(neighbor_radius_vox=radius)
        timing = benchmark_voxels(grid.coords, grid.colors, None, config, repeats)
        report.update({f"points_r{radius}_{k}": v for k, v in timing.items()})
        supervoxel = segment_voxels(grid.coords, grid.colors, None, config)
        report.update(_purity(f"points_r{radius}", supervoxel, grid.instance))
    report.update(_dense_report(labelled, mesh.faces, repeats))
    return report


def _dense_report(labelled: Scene, faces: np.ndarray, repeats: int) -> dict[str, float]:
    """Point-cloud mode on a 1 cm resampling of the mesh; labels from the nearest corner."""
    points, weights, face = sample_mesh_surface(
        labelled.xyz, faces, 0.01, np.random.default_rng(0)
    )
    corner = faces[face, np.argmax(weights, axis=1)]
    colors = np.clip(np.einsum("pk,pkc->pc", weights, labelled.colors[faces[face]]), 0, 1)
    normals = mesh_vertex_normals(labelled.xyz, faces)
    dense = Scene(
        xyz=np.concatenate([labelled.xyz, points]),
        colors=np.concatenate([labelled.colors, colors]).astype(np.float32),
        normals=np.concatenate([normals, normals[corner]]),
        instance=np.concatenate([labelled.instance, labelled.instance[corner]]),
    )
    grid = voxelize(dense, 0.02)
    report = {"dense_voxels": float(grid.num_voxels)}
    timing = benchmark_voxels(grid.coords, grid.colors, None, None, repeats)
    report.update({f"dense_{k}": v for k, v in timing.items()})
    report.update(_purity("dense", segment_voxels(grid.coords, grid.colors), grid.instance))
    with_normals = segment_voxels(grid.coords, grid.colors, grid.normals)
    report.update(_purity("dense_mesh_normals", with_normals, grid.instance))
    crop = _crop_to(grid.coords, 100_000)
    timing = benchmark_voxels(grid.coords[crop], grid.colors[crop], None, None, repeats)
    report.update({f"dense_100k_{k}": v for k, v in timing.items()})
    report["dense_100k_voxels"] = float(crop.sum())
    return report


def _crop_to(coords: np.ndarray, count: int) -> np.ndarray:
    """(V,) bool mask of about `count` voxels: those with the smallest x + y (one room corner)."""
    if coords.shape[0] <= count:
        return np.ones(coords.shape[0], dtype=bool)
    key = coords[:, 0].astype(np.int64) + coords[:, 1]
    return key <= np.partition(key, count - 1)[count - 1]


def _purity(name: str, supervoxel: np.ndarray, instance: np.ndarray) -> dict[str, float]:
    return {
        f"{name}_supervoxels": float(np.unique(supervoxel).shape[0]),
        f"{name}_purity": supervoxel_purity(supervoxel, instance),
        f"{name}_purity_annotated": supervoxel_purity(supervoxel, instance, ignore_label=0),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scene_dir", type=Path, help="folder with the scene0000_00 files")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    for key, value in scan_report(args.scene_dir, args.repeats).items():
        print(f"{key:40s} {value:.4f}")


if __name__ == "__main__":
    main()
