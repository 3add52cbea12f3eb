"""PQ and OPQ long semantic IDs (RPG, ACERec): M sub-codebooks of 256 codes over slices of the vector.

Product quantisation splits the embedding into M sub-vectors and quantises each with its own
k-means, so its digits are order-free (no digit refines another) and IDs can be long (M = 4 to 64+)
while every digit stays cheap to predict in parallel. OPQ first learns a rotation that spreads the
variance evenly over the sub-vectors, lowering the quantisation error: alternate (a) codes and
codebooks for the rotated data, (b) the rotation that best maps the data onto its reconstruction,
an orthogonal Procrustes problem solved by one SVD (Ge et al., 2013, non-parametric OPQ).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genrec.errors import GenrecError
from genrec.semantic_ids.base import Tokenizer, TokenizerOutput, check_embeddings
from genrec.semantic_ids.kmeans import kmeans, nearest


@dataclass
class PQConfig:
    subspaces: int = 32  # M, the ID length
    codebook_size: int = 256
    iters: int = 25  # Lloyd iterations of each sub-codebook's k-means
    init_sample: int = 50_000
    seed: int = 0


@dataclass
class OPQConfig(PQConfig):
    opq_iters: int = 20  # alternations of codes/codebooks and rotation


class PQ(Tokenizer):
    name = "pq"
    Config = PQConfig

    def fit(self, embeddings: np.ndarray, texts: list[str]) -> TokenizerOutput:
        x = self._check(embeddings)
        codebooks, codes = self._quantise(x)
        return self._output(x, codebooks, codes, {})

    def _check(self, embeddings: np.ndarray) -> torch.Tensor:
        cfg = self.config
        x = torch.from_numpy(check_embeddings(embeddings, cfg.codebook_size))
        if cfg.codebook_size < 1:
            raise GenrecError(f"{self.name}: codebook_size must be at least 1, got {cfg.codebook_size}")
        if not 1 <= cfg.subspaces <= x.shape[1]:
            raise GenrecError(f"{self.name}: subspaces must be between 1 and the embedding size "
                              f"{x.shape[1]}, got {cfg.subspaces}")
        return x

    def _slices(self, dim: int) -> list[slice]:
        """M contiguous sub-vectors, sizes differing by at most one when M does not divide the dimension."""
        bounds = np.linspace(0, dim, self.config.subspaces + 1).round().astype(int)
        return [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]

    def _quantise(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """A k-means codebook per sub-vector and the ``[n, M]`` codes."""
        cfg = self.config
        codebooks, codes = [], torch.empty(len(x), cfg.subspaces, dtype=torch.long)
        for m, part in enumerate(self._slices(x.shape[1])):
            centroids, codes[:, m] = kmeans(x[:, part].contiguous(), cfg.codebook_size, cfg.iters,
                                            seed=cfg.seed + m, init_sample=cfg.init_sample)
            codebooks.append(centroids)
        return codebooks, codes

    def _decode(self, codebooks: list[torch.Tensor], codes: torch.Tensor) -> torch.Tensor:
        return torch.cat([book[codes[:, m]] for m, book in enumerate(codebooks)], dim=1)

    def _output(self, x: torch.Tensor, codebooks: list[torch.Tensor], codes: torch.Tensor, stats: dict
                ) -> TokenizerOutput:
        mse = float(((x - self._decode(codebooks, codes)) ** 2).sum(1).mean())
        stats = {**stats, "reconstruction_mse": mse,
                 "reconstruction_error": mse / max(float((x * x).sum(1).mean()), 1e-12)}
        vocab = [self.config.codebook_size] * self.config.subspaces
        return TokenizerOutput(codes.numpy(), vocab, stats=stats)


class OPQ(PQ):
    name = "opq"
    Config = OPQConfig

    def fit(self, embeddings: np.ndarray, texts: list[str]) -> TokenizerOutput:
        x = self._check(embeddings)
        slices = self._slices(x.shape[1])
        codebooks, codes = self._quantise(x)
        pq_mse = float(((x - self._decode(codebooks, codes)) ** 2).sum(1).mean())
        rotated = x
        for _ in range(self.config.opq_iters):
            # Procrustes: R = argmin |xR - recon| over orthogonal R, from the SVD of x^T recon (in float64)
            u, _, vt = torch.linalg.svd((x.T @ self._decode(codebooks, codes)).double())
            rotated = x @ (u @ vt).float()
            codes = self._assign(rotated, codebooks, slices)
            codebooks = self._update(rotated, codebooks, codes, slices)
        codes = self._assign(rotated, codebooks, slices)
        return self._output(rotated, codebooks, codes, {"pq_reconstruction_mse": pq_mse})

    def _assign(self, x: torch.Tensor, codebooks: list[torch.Tensor], slices: list[slice]) -> torch.Tensor:
        """The nearest code of every sub-vector: ``[n, M]``."""
        codes = [nearest(x[:, part].contiguous(), book)[0] for book, part in zip(codebooks, slices)]
        return torch.stack(codes, 1)

    def _update(self, x: torch.Tensor, codebooks: list[torch.Tensor], codes: torch.Tensor, slices: list[slice]
                ) -> list[torch.Tensor]:
        """Move each centroid to the mean of its points (a code with no points keeps its centroid)."""
        updated = []
        for m, (book, part) in enumerate(zip(codebooks, slices)):
            counts = torch.bincount(codes[:, m], minlength=len(book))
            sums = torch.zeros_like(book).index_add_(0, codes[:, m], x[:, part])
            updated.append(torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], book))
        return updated
