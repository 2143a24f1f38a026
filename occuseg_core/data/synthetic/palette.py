"""Material colours: a few base colours per material family, varied per object.

Families are named by what they look like ("wood", "fabric", ...); builders pick a family per
part. Variation keeps objects of one class from sharing an exact colour, while copies of one
object (a row of identical chairs) reuse the colours they were built with.
"""

from __future__ import annotations

import numpy as np

from occuseg_core.data.synthetic.objects import Rgb

FAMILIES: dict[str, tuple[Rgb, ...]] = {
    "wood": ((0.62, 0.45, 0.28), (0.45, 0.30, 0.18), (0.75, 0.60, 0.42), (0.33, 0.22, 0.14)),
    "laminate": ((0.85, 0.83, 0.78), (0.55, 0.55, 0.55), (0.70, 0.58, 0.42), (0.25, 0.25, 0.27)),
    "metal": ((0.20, 0.20, 0.22), (0.60, 0.61, 0.63), (0.75, 0.75, 0.74)),
    "fabric": (
        (0.25, 0.32, 0.50),
        (0.50, 0.50, 0.52),
        (0.70, 0.64, 0.52),
        (0.55, 0.20, 0.18),
        (0.25, 0.42, 0.30),
        (0.18, 0.18, 0.20),
    ),
    "plastic": ((0.15, 0.15, 0.16), (0.85, 0.85, 0.83), (0.20, 0.35, 0.60), (0.70, 0.20, 0.20)),
    "white": ((0.92, 0.92, 0.90), (0.88, 0.87, 0.82)),
    "porcelain": ((0.95, 0.95, 0.94), (0.90, 0.91, 0.92)),
    "steel": ((0.72, 0.73, 0.75), (0.80, 0.80, 0.80), (0.55, 0.56, 0.58)),
    "wall": ((0.90, 0.89, 0.85), (0.82, 0.84, 0.86), (0.86, 0.80, 0.70), (0.75, 0.80, 0.74)),
    "floor": (
        (0.55, 0.40, 0.26),
        (0.68, 0.55, 0.40),
        (0.45, 0.45, 0.47),
        (0.75, 0.73, 0.68),
        (0.35, 0.33, 0.40),
    ),
    "bedding": ((0.93, 0.93, 0.92), (0.70, 0.75, 0.85), (0.85, 0.78, 0.70), (0.55, 0.58, 0.62)),
    "curtain": ((0.80, 0.75, 0.62), (0.35, 0.40, 0.55), (0.60, 0.25, 0.22), (0.88, 0.88, 0.86)),
    "glass": ((0.55, 0.62, 0.68), (0.40, 0.45, 0.50)),
    "paper": ((0.80, 0.60, 0.40), (0.30, 0.40, 0.60), (0.85, 0.85, 0.80), (0.60, 0.25, 0.25)),
    "cardboard": ((0.66, 0.52, 0.36), (0.58, 0.45, 0.30)),
}


def pick_color(rng: np.random.Generator, family: str, variation: float = 0.08) -> Rgb:
    """A base colour of `family`, brightness and hue jittered.

    Args:
        rng: random generator.
        family: key of `FAMILIES`.
        variation: std of the relative brightness change; a third of it per channel.

    Returns:
        (r, g, b) floats in [0, 1].
    """
    try:
        choices = FAMILIES[family]
    except KeyError:
        raise ValueError(f"unknown colour family {family!r}; known: {sorted(FAMILIES)}") from None
    base = np.asarray(choices[rng.integers(len(choices))])
    scale = 1.0 + variation * rng.standard_normal()
    tint = 1.0 + variation / 3 * rng.standard_normal(3)
    rgb = np.clip(base * scale * tint, 0.02, 0.98)
    return (float(rgb[0]), float(rgb[1]), float(rgb[2]))


def pick_colors(rng: np.random.Generator, *families: str) -> tuple[Rgb, ...]:
    """One colour per family, in order (an object's materials)."""
    return tuple(pick_color(rng, family) for family in families)
