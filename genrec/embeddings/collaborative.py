"""Collaborative item embeddings (a trained SASRec's item table) and their fusion with text ones.

Text embeddings place items by what they are, collaborative ones by who buys them together; the
literature (e.g. LC-Rec, LETTER) finds semantic IDs from both better than from either alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genrec.errors import GenrecError


def collaborative_embeddings(run_dir: str | Path, n_items: int | None = None) -> np.ndarray:
    """``float32 [n_items, d]``: the item embedding table of the model trained in ``run_dir``."""
    from genrec.runs import load_run

    model, dataset, _ = load_run(run_dir)
    if not hasattr(model, "item_embeddings"):
        raise GenrecError(f"{run_dir}: model {getattr(model, 'name', type(model).__name__)!r} has no item "
                          "embedding table (train sasrec for collaborative embeddings)")
    table = model.item_embeddings()
    table = table.detach().cpu().numpy() if hasattr(table, "detach") else np.asarray(table)
    expected = dataset.n_items if n_items is None else n_items
    if table.ndim != 2 or len(table) != expected:
        raise GenrecError(f"{run_dir}: item embeddings have shape {table.shape}, expected {expected} rows "
                          "(was the run trained on this dataset?)")
    return np.ascontiguousarray(table, dtype=np.float32)


def fuse(parts: list[np.ndarray], weights: list[float] | None = None) -> np.ndarray:
    """Concatenate row-L2-normalised blocks, block ``i`` scaled by ``weights[i]``.

    Normalising first keeps a block with a larger scale or dimension from drowning the other; the
    weight then sets each block's share of every squared distance (``weight**2``).
    """
    if not parts:
        raise GenrecError("nothing to fuse")
    weights = [1.0] * len(parts) if weights is None else list(weights)
    if len(weights) != len(parts):
        raise GenrecError(f"fuse: {len(parts)} embedding blocks but {len(weights)} weights")
    n = {len(p) for p in parts}
    if len(n) != 1:
        raise GenrecError(f"fuse: embedding blocks have different item counts {sorted(n)}")
    blocks = []
    for part, weight in zip(parts, weights):
        part = np.asarray(part, dtype=np.float32)
        norms = np.linalg.norm(part, axis=1, keepdims=True)
        blocks.append(weight * part / np.maximum(norms, 1e-12))
    return np.concatenate(blocks, axis=1)
