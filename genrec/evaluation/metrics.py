"""Ranking metrics with one held-out target per user, computed from the target's rank."""

from __future__ import annotations

import numpy as np

DEFAULT_KS = (5, 10, 20)


def target_ranks(recommended: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """0-based position of each target in its row of ``recommended``; ``inf`` where absent."""
    hits = recommended == np.asarray(targets)[:, None]
    ranks = np.where(hits.any(axis=1), hits.argmax(axis=1), np.inf)
    return ranks.astype(np.float64)


def per_user_metrics(ranks: np.ndarray, ks: tuple[int, ...] = DEFAULT_KS) -> dict[str, np.ndarray]:
    """``recall@K`` (a hit in the top K; = HR@K with one target) and ``ndcg@K`` (1/log2(rank + 2))."""
    out: dict[str, np.ndarray] = {}
    for k in ks:
        hit = ranks < k
        out[f"recall@{k}"] = hit.astype(np.float64)
        out[f"ndcg@{k}"] = np.where(hit, 1.0 / np.log2(np.where(hit, ranks, 0) + 2.0), 0.0)
    return out


def summarise(per_user: dict[str, np.ndarray]) -> dict[str, float]:
    return {name: float(values.mean()) if len(values) else 0.0 for name, values in per_user.items()}
