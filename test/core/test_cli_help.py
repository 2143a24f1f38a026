"""What a newcomer reads: `occuseg --help` describes every command, option help shows the
defaults, and `occuseg eval` says where its --pred and --gt folders come from (`--write-gt`)."""

import json

import numpy as np
import pytest

from occuseg_core.cli import COMMANDS, main


def _help(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


def test_top_level_help_describes_every_command(capsys):
    import importlib

    text = _help(capsys)
    assert "see `occuseg" not in text
    for name, module in COMMANDS.items():
        assert f"{name} {importlib.import_module(module).HELP}" in text, name


def test_option_help_shows_defaults(capsys):
    text = _help(capsys, "segment")
    assert "drop smaller instances (default: 0)" in text
    assert "cuda:N (occuseg) (default: auto)" in text
    assert "--half float16 network on CUDA --min-points" in text  # a flag: no default shown


def test_bag_out_help_names_the_output_topics(capsys):
    text = _help(capsys, "bag")
    for topic in ("<topic>/instances,", "<topic>/instances/points", "<topic>/instances/markers"):
        assert topic in text


def test_eval_help_says_where_pred_and_gt_come_from(capsys):
    text = _help(capsys, "eval")
    assert "`occuseg segment --out OUT` writes one to OUT/scannet" in text
    assert "--write-gt DIR" in text


def test_write_gt_writes_the_split_as_a_gt_folder(tmp_path, capsys):
    """Each scene's file holds semantic * 1000 + instance per point (0: no instance), which
    `occuseg eval --gt` reads: the ground truth submitted as a prediction scores AP 1."""
    from occuseg_core.data.dataset import write_synthetic_dataset
    from occuseg_core.data.readers import make_reader
    from occuseg_core.eval import encode_ground_truth
    from occuseg_core.eval.scannet_submission import read_id_file, write_scannet_submission

    data = write_synthetic_dataset(tmp_path / "data", 2, seed=3, val_fraction=0.5, progress=False)
    gt = tmp_path / "gt"
    argv = ["eval", "--dataset", "synthetic", "--data-root", str(data), "--split", "val"]
    assert main([*argv, "--write-gt", str(gt)]) == 0
    (scene,) = make_reader("synthetic", data, "val")
    ids = read_id_file(gt / f"{scene.name}.txt")
    np.testing.assert_array_equal(ids, encode_ground_truth(scene.semantic, scene.instance))
    objects = np.unique(ids[ids > 0])
    instance_ids = np.searchsorted(objects, ids).astype(np.int64)
    instance_ids[ids == 0] = -1
    write_scannet_submission(tmp_path / "pred", scene.name, instance_ids, objects // 1000,
                             np.ones(len(objects)))  # fmt: skip
    capsys.readouterr()
    report = tmp_path / "report.json"
    args = ["--pred", str(tmp_path / "pred"), "--gt", str(gt), "--json", str(report)]
    assert main(["eval", *args]) == 0
    assert json.loads(report.read_text())["mean"]["ap"] == pytest.approx(1.0)


def test_bench_table_says_ms_for_cells_in_ms():
    """Issue 17: the columns said `_s` while the cells were milliseconds."""
    from occuseg_core.commands.bench import STAGES, format_table

    row = {"scene": "room", "points": 1000, "instances": 3, "peak_rss_mb": 512.4,
           "network_threads": [2, 1, None]}  # fmt: skip
    row.update({f"{stage}_s": 0.25 for stage in STAGES})
    header, _, cells = format_table([row]).splitlines()
    assert header.split(" | ") == [
        "scene", "points", "instances", *(f"{s} ms" for s in STAGES), "peak_rss_mb",
        "network_threads",
    ]  # fmt: skip
    assert cells.split(" | ") == [
        "room", "1000", "3", *(["250"] * len(STAGES)), "512", "2,1,-"
    ]  # fmt: skip
