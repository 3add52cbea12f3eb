"""Collaborative semantics for GRAM: each item's top-k most similar items under a collaborative model.

GRAM verbalises collaborative signal by writing an item's nearest neighbours (cosine of a trained
SASRec's item embeddings) into its prompt through their lexical IDs, so a text model sees "users who
bought this also bought ..." without any ID embedding table of its own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genrec.errors import GenrecError


def top_k_similar(embeddings: np.ndarray, k: int, chunk: int = 2048) -> np.ndarray:
    """``[n, k]`` int64: for every row, the ``k`` other rows of highest cosine similarity, best first.

    Computed in chunks of rows so that memory stays ``chunk x n`` rather than ``n x n``; an item is
    never its own neighbour. Rows with fewer than ``k`` others are padded with -1.
    """
    if embeddings.ndim != 2:
        raise GenrecError(f"item embeddings must be a [n_items, dim] table, got shape {embeddings.shape}")
    x = torch.nn.functional.normalize(torch.as_tensor(embeddings, dtype=torch.float32), dim=1)
    n = len(x)
    take = min(k, n - 1)
    out = np.full((n, k), -1, dtype=np.int64)
    if take <= 0:
        return out
    for lo in range(0, n, chunk):
        rows = torch.arange(lo, min(lo + chunk, n))
        scores = x[rows] @ x.T
        scores[torch.arange(len(rows)), rows] = -torch.inf
        out[lo:lo + len(rows), :take] = scores.topk(take, dim=1).indices.numpy()
    return out


def sasrec_item_table(dataset, splits, run_dir: Path | None, cf_run: str, cf_config: dict) -> np.ndarray:
    """The item table of a SASRec: that of the finished run ``cf_run`` when given, else one trained here.

    A SASRec trained here is kept in ``run_dir/sasrec`` so that a resumed GRAM run does not train it again.
    """
    from genrec.config import from_dict
    from genrec.embeddings.collaborative import collaborative_embeddings
    from genrec.models.sasrec import SASRec
    from genrec.training import distributed

    if cf_run:
        return collaborative_embeddings(cf_run, dataset.n_items)
    cf_dir = Path(run_dir) / "sasrec" if run_dir is not None else None
    if cf_dir is not None and (cf_dir / "model" / "model.pt").is_file():
        return SASRec.load(cf_dir / "model", dataset).item_embeddings()
    model = SASRec(from_dict(SASRec.Config, cf_config, "gram.cf_config"), dataset)
    model.fit(dataset, splits, cf_dir)  # data-parallel too when this GRAM run is
    if cf_dir is not None and distributed.is_main():
        model.save(cf_dir / "model")
    return model.item_embeddings()
