"""Recommendations for raw histories of original item ids, as users and the HTTP API see them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genrec.data import Ragged
from genrec.errors import GenrecError


def recommend_for_history(run_dir: str | Path, history: list[str], k: int = 10,
                          exclude_history: bool = False) -> list[dict]:
    """History items by original id (or Amazon asin). Rows of rank, original item id, score, title (and the semantic ID where the model has one)."""
    from genrec.runs import load_run

    model, dataset, _ = load_run(run_dir)
    index = {str(r["asin"]): i for i, r in enumerate(dataset.item_records) if "asin" in r} | dataset.item_index()
    unknown = [item for item in history if item not in index]
    if unknown:
        raise GenrecError(f"unknown item id(s) in the history: {', '.join(unknown[:5])}")
    histories = Ragged.from_lists([np.array([index[i] for i in history])])
    items, scores = model.recommend(histories, k, exclude_history=exclude_history)
    semantic_ids = getattr(model, "semantic_ids", None)
    rows = []
    for rank, (item, score) in enumerate(zip(items[0].tolist(), scores[0].tolist()), 1):
        if item < 0:
            break
        row = {"rank": rank, "item_id": str(dataset.item_ids[item]), "score": float(score)}
        if "asin" in dataset.item_records[item]:
            row["asin"] = dataset.item_records[item]["asin"]
        if semantic_ids is not None:
            row["semantic_id"] = semantic_ids.id_text(item)
        row["title"] = dataset.title(item)
        rows.append(row)
    return rows
