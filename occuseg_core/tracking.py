"""Stable instance ids across re-segmentations of a map, by voxel overlap (pure numpy).

Each update hands over the voxel keys of every new instance. A new instance inherits the id
of the previous instance it overlaps most (intersection over union of voxel sets), greedily
from the best pair down, one to one, if the IoU reaches `min_overlap`; otherwise it gets a
fresh id. Instances that vanish are remembered for `memory` updates, so an object that one
segmentation missed gets its old id back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def overlap_iou(previous: list[np.ndarray], current: list[np.ndarray]) -> np.ndarray:
    """IoU of every (previous, current) pair of voxel-key sets.

    Args:
        previous: P arrays of int64 keys, unique and pairwise disjoint.
        current: C arrays of unique int64 keys.

    Returns:
        (P, C) float64 IoU (0 where disjoint).
    """
    num_prev, num_cur = len(previous), len(current)
    if not num_prev or not num_cur:
        return np.zeros((num_prev, num_cur))
    prev_sizes = np.array([len(p) for p in previous])
    cur_sizes = np.array([len(c) for c in current])
    prev_keys = np.concatenate(previous)
    prev_owner = np.repeat(np.arange(num_prev), prev_sizes)
    order = np.argsort(prev_keys)
    prev_keys, prev_owner = prev_keys[order], prev_owner[order]
    cur_keys = np.concatenate(current)
    cur_owner = np.repeat(np.arange(num_cur), cur_sizes)
    pos = np.minimum(np.searchsorted(prev_keys, cur_keys), max(prev_keys.size - 1, 0))
    shared = prev_keys.size > 0
    found = (prev_keys[pos] == cur_keys) if shared else np.zeros(cur_keys.size, dtype=bool)
    pair = prev_owner[pos[found]] * num_cur + cur_owner[found]
    inter = np.bincount(pair, minlength=num_prev * num_cur).reshape(num_prev, num_cur)
    union = prev_sizes[:, None] + cur_sizes[None, :] - inter
    return inter / np.maximum(union, 1)


def greedy_match(iou: np.ndarray, min_overlap: float) -> np.ndarray:
    """(C,) index of the previous set each current set takes over, -1 = none (one to one)."""
    match = np.full(iou.shape[1], -1, dtype=np.int64)
    if iou.size == 0:
        return match
    pairs = np.argwhere(iou >= min_overlap)
    pairs = pairs[np.argsort(-iou[pairs[:, 0], pairs[:, 1]], kind="stable")]
    used = np.zeros(iou.shape[0], dtype=bool)
    for p, c in pairs:
        if not used[p] and match[c] < 0:
            used[p], match[c] = True, p
    return match


@dataclass
class _Track:
    keys: np.ndarray
    missed: int = 0


class InstanceTracker:
    """Assigns ids >= 1 that persist while an instance keeps overlapping itself.

    Args:
        min_overlap: IoU needed to inherit an id, in (0, 1].
        memory: updates a vanished instance's id stays claimable.
    """

    def __init__(self, min_overlap: float = 0.3, memory: int = 3) -> None:
        if not 0.0 < min_overlap <= 1.0:
            raise ValueError(f"min_overlap must be in (0, 1]; got {min_overlap}")
        self.min_overlap = min_overlap
        self.memory = memory
        self.reset()

    def reset(self) -> None:
        self._tracks: dict[int, _Track] = {}
        self._next_id = 1

    def update(self, instance_keys: list[np.ndarray]) -> np.ndarray:
        """Ids for this update's instances.

        Args:
            instance_keys: per instance, its voxel keys (int64, any order).

        Returns:
            (C,) int64 ids, distinct, >= 1.
        """
        current = [np.unique(np.asarray(k, dtype=np.int64)) for k in instance_keys]
        track_ids = list(self._tracks)
        match = greedy_match(
            overlap_iou([self._tracks[t].keys for t in track_ids], current), self.min_overlap
        )
        ids = np.empty(len(current), dtype=np.int64)
        for c, p in enumerate(match):
            if p >= 0:
                ids[c] = track_ids[p]
            else:
                ids[c], self._next_id = self._next_id, self._next_id + 1
        seen = set(ids.tolist())
        claimed = np.concatenate(current) if current else np.empty(0, np.int64)
        for t in track_ids:
            if t not in seen:
                track = self._tracks[t]
                track.missed += 1
                # keep remembered tracks disjoint from the current instances (overlap_iou)
                track.keys = np.setdiff1d(track.keys, claimed, assume_unique=True)
                if track.missed > self.memory or track.keys.size == 0:
                    del self._tracks[t]
        for c, track_id in enumerate(ids):
            self._tracks[int(track_id)] = _Track(keys=current[c])
        return ids
