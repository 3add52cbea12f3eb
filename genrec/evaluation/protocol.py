"""The full-ranking protocol: every user's held-out target against the whole catalogue.

Models are asked for their top ``max(ks)`` items through ``Recommender.recommend``; a target's rank
within that list gives Recall@K and NDCG@K exactly, with no sampled negatives.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from genrec.data.dataset import EvalSet
from genrec.evaluation.metrics import DEFAULT_KS, per_user_metrics, summarise, target_ranks
from genrec.models.base import Recommender
from genrec.progress import progress_bar


@dataclass
class EvalResult:
    split: str
    metrics: dict[str, float]
    per_user: dict[str, np.ndarray]  # metric name -> value per user, aligned with ``users``
    users: np.ndarray
    exclude_history: bool
    seconds: float

    def summary(self) -> dict:
        """What gets written to JSON: the means, and how they were computed."""
        return {"split": self.split, "metrics": self.metrics, "n_users": int(len(self.users)),
                "exclude_history": self.exclude_history, "eval_seconds": round(self.seconds, 3)}


def evaluate(model: Recommender, evalset: EvalSet, split: str, ks: tuple[int, ...] = DEFAULT_KS,
             exclude_history: bool = False, batch_size: int = 1024, progress: bool = True) -> EvalResult:
    """Recall@K and NDCG@K over ``evalset``; ``exclude_history`` masks items the user already has
    (off by default: the published generative-recommendation tables do not mask)."""
    start = time.perf_counter()
    k = max(ks)
    ranks = np.empty(len(evalset), dtype=np.float64)
    batches = range(0, len(evalset), batch_size)
    for lo in progress_bar(batches, desc=f"evaluate {split}", disable=not progress, leave=False):
        rows = np.arange(lo, min(lo + batch_size, len(evalset)))
        items, _ = model.recommend(evalset.histories.select(rows), k, exclude_history=exclude_history)
        ranks[rows] = target_ranks(items, evalset.targets[rows])
    per_user = per_user_metrics(ranks, ks)
    return EvalResult(split, summarise(per_user), per_user, evalset.users, exclude_history,
                      time.perf_counter() - start)
