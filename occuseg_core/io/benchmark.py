"""Timing of the scene readers and writers (target: the 3.4 MB ScanNet mesh loads in well under
0.1 s). Run: `python -m occuseg_core.io.benchmark [--scannet-dir DIR] [--points N]`.

Times the real ScanNet mesh and npy export when given, and a random coloured cloud with normals
and labels written and read back in every format (ascii formats on a tenth of the points: they
are meant for small files). Each figure is the best of `repeats` runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from occuseg_core.io import read_pcd, read_ply, read_scene, write_npz, write_pcd, write_ply
from occuseg_core.io.lzf import lzf_compress, lzf_decompress
from occuseg_core.types import Scene


def _best_ms(run: Callable[[], object], repeats: int) -> float:
    run()  # warm-up: compiles the LZF loops, fills the page cache
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return 1e3 * best


def random_cloud(num_points: int, rng: np.random.Generator) -> Scene:
    """A random cloud in a 10 m cube with uint8 colours, unit normals and labels."""
    normals = rng.normal(size=(num_points, 3)).astype(np.float32)
    return Scene(
        xyz=rng.uniform(0.0, 10.0, (num_points, 3)).astype(np.float32),
        colors=rng.integers(0, 256, (num_points, 3), dtype=np.uint8),
        normals=normals / np.linalg.norm(normals, axis=1, keepdims=True),
        semantic=rng.integers(0, 41, num_points), instance=rng.integers(0, 50, num_points),
    )  # fmt: skip


def benchmark_io(
    num_points: int = 1_000_000, scannet_dir: Path | None = None, repeats: int = 3
) -> dict[str, float]:
    """Times every reader and writer.

    Args:
        num_points: points of the random cloud (ascii formats use num_points // 10).
        scannet_dir: folder of the real scan scene0000_00 (mesh + npy export), or None.
        repeats: timed runs per figure (the best is kept).

    Returns:
        {"what": milliseconds}.
    """
    times = {}
    if scannet_dir is not None:
        mesh = Path(scannet_dir) / "scene0000_00_vh_clean_2.labels_v1.ply"
        times["read scannet mesh ply (81k vertices, 154k faces)"] = _best_ms(
            lambda: read_ply(mesh), repeats
        )
        times["read scannet npy export"] = _best_ms(lambda: read_scene(scannet_dir), repeats)
    rng = np.random.default_rng(0)
    big, small = random_cloud(num_points, rng), random_cloud(max(num_points // 10, 1), rng)
    with tempfile.TemporaryDirectory() as tmp:
        cases = {
            "ply binary": (big, "c.ply", lambda p, s: write_ply(p, s), read_ply),
            "ply ascii": (small, "c.ply", lambda p, s: write_ply(p, s, binary=False), read_ply),
            "pcd binary": (big, "c.pcd", lambda p, s: write_pcd(p, s), read_pcd),
            "pcd binary_compressed": (
                big,
                "c.pcd",
                lambda p, s: write_pcd(p, s, data="binary_compressed"),
                read_pcd,
            ),  # fmt: skip
            "pcd ascii": (small, "c.pcd", lambda p, s: write_pcd(p, s, data="ascii"), read_pcd),
            "npz": (big, "c.npz", lambda p, s: write_npz(s, p), read_scene),
        }
        for label, (scene, name, write, read) in cases.items():
            path = Path(tmp) / name
            what = f"{label} ({scene.num_points} points)"
            times[f"write {what}"] = _best_ms(lambda: write(path, scene), repeats)  # noqa: B023
            times[f"read {what}"] = _best_ms(lambda: read(path), repeats)  # noqa: B023
    raw = np.ascontiguousarray(big.xyz.T).tobytes()
    packed = lzf_compress(raw)
    times[f"lzf compress {len(raw) >> 20} MiB"] = _best_ms(lambda: lzf_compress(raw), repeats)
    times[f"lzf decompress {len(raw) >> 20} MiB"] = _best_ms(
        lambda: lzf_decompress(packed, len(raw)), repeats
    )
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="random cloud size")
    parser.add_argument("--scannet-dir", type=Path, default=None, help="scene0000_00 folder")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure")
    args = parser.parse_args(argv)
    for what, ms in benchmark_io(args.points, args.scannet_dir, args.repeats).items():
        print(f"{ms:9.1f} ms  {what}")


if __name__ == "__main__":
    main()
