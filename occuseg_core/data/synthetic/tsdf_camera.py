"""Camera side of the TSDF scanner (`tsdf_scan`): intrinsics, the hand-held camera path, its
registration error, and the colour camera's lighting, exposure and vignetting.

Frames: room frame in metres (z up, floor z = 0); camera frame in the OpenCV convention (x right,
y down, z forward). A pose is a (4, 4) camera-to-room transform.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import open3d as o3d
from scipy.spatial.transform import Rotation

from occuseg_core.data.synthetic.config import SynthConfig
from occuseg_core.data.synthetic.geometry import SolidTable
from occuseg_core.data.synthetic.objects import RoomLayout

WIDTH, HEIGHT = 320, 240
FOCAL_PX = 288.0
"""The structure sensor's 640 x 480 depth (fx = fy ~ 577 px) at half resolution."""
INTRINSIC = o3d.camera.PinholeCameraIntrinsic(
    WIDTH, HEIGHT, FOCAL_PX, FOCAL_PX, (WIDTH - 1) / 2, (HEIGHT - 1) / 2
)
MIN_FRAMES = 24
CAMERA_HEIGHT_M = (1.2, 1.8)
PITCH_RANGES = ((-0.2, 0.25), (0.25, 0.7), (0.75, 1.3))
"""Downward tilt ranges in radians: level (walls up to 2-2.5 m), down (furniture), steep
(floor and table tops); a frame draws one with the probabilities PITCH_SHARES."""
PITCH_SHARES = (0.3, 0.4, 0.3)
CLEARANCE_M = 0.1
"""Path positions closer than this to a solid (inside a wardrobe) are skipped."""


@lru_cache(maxsize=1)
def pixel_rays() -> np.ndarray:
    """(HEIGHT * WIDTH, 3) float64 ray directions in the camera frame, row-major pixels, with
    z = 1 (so the ray parameter of a hit is its depth along the optical axis). Read-only."""
    rows, cols = np.divmod(np.arange(HEIGHT * WIDTH, dtype=np.float64), WIDTH)
    rays = np.stack([(cols - (WIDTH - 1) / 2) / FOCAL_PX, (rows - (HEIGHT - 1) / 2) / FOCAL_PX,
                     np.ones_like(rows)], axis=1)  # fmt: skip
    rays.setflags(write=False)
    return rays


def look_rotation(yaw: float, pitch_down: float, roll: float) -> np.ndarray:
    """(3, 3) camera-to-room rotation of a camera heading `yaw` (radians, counter-clockwise from
    +x), tilted down by `pitch_down` and rolled by `roll` about its optical axis."""
    forward = np.array([math.cos(pitch_down) * math.cos(yaw),
                        math.cos(pitch_down) * math.sin(yaw), -math.sin(pitch_down)])  # fmt: skip
    right = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
    down = np.cross(forward, right)
    c, s = math.cos(roll), math.sin(roll)
    return np.stack([c * right + s * down, -s * right + c * down, forward], axis=1)


def _loop(layout: RoomLayout, count: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Positions (count, 2) on a rounded-rectangle loop inset from the walls that wanders in and
    out by up to 40% (a slow wave plus jitter), their outward headings (count,) in radians and
    loop parameters (count,) in [0, 2 pi)."""
    width, length = layout.width_m, layout.length_m
    inset = min(0.9, 0.3 * min(width, length))
    a, b = width / 2 - inset, length / 2 - inset
    theta = (2 * np.pi * (np.arange(count) + 0.8 * rng.random(count)) / count
             + rng.uniform(0, 2 * np.pi)) % (2 * np.pi)  # fmt: skip
    c, s = np.cos(theta), np.sin(theta)
    wander = 1 + rng.uniform(0.2, 0.4) * np.sin(rng.integers(2, 5) * theta + rng.uniform(0, 6.3))
    offset = np.stack(
        [a * np.sign(c) * np.sqrt(np.abs(c)), b * np.sign(s) * np.sqrt(np.abs(s))], 1
    )
    xy = [width / 2, length / 2] + offset * wander[:, None] + rng.normal(0, 0.08, (count, 2))
    xy = np.clip(xy, 0.3, [width - 0.3, length - 0.3])
    outward = np.arctan2(np.sign(s) * np.abs(s) ** 1.5 / b, np.sign(c) * np.abs(c) ** 1.5 / a)
    return xy, outward, theta


def camera_path(layout: RoomLayout, rng: np.random.Generator, config: SynthConfig) -> np.ndarray:
    """A hand-held scan: one loop around the room's interior at 1.2-1.8 m (a slow height wave
    plus 3 cm jitter) that wanders in and out, heading mostly outward at walls and furniture
    (25% of frames across the room), tilted level (30%: -11 to 14 degrees down), down (40%:
    14-40 degrees) or steep (30%: 43-74 degrees, any heading: the floor and table tops), rolled
    by about 2 degrees.

    Returns:
        (K, 4, 4) float64 camera-to-room poses; K = max(24, frames_per_m2 * floor area) less
        the positions inside furniture.
    """
    count = max(MIN_FRAMES, round(config.tsdf_frames_per_m2 * layout.width_m * layout.length_m))
    xy, outward, theta = _loop(layout, count, rng)
    low, high = CAMERA_HEIGHT_M
    wave = rng.uniform(0.05, 0.15) * np.sin(rng.integers(1, 4) * theta + rng.uniform(0, 6.3))
    z = np.clip(rng.uniform(1.35, 1.65) + wave + rng.normal(0, 0.03, count), low, high)
    across = rng.random(count) < 0.25
    yaw = outward + np.where(across, np.pi + rng.normal(0, 0.5, count), rng.normal(0, 0.6, count))
    kind = np.searchsorted(np.cumsum(PITCH_SHARES), rng.random(count), side="right")
    pitch = rng.uniform(*np.asarray(PITCH_RANGES)[np.minimum(kind, 2)].T)
    yaw = np.where(kind >= 2, rng.uniform(0, 2 * np.pi, count), yaw)  # steep: any way round
    roll = rng.normal(0.0, 0.04, count)
    position = np.c_[xy, z]
    parts = [p for o in layout.objects for p in o.parts]
    solids = SolidTable.from_parts(parts)
    inside = np.zeros(count, dtype=bool)
    for k in range(len(solids)):
        inside |= solids.contains(position, np.full(count, k), CLEARANCE_M)
    poses = np.tile(np.eye(4), (count, 1, 1))
    for k in range(count):
        poses[k, :3, :3] = look_rotation(yaw[k], pitch[k], roll[k])
    poses[:, :3, 3] = position
    return poses[~inside]


def registration_errors(poses: np.ndarray, rng: np.random.Generator, sigma_m: float) -> np.ndarray:
    """The poses the fusion believes: each pose with a smooth error along the path (three
    harmonics per axis, periodic over the loop), translation std `sigma_m` metres and rotation
    std `sigma_m` radians about the camera centre.

    Args:
        poses: (K, 4, 4) true camera-to-room poses.
        rng: random generator.
        sigma_m: error std; 0 returns a copy of the poses.

    Returns:
        (K, 4, 4) float64 believed camera-to-room poses.
    """
    believed = poses.copy()
    if sigma_m <= 0 or len(poses) == 0:
        return believed
    phase = 2 * np.pi * np.arange(len(poses)) / len(poses)
    harmonics = np.arange(1, 4)
    waves = np.sin(phase[:, None, None] * harmonics[None, :, None]
                   + rng.uniform(0, 2 * np.pi, size=(1, 3, 6)))  # fmt: skip
    error = (waves * rng.normal(0, math.sqrt(2 / 3), size=(1, 3, 6))).sum(axis=1) * sigma_m
    believed[:, :3, :3] = Rotation.from_rotvec(error[:, 3:]).as_matrix() @ poses[:, :3, :3]
    believed[:, :3, 3] += error[:, :3]
    return believed


@dataclass(frozen=True, eq=False)
class Lighting:
    """The room's appearance model, drawn once per scene and shared by every frame.

    Args:
        light: (3,) unit direction towards the main light.
        ambient: ambient share of the shading, 0..1.
        wave: (2,) room-scale illumination ripple, radians per metre in x and y.
        glow: ripple amplitude (relative).
        glow_phase: ripple phase, radians.
        textures: per textured layout object: (freq (3, 3) rad/m, phase (3,), tint (3,), amp).
        color_noise: per-pixel colour noise std, 0..1 units.
        balance: (3,) per-scene RGB gain: warm indoor light (red up to +15%, blue -3 to -16%)
            and the scene's exposure (+-10%), as in ScanNet's colours.
    """

    light: np.ndarray
    ambient: float
    wave: np.ndarray
    glow: float
    glow_phase: float
    textures: dict
    color_noise: float
    balance: np.ndarray

    @classmethod
    def draw(cls, layout: RoomLayout, rng: np.random.Generator, color_noise: float) -> Lighting:
        """Draws a light, an ambient level, a ripple and the textures (as `shade_colors`, with
        more contrast: ambient 0.35-0.6, ripple 10-30%) and the scene's colour balance."""
        textures = {}
        for index, obj in enumerate(layout.objects):
            if obj.texture > 0:
                freq = rng.uniform(3.0, 25.0, size=(3, 3)) * rng.choice([-1, 1], size=(3, 3))
                textures[index] = (freq, rng.uniform(0, 2 * np.pi, size=3),
                                   rng.uniform(-1.0, 1.0, size=3), obj.texture)  # fmt: skip
        light = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(1.0, 2.0)])
        wave = rng.uniform(0.3, 1.2, size=2) * rng.choice([-1, 1], size=2)
        balance = np.array([1 + rng.uniform(0.0, 0.15), 1.0, 1 - rng.uniform(0.03, 0.16)])
        balance *= math.exp(rng.normal(0.0, 0.1))
        return cls(light / np.linalg.norm(light), float(rng.uniform(0.35, 0.6)), wave,
                   float(rng.uniform(0.1, 0.3)), float(rng.uniform(0, 6.3)), textures,
                   color_noise, balance)  # fmt: skip

    def shade(self, xyz: np.ndarray, normals: np.ndarray, obj: np.ndarray, base: np.ndarray):
        """(N, 3) float64 radiance 0..1 of surface points xyz (N, 3) with unit normals (N, 3),
        objects (N,) and base colours (N, 3): texture, Lambert + ambient, ripple."""
        color = base.copy()
        for index, (freq, phase, tint, amplitude) in self.textures.items():
            mask = obj == index
            if mask.any():
                field = np.sin(xyz[mask] @ freq.T + phase).mean(axis=1)
                color[mask] += amplitude * field[:, None] * tint
        lambert = np.clip(normals @ self.light, 0.0, 1.0)
        glow = 1.0 + self.glow * np.sin(xyz[:, :2] @ self.wave + self.glow_phase)
        return color * ((self.ambient + (1 - self.ambient) * lambert) * glow)[:, None]

    def render(
        self, xyz: np.ndarray, normals: np.ndarray, obj: np.ndarray, base: np.ndarray,
        pixels: np.ndarray, rng: np.random.Generator,
    ) -> np.ndarray:  # fmt: skip
        """(N, 3) uint8 colours of N pixels of one frame (flat indices `pixels` (N,), surface
        points as in `shade`): `shade`, a per-frame exposure (+-12%) and white balance (+-3%),
        vignetting (-25% in the corners) and per-pixel noise."""
        gain = self.balance * math.exp(rng.normal(0.0, 0.12)) * np.exp(rng.normal(0, 0.03, 3))
        color = self.shade(xyz, normals, obj, base) * gain * _vignette()[pixels, None]
        color += rng.normal(0.0, self.color_noise, size=color.shape)
        return np.clip(np.round(color * 255.0), 0, 255).astype(np.uint8)


@lru_cache(maxsize=1)
def _vignette() -> np.ndarray:
    rays = pixel_rays()
    radius2 = (rays[:, 0] ** 2 + rays[:, 1] ** 2) / ((WIDTH / 2 / FOCAL_PX) ** 2 * 1.5625)
    return 1.0 - 0.25 * radius2
