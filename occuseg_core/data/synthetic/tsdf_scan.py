"""The TSDF scanner: a hand-held RGB-D camera walked around the room, its depth frames fused into
a TSDF and meshed, as ScanNet's scans were made (structure sensor, BundleFusion, marching cubes,
decimation to `_vh_clean_2`).

Steps: (1) the layout's parts become one triangle mesh with, per triangle, the owning object,
base colour, material density and outward normal (`layout_mesh`); (2) a camera loop around the
room's interior at 1.2-1.8 m, looking mostly outward and down (`camera_path`); (3) per frame,
depth and hit triangle by ray casting at 320 x 240 (the sensor's 640 x 480 at half resolution),
passing through carved volumes (a sink's opening) and dropping back faces, grazing and far hits,
the far side of depth edges and most glass; axial noise of Nguyen et al. (2012) and 1 mm steps;
colour from the hit triangle with lighting, vignetting and per-frame exposure (`render_frame`);
(4) fusion into open3d's hashed TSDF volume (`VoxelBlockGrid`) under a smooth registration
error, marching cubes, removal of small fragments, decimation to `tsdf_mesh_spacing_m`
(`fuse_frames`, `tsdf_mesh.clean_mesh`);
(5) each vertex takes the labels of the nearest surface the camera saw (`label_vertices`).

Frames: room frame (metres, z up, floor z = 0); cameras use the OpenCV convention (x right,
y down, z forward). All randomness comes from the scene's generator; the open3d steps used are
deterministic and the output mesh is put in a canonical vertex order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import open3d as o3d
from scipy.spatial import cKDTree

from occuseg_core.data.synthetic.config import SynthConfig
from occuseg_core.data.synthetic.objects import RoomLayout
from occuseg_core.data.synthetic.scan import blob_mask, object_labels
from occuseg_core.data.synthetic.tsdf_camera import (
    HEIGHT,
    INTRINSIC,
    WIDTH,
    Lighting,
    camera_path,
    pixel_rays,
    registration_errors,
)
from occuseg_core.data.synthetic.tsdf_geometry import Carves, LabelledMesh, cast, layout_mesh
from occuseg_core.data.synthetic.tsdf_mesh import clean_mesh
from occuseg_core.geometry import vertex_normals
from occuseg_core.types import Scene

MIN_RANGE_M = 0.35
MAX_INCIDENCE_DEG = 78.0
"""Hits seen more obliquely than this (angle between ray and normal) return no depth."""
EDGE_DROP_PROB = 0.5
"""Probability that a pixel on the far side of a depth edge (structured-light shadow) is lost."""
MIN_VALID_PIXELS = 100
HIT_VOXEL_M = 0.01
LABEL_STRIDE = 2
MIN_OBSERVATIONS = 1
"""TSDF voxels observed in fewer frames are not meshed. One suffices: each of our few frames
stands for the many a real scan takes from about the same place (a voxel's weight counts the
frames that saw it; open3d meshes voxels whose weight exceeds the threshold it is given)."""
BLOCK_RESOLUTION, BLOCK_COUNT = 8, 20000
CPU = o3d.core.Device("CPU:0")


@dataclass(frozen=True, eq=False)
class Frame:
    """One rendered RGB-D frame.

    Args:
        depth_mm: (HEIGHT, WIDTH) uint16 depth along the optical axis in millimetres, 0 = none.
        color: (HEIGHT, WIDTH, 3) uint8 RGB.
        hit_xyz: (M, 3) float64 noise-free surface points seen (every LABEL_STRIDE-th pixel).
        hit_obj: (M,) int64 layout index of each point's object.
    """

    depth_mm: np.ndarray
    color: np.ndarray
    hit_xyz: np.ndarray
    hit_obj: np.ndarray


def render_frame(
    scene: o3d.t.geometry.RaycastingScene, mesh: LabelledMesh, carves: Carves,
    pose: np.ndarray, lighting: Lighting, rng: np.random.Generator, config: SynthConfig,
) -> Frame:  # fmt: skip
    """Ray-casts one frame from `pose` ((4, 4) camera-to-room) and simulates the sensor."""
    rays, ray_length, sampled = pixel_rays(), _ray_lengths(), _stride_mask()
    dirs = rays @ pose[:3, :3].T
    depth, prim = cast(scene, mesh, carves, pose[:3, 3], dirs)
    tri = np.maximum(prim, 0)
    incidence = -np.einsum("ij,ij->i", mesh.normal[tri], dirs) / ray_length
    valid = (prim >= 0) & (incidence > math.cos(math.radians(MAX_INCIDENCE_DEG)))
    valid &= (depth > MIN_RANGE_M) & (depth < config.tsdf_max_depth_m)
    valid &= rng.random(depth.shape[0]) < mesh.density[tri]
    valid &= ~_edge_shadow(np.where(valid, depth, np.inf), rng)
    z, tri = depth[valid], tri[valid]
    sigma = 0.0012 + 0.0019 * (z - 0.4) ** 2
    noisy = z + config.tsdf_depth_noise_scale * sigma * rng.standard_normal(z.size)
    depth_mm = np.zeros(depth.shape[0], dtype=np.uint16)
    depth_mm[valid] = np.clip(np.round(noisy * 1000.0), 1, 65535).astype(np.uint16)
    xyz = pose[:3, 3] + dirs[valid] * z[:, None]
    rgb = np.zeros((depth.shape[0], 3), dtype=np.uint8)
    rgb[valid] = lighting.render(xyz, mesh.normal[tri], mesh.obj[tri], mesh.color[tri],
                                 np.flatnonzero(valid), rng)  # fmt: skip
    sample = sampled[valid]
    return Frame(depth_mm.reshape(HEIGHT, WIDTH), rgb.reshape(HEIGHT, WIDTH, 3),
                 xyz[sample], mesh.obj[tri[sample]])  # fmt: skip


def _edge_shadow(depth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N,) bool: pixels with a 4-neighbour at least 5% + 2 cm nearer (the far side of a depth
    edge, where a structured-light projector casts its shadow), each lost with EDGE_DROP_PROB."""
    image = depth.reshape(HEIGHT, WIDTH)
    nearest = np.full_like(image, np.inf)
    nearest[1:] = image[:-1]
    nearest[:-1] = np.minimum(nearest[:-1], image[1:])
    nearest[:, 1:] = np.minimum(nearest[:, 1:], image[:, :-1])
    nearest[:, :-1] = np.minimum(nearest[:, :-1], image[:, 1:])
    edge = np.isfinite(image) & (nearest < image * 0.95 - 0.02)
    return (edge & (rng.random(image.shape) < EDGE_DROP_PROB)).ravel()


@lru_cache(maxsize=1)
def _stride_mask() -> np.ndarray:
    """(HEIGHT * WIDTH,) bool: the pixels whose hits are kept for labelling."""
    rows, cols = np.divmod(np.arange(HEIGHT * WIDTH), WIDTH)
    return (rows % LABEL_STRIDE == 0) & (cols % LABEL_STRIDE == 0)


@lru_cache(maxsize=1)
def _ray_lengths() -> np.ndarray:
    """(HEIGHT * WIDTH,) float64 lengths of `pixel_rays` (unchanged by rotation)."""
    return np.linalg.norm(pixel_rays(), axis=1)


def _new_volume(config: SynthConfig) -> o3d.t.geometry.VoxelBlockGrid:
    """An empty hashed TSDF volume: per voxel a float32 SDF, uint16 weight and uint16 RGB."""
    return o3d.t.geometry.VoxelBlockGrid(
        attr_names=("tsdf", "weight", "color"),
        attr_dtypes=(o3d.core.float32, o3d.core.uint16, o3d.core.uint16),
        attr_channels=((1), (1), (3)), voxel_size=config.tsdf_voxel_m,
        block_resolution=BLOCK_RESOLUTION, block_count=BLOCK_COUNT, device=CPU,
    )  # fmt: skip


def fuse_frames(
    layout: RoomLayout, rng: np.random.Generator, config: SynthConfig
) -> tuple[o3d.t.geometry.TriangleMesh, np.ndarray, np.ndarray]:
    """Renders the camera path and fuses it into a TSDF. The volume is open3d's `VoxelBlockGrid`,
    the tensor version of the hashed `ScalableTSDFVolume` (whose legacy implementation in the
    open3d 0.20 CPU wheel integrates frames but extracts no surface at all).

    Returns:
        The marching-cubes mesh (room frame, surfaces seen in MIN_OBSERVATIONS frames or more), and
        the points the camera saw (M, 3) float64 with their objects (M,) int64, thinned to one
        per HIT_VOXEL_M cube.
    """
    mesh = layout_mesh(layout)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(mesh.vertices.astype(np.float32)),
                        o3d.core.Tensor(mesh.triangles.astype(np.uint32)))  # fmt: skip
    carves = Carves.from_layout(layout)
    lighting = Lighting.draw(layout, rng, config.color_noise)
    poses = camera_path(layout, rng, config)
    errors = registration_errors(poses, rng, config.tsdf_pose_noise_m)
    volume, intrinsic = _new_volume(config), o3d.core.Tensor(INTRINSIC.intrinsic_matrix)
    trunc = config.tsdf_truncation_m / config.tsdf_voxel_m
    hits_xyz, hits_obj = [], []
    for pose, believed in zip(poses, errors, strict=True):
        frame = render_frame(scene, mesh, carves, pose, lighting, rng, config)
        if np.count_nonzero(frame.depth_mm) < MIN_VALID_PIXELS:
            continue  # facing a wall at arm's length: nothing to fuse
        depth = o3d.t.geometry.Image(frame.depth_mm)
        extrinsic = o3d.core.Tensor(np.linalg.inv(believed))
        blocks = volume.compute_unique_block_coordinates(
            depth, intrinsic, extrinsic, 1000.0, config.tsdf_max_depth_m, trunc
        )
        volume.integrate(blocks, depth, o3d.t.geometry.Image(frame.color), intrinsic,
                         extrinsic, 1000.0, config.tsdf_max_depth_m, trunc)  # fmt: skip
        hits_xyz.append(frame.hit_xyz)
        hits_obj.append(frame.hit_obj)
    if not hits_xyz:
        return o3d.t.geometry.TriangleMesh(CPU), np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
    xyz, obj = np.concatenate(hits_xyz), np.concatenate(hits_obj)
    cell = np.floor(xyz / HIT_VOXEL_M).astype(np.int64) + 2**20  # rooms < 10 km
    _, first = np.unique((cell[:, 0] << 42) | (cell[:, 1] << 21) | cell[:, 2], return_index=True)
    raw = volume.extract_triangle_mesh(weight_threshold=MIN_OBSERVATIONS - 0.5)
    return raw, xyz[first], obj[first]


def label_vertices(
    vertices: np.ndarray, hit_xyz: np.ndarray, hit_obj: np.ndarray, layout: RoomLayout,
    rng: np.random.Generator, config: SynthConfig,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Semantic and instance ids (V,) int64 of each vertex's nearest seen surface point, 0/0
    beyond `tsdf_label_distance_m`, for unannotated objects (as `object_labels`) and inside
    annotation gaps (`unlabelled_blobs_per_m2`, as the surface scanner's)."""
    semantic_of, instance_of = object_labels(layout)
    semantic = np.zeros(vertices.shape[0], dtype=np.int64)
    instance = np.zeros(vertices.shape[0], dtype=np.int64)
    if hit_xyz.shape[0] == 0:
        return semantic, instance
    distance, nearest = cKDTree(hit_xyz).query(
        vertices, distance_upper_bound=config.tsdf_label_distance_m
    )
    close = np.isfinite(distance)
    semantic[close] = semantic_of[hit_obj[nearest[close]]]
    instance[close] = instance_of[hit_obj[nearest[close]]]
    area = vertices.shape[0] * config.tsdf_mesh_spacing_m**2
    tree = cKDTree(vertices)
    gaps = blob_mask(vertices, tree, rng, config.unlabelled_blobs_per_m2, area, (0.05, 0.15))
    semantic[gaps], instance[gaps] = 0, 0
    return semantic, instance


def tsdf_scan_layout(
    layout: RoomLayout, rng: np.random.Generator, config: SynthConfig, name: str
) -> Scene:
    """Simulates one hand-held RGB-D scan of the layout (see the module docstring).

    Args:
        layout: the furnished room.
        rng: the scene's random generator (continues after `build_layout`).
        config: camera, sensor, fusion and mesh settings (the `tsdf_*` knobs).
        name: the scene's name.

    Returns:
        A labelled mesh `Scene`: vertices xyz float32 metres (room frame, z up, floor at 0),
        colours 0..1, unit vertex normals, NYU40 semantic and instance ids (0 = unannotated)
        and the faces (T, 3).
    """
    raw, hit_xyz, hit_obj = fuse_frames(layout, rng, config)
    vertices, triangles, colors = clean_mesh(raw, config)
    if vertices.shape[0] == 0:
        raise ValueError(f"{name}: the TSDF scan produced an empty mesh")
    semantic, instance = label_vertices(vertices, hit_xyz, hit_obj, layout, rng, config)
    normals = vertex_normals(vertices, triangles)
    normals[~normals.any(axis=1)] = (0.0, 0.0, 1.0)  # a vertex in no triangle: up
    return Scene(
        xyz=vertices.astype(np.float32), colors=colors.astype(np.float32),
        normals=normals.astype(np.float32), semantic=semantic,
        instance=instance, faces=triangles, name=name,
    )  # fmt: skip
