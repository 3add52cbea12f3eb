"""Per-user metrics broken down by a property of the user: where a model wins or loses, not only how much.

The average hides a lot on Amazon data. Most users have short histories, and most targets are rare
items. So a model can match another on average and still fail on heavy users, or only ever get the
popular items right.
"""

from __future__ import annotations

import numpy as np

HISTORY_EDGES = (1, 4, 6, 8, 11, 21)  # history length: buckets [1, 4), [4, 6), ... [21, inf)
POPULARITY_EDGES = (0, 5, 20, 50, 100)  # the target's count in the training sequences


def bucket_means(values: np.ndarray, keys: np.ndarray,
                 edges: tuple[int, ...]) -> list[tuple[str, int, float]]:
    """``(bucket label, users, mean value)`` per bucket ``edges[i] <= key < edges[i + 1]``, the last open.

    Keys below the first edge are left out, and empty buckets are skipped, so every row is a real mean."""
    values, keys = np.asarray(values, dtype=np.float64), np.asarray(keys)
    if values.shape != keys.shape:
        raise ValueError(f"{len(values)} metric values for {len(keys)} keys")
    bucket = np.searchsorted(np.asarray(edges), keys, side="right") - 1
    rows = []
    for i, low in enumerate(edges):
        chosen = bucket == i
        if chosen.any():
            high = edges[i + 1] - 1 if i + 1 < len(edges) else None
            label = f"{low}+" if high is None else (f"{low}" if high == low else f"{low}-{high}")
            rows.append((label, int(chosen.sum()), float(values[chosen].mean())))
    return rows
