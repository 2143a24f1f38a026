"""Slow, loop-and-set twin of `occuseg_core.eval.instance_ap` (ScanNet benchmark rules).

Written for occuseg from the rules listed in `instance_ap`'s module docstring, one prediction and
one ground-truth instance at a time with Python sets, so the vectorised version can be checked
against it on random inputs. Returns {class id: [AP per threshold]}.
"""

from __future__ import annotations

import math


def _instances(gt_ids, class_ids):
    """{gt id: set of vertices} for the non-zero ids of evaluated classes."""
    out = {}
    for v, gid in enumerate(gt_ids):
        if gid != 0 and gid // 1000 in class_ids:
            out.setdefault(int(gid), set()).add(v)
    return dict(sorted(out.items()))


def _scene_matches(pred, gt_ids, class_id, class_ids, threshold, min_size):
    """(list of (is_tp, score), number of missed gt, has_gt, has_pred) for one scene/class."""
    gts = {g: verts for g, verts in _instances(gt_ids, class_ids).items() if g // 1000 == class_id}
    preds = []
    for mask, label, score in zip(pred.masks, pred.label_ids, pred.scores, strict=True):
        verts = {v for v, inside in enumerate(mask) if inside}
        if label == class_id and len(verts) >= min_size:
            preds.append((verts, float(score)))
    void = {v for v, gid in enumerate(gt_ids) if gid // 1000 not in class_ids}

    def iou(a, b):
        return len(a & b) / len(a | b)

    examples, missed, used = [], 0, set()
    counted = [g for g, verts in gts.items() if len(verts) >= min_size]
    for g in counted:
        best = None
        for k, (verts, score) in enumerate(preds):
            if k in used or iou(gts[g], verts) <= threshold:
                continue
            if best is None:
                best, used = score, used | {k}
            else:
                examples.append((False, min(best, score)))
                best = max(best, score)
        if best is None:
            missed += 1
        else:
            examples.append((True, best))
    for verts, score in preds:
        if any(iou(gts[g], verts) > threshold for g in gts):
            continue
        ignored = len(verts & void) + sum(
            len(verts & gts[g]) for g in gts if len(gts[g]) < min_size
        )
        if ignored / len(verts) <= threshold:
            examples.append((False, score))
    return examples, missed, bool(counted), bool(preds)


def _ap(examples, missed):
    if not examples:
        return 0.0
    total_gt = sum(1 for t, _ in examples if t) + missed
    points = []  # (recall, precision) at each distinct score, ascending score
    for t in sorted({s for _, s in examples}):
        kept = [is_tp for is_tp, s in examples if s >= t]
        tp = sum(kept)
        points.append((tp / total_gt, tp / len(kept)))
    points.append((0.0, 1.0))
    recall = [r for r, _ in points]
    ap = 0.0
    for i, (_, precision) in enumerate(points):
        before = recall[i - 1] if i > 0 else recall[0]
        after = recall[i + 1] if i + 1 < len(recall) else 0.0
        ap += precision * (before - after) / 2.0
    return ap


def naive_scannet_ap(scenes, class_ids, thresholds, min_size=100):
    """AP per class and threshold.

    Args:
        scenes: list of (ScenePredictions, gt ids sequence).
        class_ids: evaluated class ids.
        thresholds: IoU thresholds.
        min_size: minimum region size in vertices.

    Returns:
        {class id: [AP at each threshold]}, NaN where the class has no counted ground truth.
    """
    out = {}
    for c in class_ids:
        row = []
        for t in thresholds:
            examples, missed, has_gt, has_pred = [], 0, False, False
            for pred, gt in scenes:
                ex, miss, hg, hp = _scene_matches(pred, list(gt), c, set(class_ids), t, min_size)
                examples += ex
                missed += miss
                has_gt |= hg
                has_pred |= hp
            if not has_gt:
                row.append(math.nan)
            elif not has_pred:
                row.append(0.0)
            else:
                row.append(_ap(examples, missed))
        out[c] = row
    return out
