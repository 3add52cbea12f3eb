"""Recommendations for raw histories of original item ids, as users and the HTTP API see them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genrec.data import Ragged
from genrec.errors import GenrecError


class RecommendationService:
    """A saved run loaded once, answering histories of original item ids (or Amazon asins)."""

    def __init__(self, run_dir: str | Path) -> None:
        from genrec.runs import load_run

        self.run_dir = Path(run_dir)
        self.model, self.dataset, self.config = load_run(run_dir)
        records = self.dataset.item_records
        self.index = ({str(r["asin"]): i for i, r in enumerate(records) if "asin" in r}
                      | self.dataset.item_index())

    def recommend(self, history: list[str], k: int = 10, exclude_history: bool = False) -> list[dict]:
        """Rows of rank, original item id, score, title (and the semantic ID where the model has one)."""
        if k < 1:
            raise GenrecError(f"k must be at least 1, got {k}")
        unknown = [item for item in history if item not in self.index]
        if unknown:
            raise GenrecError(f"unknown item id(s) in the history: {', '.join(unknown[:5])}")
        histories = Ragged.from_lists([np.array([self.index[i] for i in history], dtype=np.int64)])
        items, scores = self.model.recommend(histories, k, exclude_history=exclude_history)
        semantic_ids = getattr(self.model, "semantic_ids", None)
        rows = []
        for rank, (item, score) in enumerate(zip(items[0].tolist(), scores[0].tolist()), 1):
            if item < 0:
                break
            row = {"rank": rank, "item_id": str(self.dataset.item_ids[item]), "score": float(score)}
            if "asin" in self.dataset.item_records[item]:
                row["asin"] = self.dataset.item_records[item]["asin"]
            if semantic_ids is not None:
                row["semantic_id"] = semantic_ids.id_text(item)
            row["title"] = self.dataset.title(item)
            rows.append(row)
        return rows


def recommend_for_history(run_dir: str | Path, history: list[str], k: int = 10,
                          exclude_history: bool = False) -> list[dict]:
    """One-off recommendation (the CLI's ``genrec recommend``); servers keep a ``RecommendationService``."""
    return RecommendationService(run_dir).recommend(history, k, exclude_history)
