"""Compiled (numba) loops of the greedy supervoxel merging; `graph_merge.py` is the API.

Data structures, all flat arrays so nothing runs per edge in Python:

- running sums per vertex (count, centre, feature, sigma, log-occupancy): merging j into i adds
  j's row to i's, so the statistics of a merged vertex are never recomputed from voxels;
- union-find `parent`: a merged vertex keeps the id of the popped edge's first end;
- neighbour lists as singly linked lists over the 2E half-edge slots (`slot_vertex`,
  `slot_next`, per-vertex `head`/`tail`): a merge concatenates the two lists in O(1), then one
  walk over the merged list maps each entry to its current root, drops self-loops and
  duplicates, and recomputes that edge's weight. Lists of untouched vertices may still name a
  dead vertex; they are resolved through union-find when their owner is next merged;
- a binary max-heap of candidate edges (rows of weight, i, j, version_i, version_j) with lazy
  invalidation: merging bumps the version of the surviving vertex, so a popped row whose
  versions differ from the current ones, or whose end is dead, is stale and skipped. Only
  edges with weight > threshold are pushed: an edge's weight changes only when one of its ends
  is merged, and then it is recomputed and pushed again.
"""

from __future__ import annotations

import numba
import numpy as np

_W, _I, _J, _VI, _VJ = 0, 1, 2, 3, 4


@numba.njit(cache=True, error_model="numpy")
def pair_weight(count, center, feature, sigma, log_occ, i, j, use_feature, use_spatial, use_occ):
    """Eq. 14 between vertices i and j: embedding distances between the current means,
    sigma_s, sigma_d and r of the virtual vertex i + j (size-weighted means of the union)."""
    inv_i, inv_j = 1.0 / count[i], 1.0 / count[j]
    n = count[i] + count[j]
    exponent = 0.0
    if use_feature:
        dist2 = 0.0
        for e in range(feature.shape[1]):
            diff = feature[i, e] * inv_i - feature[j, e] * inv_j
            dist2 += diff * diff
        sigma_s = (sigma[i, 0] + sigma[j, 0]) / n
        exponent += dist2 / (sigma_s * sigma_s)
    if use_spatial:
        dist2 = 0.0
        for e in range(3):
            diff = center[i, e] * inv_i - center[j, e] * inv_j
            dist2 += diff * diff
        sigma_d = (sigma[i, 1] + sigma[j, 1]) / n
        exponent += dist2 / (sigma_d * sigma_d)
    ratio = 1.0
    if use_occ:
        ratio = n / np.exp((log_occ[i] + log_occ[j]) / n)
    return np.exp(-exponent) / max(ratio, 0.5)


@numba.njit(cache=True)
def _heap_push(heap, size, w, i, j, version_i, version_j):
    """Pushes a row, doubling the storage when full; returns (heap, size)."""
    if size == heap.shape[0]:
        grown = np.empty((2 * heap.shape[0] + 16, 5), dtype=np.float64)
        grown[:size] = heap[:size]
        heap = grown
    pos = size
    while pos > 0:
        up = (pos - 1) // 2
        if heap[up, _W] >= w:
            break
        heap[pos] = heap[up]
        pos = up
    heap[pos, _W], heap[pos, _I], heap[pos, _J] = w, i, j
    heap[pos, _VI], heap[pos, _VJ] = version_i, version_j
    return heap, size + 1


@numba.njit(cache=True)
def _heap_pop(heap, size):
    """Removes the top row; returns (i, j, version_i, version_j, size)."""
    i, j = np.int64(heap[0, _I]), np.int64(heap[0, _J])
    version_i, version_j = np.int64(heap[0, _VI]), np.int64(heap[0, _VJ])
    size -= 1
    last_w = heap[size, _W]
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and heap[child + 1, _W] > heap[child, _W]:
            child += 1
        if heap[child, _W] <= last_w:
            break
        heap[pos] = heap[child]
        pos = child
    if size > 0:
        heap[pos] = heap[size]
    return i, j, version_i, version_j, size


@numba.njit(cache=True)
def _find(parent, v):
    while parent[v] != v:
        parent[v] = parent[parent[v]]
        v = parent[v]
    return v


@numba.njit(cache=True)
def _build_lists(edges, num_vertices):
    """Half-edge linked lists: slot 2e holds edges[e, 1] in list of edges[e, 0], 2e + 1 the
    reverse. Returns (slot_vertex, slot_next, head, tail)."""
    slot_vertex = np.empty(2 * edges.shape[0], dtype=np.int64)
    slot_next = np.full(2 * edges.shape[0], -1, dtype=np.int64)
    head = np.full(num_vertices, -1, dtype=np.int64)
    tail = np.full(num_vertices, -1, dtype=np.int64)
    for e in range(edges.shape[0]):
        for side in range(2):
            owner, other, slot = edges[e, side], edges[e, 1 - side], 2 * e + side
            slot_vertex[slot] = other
            if head[owner] == -1:
                head[owner] = slot
            else:
                slot_next[tail[owner]] = slot
            tail[owner] = slot
    return slot_vertex, slot_next, head, tail


@numba.njit(cache=True)
def _absorb(i, j, count, center, feature, sigma, log_occ, slot_next, head, tail):
    """Adds j's running sums to i's and appends j's neighbour list to i's."""
    count[i] += count[j]
    center[i] += center[j]
    feature[i] += feature[j]
    sigma[i] += sigma[j]
    log_occ[i] += log_occ[j]
    if head[j] != -1:
        if head[i] == -1:
            head[i] = head[j]
        else:
            slot_next[tail[i]] = head[j]
        tail[i] = tail[j]
        head[j] = tail[j] = -1


@numba.njit(cache=True)
def greedy_merge(count, center, feature, sigma, log_occ, edges, threshold, flags):
    """Merges the best edge while its eq. 14 weight exceeds `threshold` (updates sums in place).

    Args:
        count, center, feature, sigma, log_occ: (K,), (K, 3), (K, E), (K, 2), (K,) float64
            running sums; every count must be > 0.
        edges: (E, 2) int64 vertex pairs, no self-loops.
        threshold: T0.
        flags: (3,) bool [use_feature, use_spatial, use_occupancy].

    Returns:
        ((K,) int64 root vertex of each vertex, number of merges).
    """
    use_f, use_s, use_o = flags[0], flags[1], flags[2]
    k = count.shape[0]
    parent = np.arange(k)
    version = np.zeros(k, dtype=np.int64)
    stamp = np.full(k, -1, dtype=np.int64)
    slot_vertex, slot_next, head, tail = _build_lists(edges, k)
    heap = np.empty((edges.shape[0] + 16, 5), dtype=np.float64)
    size = 0
    for e in range(edges.shape[0]):
        i, j = edges[e, 0], edges[e, 1]
        w = pair_weight(count, center, feature, sigma, log_occ, i, j, use_f, use_s, use_o)
        if w > threshold:
            heap, size = _heap_push(heap, size, w, i, j, 0, 0)
    merges = 0
    while size > 0:
        i, j, version_i, version_j, size = _heap_pop(heap, size)
        if parent[i] != i or parent[j] != j or version[i] != version_i or version[j] != version_j:
            continue
        parent[j] = i
        version[i] += 1
        merges += 1
        _absorb(i, j, count, center, feature, sigma, log_occ, slot_next, head, tail)
        heap, size = _refresh_neighbours(
            i, merges, parent, version, stamp, slot_vertex, slot_next, head, tail,
            count, center, feature, sigma, log_occ, threshold, flags, heap, size,
        )  # fmt: skip
    for v in range(k):
        parent[v] = _find(parent, v)  # path halving alone leaves v below its root
    return parent, merges


@numba.njit(cache=True)
def _refresh_neighbours(
    i, mark, parent, version, stamp, slot_vertex, slot_next, head, tail,
    count, center, feature, sigma, log_occ, threshold, flags, heap, size,
):  # fmt: skip
    """Walks i's merged list: resolves roots, unlinks self-loops and duplicates (`stamp[v] ==
    mark` means already seen), pushes the new weight of each remaining edge above threshold."""
    previous, slot = -1, head[i]
    while slot != -1:
        following = slot_next[slot]
        v = _find(parent, slot_vertex[slot])
        if v == i or stamp[v] == mark:
            if previous == -1:
                head[i] = following
            else:
                slot_next[previous] = following
        else:
            stamp[v] = mark
            slot_vertex[slot] = v
            previous = slot
            w = pair_weight(
                count, center, feature, sigma, log_occ, i, v, flags[0], flags[1], flags[2]
            )
            if w > threshold:
                heap, size = _heap_push(heap, size, w, i, v, version[i], version[v])
        slot = following
    tail[i] = previous
    if previous != -1:
        slot_next[previous] = -1
    return heap, size


@numba.njit(cache=True)
def edge_weights(count, center, feature, sigma, log_occ, edges, flags):
    """(E,) float64 eq. 14 weight of each edge on the unmerged vertices."""
    out = np.empty(edges.shape[0], dtype=np.float64)
    for e in range(edges.shape[0]):
        out[e] = pair_weight(
            count, center, feature, sigma, log_occ, edges[e, 0], edges[e, 1],
            flags[0], flags[1], flags[2],
        )  # fmt: skip
    return out
