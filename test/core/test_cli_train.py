"""`occuseg train` from the command line: a tiny run, resume, and every user error giving one
line, exit code 2 and no half-written run directory."""

import pytest

from occuseg_core.cli import main

TINY = """name: tiny
model: {unet: {widths: [8, 16], blocks_per_level: 1}}
data: {voxel_size_m: 0.05, augment: {elastic: false}}
train: {epochs: 1, batch_size: 1, val_scenes: 1, device: cpu}
"""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from occuseg_core.data.dataset import write_synthetic_dataset

    root = tmp_path_factory.mktemp("train") / "data"
    write_synthetic_dataset(root, num_scenes=3, seed=5, val_fraction=0.34, progress=False)
    return root


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def test_train_then_resume_for_more_epochs(dataset, tiny_config, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--config", str(tiny_config), "--data", str(dataset), "--out", str(out),
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert (out / "checkpoints" / "last.pt").is_file() and (out / "metrics.csv").is_file()
    assert main(["train", "--out", str(out), "--data", str(dataset), "--resume", "--epochs", "2",
                 "--no-progress"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "resuming" in printed and "done: 2 epochs" in printed
    assert len((out / "metrics.csv").read_text().strip().splitlines()) == 3


def _fails(argv, capsys, message, out):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_user_errors(dataset, tiny_config, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["--out", str(out), "--no-progress"]
    _fails(["train", "--config", str(tiny_config), "--data", str(tmp_path / "nope"), *base],
           capsys, "nope", out)  # fmt: skip
    empty = tmp_path / "empty"
    (empty / "train").mkdir(parents=True)
    _fails(
        ["train", "--config", str(tiny_config), "--data", str(empty), *base], capsys, "empty", out
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {epochs: [")
    _fails(["train", "--config", str(bad), "--data", str(dataset), *base], capsys, "YAML", out)
    _fails(["train", "--config", str(tiny_config), "--data", str(dataset), "--resume", *base],
           capsys, "no checkpoint", out)  # fmt: skip


def test_corrupted_checkpoint_on_resume(dataset, tiny_config, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--config", str(tiny_config), "--data", str(dataset), "--out", str(out),
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    last = out / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    assert main([*argv, "--resume"]) == 2
    assert "corrupted" in capsys.readouterr().err
    assert main(argv) == 2  # an existing run is never overwritten without --resume
    assert "already holds files" in capsys.readouterr().err
