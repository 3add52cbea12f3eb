"""RQ-KMeans: residual k-means, the tokenizer of OneRec and many TIGER re-implementations.

Level 0 clusters the embeddings, level 1 clusters what level 0 left unexplained (the residuals),
and so on; an item's ID is its cluster at each level, coarse to fine. Unlike RQ-VAE it has no
training loop and no codebook collapse: k-means re-seeds empty clusters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genrec.errors import GenrecError
from genrec.semantic_ids.base import Tokenizer, TokenizerOutput, check_embeddings
from genrec.semantic_ids.kmeans import kmeans

_CHUNK = 65536


@dataclass
class RQKMeansConfig:
    levels: int = 3
    codebook_size: int = 256
    iters: int = 25  # Lloyd iterations per level (stops earlier when converged)
    init_sample: int = 50_000  # points used for k-means++ seeding
    seed: int = 0


class RQKMeans(Tokenizer):
    name = "rq-kmeans"
    Config = RQKMeansConfig

    def fit(self, embeddings: np.ndarray, texts: list[str]) -> TokenizerOutput:
        cfg = self.config
        if cfg.levels < 1 or cfg.codebook_size < 1:
            raise GenrecError(f"rq-kmeans: levels and codebook_size must be at least 1, got {cfg.levels} and "
                              f"{cfg.codebook_size}")
        x = torch.from_numpy(check_embeddings(embeddings, cfg.codebook_size))
        residual = x.clone()
        codes = torch.empty(len(x), cfg.levels, dtype=torch.long)
        per_level = []
        for level in range(cfg.levels):
            centroids, assign = kmeans(residual, cfg.codebook_size, cfg.iters, seed=cfg.seed + level,
                                       init_sample=cfg.init_sample)
            codes[:, level] = assign
            for lo in range(0, len(x), _CHUNK):  # chunked: centroids[assign] whole would copy x once more
                residual[lo : lo + _CHUNK] -= centroids[assign[lo : lo + _CHUNK]]
            per_level.append(_mean_square_norm(residual))
        total = _mean_square_norm(x)
        stats = {"reconstruction_mse": per_level[-1], "residual_mse_per_level": per_level,
                 "reconstruction_error": per_level[-1] / max(total, 1e-12)}
        return TokenizerOutput(codes.numpy(), [cfg.codebook_size] * cfg.levels, stats=stats)


def _mean_square_norm(x: torch.Tensor) -> float:
    """Mean of ``|x_i|^2`` without an ``[n, d]`` temporary (a million 384-d rows are 1.5 GiB)."""
    return float(torch.linalg.vector_norm(x, dim=1).square().mean())
