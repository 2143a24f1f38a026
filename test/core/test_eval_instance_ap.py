"""ScanNet-protocol instance AP: hand-computed cases (arithmetic in the docstrings), the
official script's special rules, and agreement with the slow reference on random scenes.

Layout used by most cases (vertex ranges, ground truth `nyu40 * 1000 + instance`):
chair A = 0..199 (5001), chair B = 200..399 (5002), table = 400..599 (7003),
wall = 600..799 (1004), unannotated = 800..999 (0). Chair is NYU40 5, table 7, wall 1.

AP integration of the official script: precision p_i and recall r_i at each distinct score
(ascending), then the artificial point (r=0, p=1); AP = sum_i p_i (r_{i-1} - r_{i+1}) / 2 with
r_{-1} = r_0 and r_{n+1} = 0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from occuseg_core.errors import OccusegError
from occuseg_core.eval import (
    SCANNET_IOU_THRESHOLDS,
    ScenePredictions,
    average_precision,
    encode_ground_truth,
    evaluate_scannet,
)
from occuseg_core.eval.instance_ap import evaluate_instances

CHAIR, TABLE = 5, 7
V = 1000


def ground_truth() -> np.ndarray:
    gt = np.zeros(V, np.int64)
    gt[0:200], gt[200:400], gt[400:600], gt[600:800] = 5001, 5002, 7003, 1004
    return gt


def mask(*ranges: tuple[int, int]) -> np.ndarray:
    m = np.zeros(V, bool)
    for lo, hi in ranges:
        m[lo:hi] = True
    return m


def predictions(*items: tuple[np.ndarray, int, float]) -> ScenePredictions:
    if not items:
        return ScenePredictions.empty(V)
    masks, labels, scores = zip(*items, strict=True)
    return ScenePredictions(np.stack(masks), np.array(labels), np.array(scores))


def chair(result, what: str = "ap") -> float:
    return float(getattr(result, what)[result.class_names.index("chair")])


def evaluate(*items, gt=None):
    return evaluate_scannet(
        {"s": predictions(*items)}, {"s": ground_truth() if gt is None else gt}
    )


def test_thresholds_are_the_official_nine_plus_quarter():
    """np.arange(0.5, 0.95, 0.05) stops at 0.9: nine thresholds, then 0.25."""
    assert len(SCANNET_IOU_THRESHOLDS) == 10
    assert SCANNET_IOU_THRESHOLDS[0] == 0.5 and SCANNET_IOU_THRESHOLDS[-1] == 0.25
    assert math.isclose(SCANNET_IOU_THRESHOLDS[8], 0.9)


def test_perfect_prediction_gives_one():
    """One gt, one exact prediction: (p, r) = (1, 1), then (1, 0); AP = 1*0.5 + 1*0.5 = 1."""
    r = evaluate((mask((0, 200)), CHAIR, 0.9), (mask((200, 400)), CHAIR, 0.8))
    assert chair(r) == chair(r, "ap50") == chair(r, "ap25") == 1.0


def test_false_positive_between_two_true_positives():
    """Scores A 0.9 (TP), table-area chair 0.8 (FP, not void), B 0.7 (TP); 2 gt.

    t=0.7: tp 2 fp 1 -> (p, r) = (2/3, 1); t=0.8: tp 1 fp 1 -> (1/2, 1/2);
    t=0.9: tp 1 fp 0 -> (1, 1/2); artificial (1, 0). Recall padded [1, 1, .5, .5, 0, 0]:
    widths .25 .25 .25 .25; AP = .25 (2/3 + 1/2 + 1 + 1) = 19/24 = 0.7917
    (a VOC-style step integral would give 0.8333).
    """
    r = evaluate(
        (mask((0, 200)), CHAIR, 0.9),
        (mask((400, 600)), CHAIR, 0.8),
        (mask((200, 400)), CHAIR, 0.7),
    )
    assert chair(r) == pytest.approx(19 / 24, abs=1e-12)
    assert chair(r, "ap25") == pytest.approx(19 / 24, abs=1e-12)
    assert r.ap[r.class_names.index("table")] == 0.0  # gt, but no table prediction
    assert r.mean_ap == pytest.approx((19 / 24 + 0.0) / 2)  # the 16 other classes are NaN


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0)])
def test_tied_confidences_form_one_step(order):
    """TP 0.9, FP 0.5, TP 0.5 (a tie), input order irrelevant. Distinct scores 0.5, 0.9:
    t=0.5: tp 2 fp 1 -> (2/3, 1); t=0.9: tp 1 fp 0 -> (1, 1/2); then (1, 0).
    Widths .5(1-.5)=.25, .5(1-0)=.5, .5(.5-0)=.25; AP = 2/3*.25 + .5 + .25 = 11/12.
    """
    items = [
        (mask((0, 200)), CHAIR, 0.9),
        (mask((400, 600)), CHAIR, 0.5),
        (mask((200, 400)), CHAIR, 0.5),
    ]
    r = evaluate(*[items[i] for i in order])
    assert chair(r) == pytest.approx(11 / 12, abs=1e-12)


def test_all_tied():
    """Three examples all at 0.5 (2 TP, 1 FP): one step (2/3, 1), then (1, 0): AP = 5/6."""
    r = evaluate(
        (mask((0, 200)), CHAIR, 0.5),
        (mask((400, 600)), CHAIR, 0.5),
        (mask((200, 400)), CHAIR, 0.5),
    )
    assert chair(r) == pytest.approx(5 / 6, abs=1e-12)


def test_second_prediction_of_one_gt_is_a_false_positive():
    """A predicted twice (0.9 and 0.8), B once (0.7): the 0.8 copy is a FP, so this equals the
    FP case above: 19/24. Without the copy the result is 1."""
    r = evaluate(
        (mask((0, 200)), CHAIR, 0.8), (mask((0, 200)), CHAIR, 0.9), (mask((200, 400)), CHAIR, 0.7)
    )
    assert chair(r) == pytest.approx(19 / 24, abs=1e-12)
    assert chair(evaluate((mask((0, 200)), CHAIR, 0.9), (mask((200, 400)), CHAIR, 0.7))) == 1.0


@pytest.mark.parametrize("region", [(600, 800), (800, 1000)], ids=["wall", "unannotated"])
def test_prediction_on_void_is_ignored(region):
    """A and B found at 0.5; a 0.9 chair on wall (not an instance class) or on unannotated
    vertices is ignored (all of it is void: 1 > threshold), so AP = 1. Were it a FP (the same
    chair on the table): t=0.5: tp 2 fp 1 -> (2/3, 1); t=0.9: (0, 0); then (1, 0).
    Widths .5(1-0)=.5, .5(1-0)=.5, 0: AP = 2/3 * .5 + 0 = 1/3."""
    found = [(mask((0, 200)), CHAIR, 0.5), (mask((200, 400)), CHAIR, 0.5)]
    assert chair(evaluate(*found, (mask(region), CHAIR, 0.9))) == 1.0
    r_fp = evaluate(*found, (mask((400, 600)), CHAIR, 0.9))
    assert chair(r_fp) == pytest.approx(1 / 3)


def test_half_void_prediction_is_ignored_only_at_quarter_iou():
    """As above, but the 0.9 chair lies half on wall, half on the table: its ignored share is
    100/200 = 0.5, and an unmatched prediction is a FP when that share <= threshold: so at
    0.5..0.9 (AP 1/3), but not at 0.25 (0.5 > 0.25: ignored, AP25 = 1)."""
    found = [(mask((0, 200)), CHAIR, 0.5), (mask((200, 400)), CHAIR, 0.5)]
    r = evaluate(*found, (mask((500, 700)), CHAIR, 0.9))
    ap = r.ap_per_threshold[r.class_names.index("chair")]
    np.testing.assert_allclose(ap[:9], 1 / 3, rtol=0, atol=1e-12)
    assert ap[9] == 1.0 and chair(r) == pytest.approx(1 / 3)


def test_small_gt_is_not_counted_and_predictions_on_it_are_ignored():
    """Chair A cut to 99 vertices (0..98; 99..199 unannotated). Its prediction 0..99 has 100
    vertices (kept), IoU 99/100 with A: matched to a not-counted gt, so neither TP nor FP.
    B is found: AP 1; num_gt counts only B."""
    gt = ground_truth()
    gt[99:200] = 0
    r = evaluate((mask((0, 100)), CHAIR, 0.9), (mask((200, 400)), CHAIR, 0.5), gt=gt)
    assert chair(r) == 1.0
    assert r.num_gt[r.class_names.index("chair")] == 1


def test_small_gt_only_gives_nan():
    """Only a 99-vertex chair and its 99-vertex prediction: both dropped, the class has no gt:
    NaN, and the means skip it (table has gt, no prediction: 0)."""
    gt = ground_truth()
    gt[99:400] = 0
    r = evaluate((mask((0, 99)), CHAIR, 0.9), gt=gt)
    assert math.isnan(chair(r)) and r.num_pred[r.class_names.index("chair")] == 0
    assert r.mean_ap == 0.0


def test_empty_prediction_is_dropped():
    """An empty chair mask is no prediction: chair has gt but no prediction, so AP = 0."""
    r = evaluate((mask(), CHAIR, 0.9))
    assert chair(r) == 0.0 and r.num_pred[r.class_names.index("chair")] == 0


def test_only_ignored_predictions_give_zero():
    """Gt and a prediction, but the prediction is all void: no TP, no FP. The official script
    crashes (IndexError on an empty list); we return 0, the limit of its formula."""
    r = evaluate((mask((600, 800)), CHAIR, 0.9))
    assert chair(r) == 0.0


def test_prediction_without_gt_is_nan_and_skipped_by_the_mean():
    """A sofa prediction (NYU40 6) where no sofa exists: sofa AP NaN; chair 1, table 0: mean
    over the two classes with gt = 0.5."""
    r = evaluate(
        (mask((0, 200)), CHAIR, 0.9), (mask((200, 400)), CHAIR, 0.9), (mask((400, 600)), 6, 0.9)
    )
    assert math.isnan(r.ap[r.class_names.index("sofa")])
    assert r.mean_ap == r.mean_ap50 == r.mean_ap25 == 0.5


def test_non_benchmark_label_is_ignored():
    """A prediction labelled 40 (otherprop) is not evaluated anywhere."""
    r = evaluate(
        (mask((0, 200)), CHAIR, 0.9), (mask((200, 400)), CHAIR, 0.9), (mask((400, 600)), 40, 1.0)
    )
    assert chair(r) == 1.0 and r.num_pred.sum() == 2


def test_merged_prediction_at_quarter_iou():
    """One chair covering A and B (IoU 200/400 = 0.5 with each). At 0.5 (strict >) no match:
    a FP and two misses -> (0, 0), (1, 0): AP 0. At 0.25 it matches A, B is missed:
    (1, 1/2), (1, 0): widths .25 .25 -> AP25 = 0.5."""
    r = evaluate((mask((0, 400)), CHAIR, 0.9))
    assert chair(r, "ap50") == 0.0 and chair(r) == 0.0
    assert chair(r, "ap25") == pytest.approx(0.5)


@pytest.mark.parametrize("kept", [100, 101])
def test_a_part_of_an_object_at_exactly_half_iou_is_no_match_at_half(kept):
    """Chair A predicted by its first `kept` vertices (0.9), chair B exactly (0.8). kept 100:
    IoU 100/200 = 0.5, not above 0.5, so at 0.5 it is a FP (none of it void) and A is missed:
    [0.8: tp 1 fp 1 -> (1/2, 1/2)], [0.9: tp 0 fp 1 -> (0, 0)], then (1, 0); recall padded
    [1/2, 1/2, 0, 0, 0]: AP50 = 1/2 (1/2 - 0) / 2 + 0 + 1 (0 - 0) / 2 = 1/8 (a match would
    give 1). At 0.55..0.9 the same 1/8; at 0.25 it matches: AP25 = 1. kept 101: IoU 0.505
    > 0.5 matches at 0.5: AP50 = 1, 0.55..0.9 still 1/8, so AP = (1 + 8/8) / 9 = 2/9."""
    r = evaluate((mask((0, kept)), CHAIR, 0.9), (mask((200, 400)), CHAIR, 0.8))
    ap = r.ap_per_threshold[r.class_names.index("chair")]
    at_half = 1.0 if kept > 100 else 1 / 8
    assert ap[0] == pytest.approx(at_half, abs=1e-12)
    np.testing.assert_allclose(ap[1:9], 1 / 8, rtol=0, atol=1e-12)
    assert ap[9] == 1.0
    assert chair(r) == pytest.approx((at_half + 1) / 9, abs=1e-12)


def test_quarter_iou_depends_on_gt_id_order_as_in_the_official_script():
    """Prediction P1 = A + 150 vertices of B (IoU .571 with A, 150/400 = .375 with B), score 0.9;
    P2 = B, score 0.5. Gt visited in ascending id order, each takes the first unused match:
    A (5001) first: A<-P1, B<-P2: AP25 = 1. With the ids swapped (B is 5001): B takes P1 (0.9),
    P2 is B's duplicate (FP 0.5), A finds P1 used: missed. (1/2, 1/2), (1, 1/2), (1, 0):
    AP25 = .5*0 + 1*.25 + 1*.25 = 0.5. AP50 is 1 either way."""
    items = [(mask((0, 350)), CHAIR, 0.9), (mask((200, 400)), CHAIR, 0.5)]
    swapped = ground_truth()
    swapped[0:200], swapped[200:400] = 5002, 5001
    assert chair(evaluate(*items), "ap25") == 1.0
    assert chair(evaluate(*items, gt=swapped), "ap25") == pytest.approx(0.5)
    assert chair(evaluate(*items), "ap50") == chair(evaluate(*items, gt=swapped), "ap50") == 1.0


def test_average_precision_without_examples_is_zero():
    assert average_precision(np.zeros(0, bool), np.zeros(0), 3) == 0.0


def test_missing_scene_modes():
    """A gt scene without prediction: skipped by default (official), all-missed with
    "empty" (chair: TP in scene 1, 2 missed in scene 2 -> recall 2/4, AP = 0.5), or an error."""
    gts = {"s1": ground_truth(), "s2": ground_truth()}
    preds = {"s1": predictions((mask((0, 200)), CHAIR, 0.9), (mask((200, 400)), CHAIR, 0.9))}
    skip = evaluate_scannet(preds, gts)
    assert skip.skipped_scenes == ("s2",) and chair(skip) == 1.0
    assert chair(evaluate_scannet(preds, gts, missing="empty")) == pytest.approx(0.5)
    with pytest.raises(OccusegError, match="s2"):
        evaluate_scannet(preds, gts, missing="error")


def test_input_errors_name_the_problem():
    with pytest.raises(OccusegError, match="999 vertices"):
        evaluate_scannet({"s": ScenePredictions.empty(999)}, {"s": ground_truth()})
    with pytest.raises(OccusegError, match="without ground truth"):
        evaluate_scannet({"x": ScenePredictions.empty(V)}, {"s": ground_truth()})
    with pytest.raises(OccusegError, match="NaN"):
        predictions((mask((0, 200)), CHAIR, float("nan")))


def test_empty_input_gives_shaped_nan_result():
    r = evaluate_scannet({}, {})
    assert r.ap_per_threshold.shape == (18, 10) and np.isnan(r.ap_per_threshold).all()
    assert math.isnan(r.mean_ap) and "scenes evaluated" in r.to_markdown()


def test_markdown_columns_follow_the_paper():
    """Table 1 order: bath bed bkshf cab chair cntr curt desk door ofurn pic fridg showr sink
    sofa tabl toil wind."""
    header = evaluate().to_markdown().splitlines()[0]
    cells = [c.strip() for c in header.strip("|").split("|")]
    assert (
        cells[2:]
        == (
            "bath bed bkshf cab chair cntr curt desk door ofurn pic fridg showr sink sofa tabl"
            " toil wind"
        ).split()
    )
    assert "| mAP | mAP@0.5 | mAP@0.25 |" in evaluate().to_markdown()


def _random_scene(rng, v=600):
    order = rng.permutation(v)
    gt = np.zeros(v, np.int64)
    pos, inst = 0, 1
    while pos < 0.85 * v:
        size = int(rng.integers(30, 220))
        gt[order[pos : pos + size]] = int(rng.choice([1, 5, 5, 7, 40])) * 1000 + inst
        pos, inst = pos + size, inst + 1
    masks, labels = [], []
    for gid in np.unique(gt[gt > 0]):
        for _ in range(int(rng.integers(0, 3))):
            m = (gt == gid) & (rng.random(v) > rng.random() * 0.6)
            m[rng.integers(0, v, int(rng.integers(0, 120)))] = True
            masks.append(m)
            labels.append(gid // 1000 if rng.random() < 0.8 else int(rng.choice([5, 7])))
    masks.append(np.isin(gt, rng.choice(np.unique(gt), 2)))  # a merge of two instances
    labels.append(5)
    scores = np.round(rng.random(len(masks)), 1)  # many ties
    return ScenePredictions(np.stack(masks), np.array(labels), scores), gt


@pytest.mark.parametrize("seed", range(6))
def test_matches_slow_reference(seed):
    """Vectorised AP equals the loop-and-set reference on random scenes with overlapping,
    duplicated, mislabelled, merged and void-covering predictions and tied scores."""
    from reference.instance_ap_naive import naive_scannet_ap

    rng = np.random.default_rng(seed)
    scenes = [_random_scene(rng) for _ in range(3)]
    classes = (5, 7)
    fast = evaluate_instances(
        [p for p, _ in scenes], [g for _, g in scenes], classes, ("chair", "table")
    )
    slow = naive_scannet_ap(scenes, classes, SCANNET_IOU_THRESHOLDS)
    for i, c in enumerate(classes):
        np.testing.assert_allclose(fast.ap_per_threshold[i], slow[c], rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_invariant_to_relabelling_and_permutation(seed):
    """Permuting vertices changes nothing; renumbering gt instances (same class) and
    reordering predictions changes nothing at IoU >= 0.5 (where a prediction can match only
    one gt). AP25 may depend on gt order, as in the official script (see above)."""
    rng = np.random.default_rng(100 + seed)
    pred, gt = _random_scene(rng)
    base = evaluate_scannet([pred], [gt])
    perm = rng.permutation(gt.size)
    moved = evaluate_scannet(
        [ScenePredictions(pred.masks[:, perm], pred.label_ids, pred.scores)], [gt[perm]]
    )
    np.testing.assert_array_equal(base.ap_per_threshold, moved.ap_per_threshold)
    ids = np.unique(gt[gt > 0])
    renumber = dict(zip(ids, (ids // 1000) * 1000 + 1 + rng.permutation(ids.size), strict=True))
    gt2 = np.array([renumber.get(g, 0) for g in gt])
    order = rng.permutation(pred.num_instances)
    pred2 = ScenePredictions(pred.masks[order], pred.label_ids[order], pred.scores[order])
    other = evaluate_scannet([pred2], [gt2])
    np.testing.assert_allclose(
        other.ap_per_threshold[:, :9], base.ap_per_threshold[:, :9], atol=1e-12
    )


def test_ground_truth_as_prediction_on_real_scan(scannet_scene_dir):
    """Each gt instance of scene0000_00 as a mask with confidence 1: AP = AP50 = AP25 = 1 for
    every class with an instance of >= 100 vertices, NaN for the other classes."""
    sem = np.load(scannet_scene_dir / "scene0000_00_sem_label_all.npy").astype(np.int64)
    ins = np.load(scannet_scene_dir / "scene0000_00_ins_label_all.npy").astype(np.int64)
    gt = encode_ground_truth(sem, ins)
    ids = np.unique(gt[gt > 0])
    masks = gt[None, :] == ids[:, None]
    pred = ScenePredictions(masks, ids // 1000, np.ones(ids.size))
    r = evaluate_scannet({"scene0000_00": pred}, {"scene0000_00": gt})
    sizes = masks.sum(axis=1)
    present = {int(c) for c, n in zip(ids // 1000, sizes, strict=True) if n >= 100}
    expected = present & set(r.class_ids)
    assert len(expected) >= 5
    for i, c in enumerate(r.class_ids):
        if c in expected:
            assert r.ap[i] == r.ap50[i] == r.ap25[i] == 1.0, r.class_names[i]
        else:
            assert np.isnan(r.ap[i]), r.class_names[i]
    assert r.mean_ap == r.mean_ap50 == r.mean_ap25 == 1.0


# --- class-agnostic scoring ------------------------------------------------------------------


def test_class_agnostic_ignores_the_class_of_a_matching_prediction():
    """Chair A (0..199) predicted exactly but called "table" (0.9), the table predicted exactly
    (0.8). By class: chair AP50 0 (no chair prediction); table, ascending scores: [0.8: p 1/2,
    r 1], [0.9: p 0, r 0], then (p 1, r 0): AP = 1/2 (1 - 0) / 2 + 0 + 1 (0 - 0) / 2 = 0.25.
    Class-agnostic: chairs A, B and the table are three objects; both predictions are true
    positives and chair B is missed: [0.8: p 1, r 2/3], [0.9: p 1, r 1/3], (1, 0):
    AP = (2/3 - 1/3) / 2 + (2/3 - 0) / 2 + (1/3 - 0) / 2 = 2/3."""
    from occuseg_core.eval import evaluate_class_agnostic

    items = [(mask((0, 200)), TABLE, 0.9), (mask((400, 600)), TABLE, 0.8)]
    by_class = evaluate(*items)
    assert chair(by_class, "ap50") == 0.0
    table = by_class.class_names.index("table")
    assert by_class.ap50[table] == pytest.approx(0.25)
    agnostic = evaluate_class_agnostic({"s": predictions(*items)}, {"s": ground_truth()})
    assert agnostic.class_names == ("object",) and agnostic.num_gt.tolist() == [3]
    assert agnostic.mean_ap50 == pytest.approx(2 / 3)
    assert agnostic.mean_ap25 == pytest.approx(2 / 3)


def test_class_agnostic_keeps_objects_of_different_classes_apart():
    """A chair and a table that share instance number 3 stay two objects; a prediction over
    both (IoU 1/2 with each) matches neither at 0.5 (IoU must exceed it); wall predictions are
    not scored."""
    from occuseg_core.eval import evaluate_class_agnostic

    gt = np.zeros(V, np.int64)
    gt[0:200], gt[200:400], gt[600:800] = 5003, 7003, 1004
    items = [(mask((0, 400)), CHAIR, 0.9), (mask((600, 800)), 1, 0.7)]
    result = evaluate_class_agnostic({"s": predictions(*items)}, {"s": gt})
    assert result.num_gt.tolist() == [2] and result.num_pred.tolist() == [1]
    assert result.mean_ap50 == 0.0
    assert result.mean_ap25 > 0  # at 0.25 it matches one of the two
    exact = [(mask((0, 200)), TABLE, 0.9), (mask((200, 400)), CHAIR, 0.8)]
    assert evaluate_class_agnostic({"s": predictions(*exact)}, {"s": gt}).mean_ap == 1.0
