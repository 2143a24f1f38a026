"""The models shipped with the package, and how a `--checkpoint` argument names a file.

`BUNDLED_MODELS` maps a name to a file in `occuseg_core/models/` (each with its model card,
`MODEL_CARD_<name>.md`); `resolve_checkpoint` turns None, a name or a path into the file to load.
"""

from __future__ import annotations

from pathlib import Path

from occuseg_core.errors import OccusegError

MODELS_DIR = Path(__file__).resolve().parent / "models"
BUNDLED_MODELS: dict[str, Path] = {
    "real": MODELS_DIR / "real.pt",
    "synthetic": MODELS_DIR / "synthetic.pt",
}
"""The models shipped with the package, by name (their cards: models/MODEL_CARD_<name>.md).
"real": trained on real ScanNet rooms and synthetic rooms (ScanNet Terms of Use: non-commercial
research and education); "synthetic": trained on synthetic rooms only (no data terms)."""
DEFAULT_MODEL = "real"
"""What `Segmenter.from_checkpoint()`, the CLI and the ROS nodes load when given no checkpoint."""


def resolve_checkpoint(checkpoint: str | Path | None) -> tuple[Path, str]:
    """The file a checkpoint argument names, and how to call it in messages.

    Args:
        checkpoint: None or "" (the default bundled model), a bundled model's name (a key of
            `BUNDLED_MODELS`; a file of the same name in the working directory is reached as
            `./name`), or a path.

    Returns:
        (path, label): e.g. (.../models/real.pt, "bundled model 'real'").

    Raises:
        OccusegError: a bundled model missing from the installation.
    """
    name = DEFAULT_MODEL if checkpoint is None or str(checkpoint) == "" else str(checkpoint)
    if name not in BUNDLED_MODELS:
        return Path(checkpoint), str(checkpoint)
    path = BUNDLED_MODELS[name]
    if not path.is_file():
        raise OccusegError(f"no bundled model {name!r} at {path}; pass a checkpoint path (bundled"
                           f" models: {', '.join(BUNDLED_MODELS)})")  # fmt: skip
    return path, f"bundled model {name!r}"
