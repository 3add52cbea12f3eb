"""The tokenizer interface: every semantic-ID method turns item embeddings into codes the same way.

A tokenizer only quantises; text, embeddings, collision handling and the artefact are shared by
``genrec.semantic_ids.build``, so a new method is one class with a ``Config`` and a ``fit``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from genrec.data.ragged import Ragged
from genrec.errors import GenrecError


@dataclass
class TokenizerOutput:
    """What a tokenizer found: codes per item (they may still collide) and its vocabulary."""

    codes: np.ndarray | Ragged  # [n, L] fixed length, or Ragged for variable length
    vocab_sizes: list[int]
    token_names: list[list[str]] | None = None  # per level, code -> word (lexical methods)
    stats: dict = field(default_factory=dict)  # e.g. reconstruction_error, per-level info


class Tokenizer(ABC):
    """Base class of the item tokenizers; subclasses declare ``name`` and a ``Config`` dataclass."""

    name: ClassVar[str]  # "rq-kmeans", "rq-vae", "opq", "pq", "hierarchical"
    Config: ClassVar[type]  # dataclass of hyperparameters, seed included

    def __init__(self, config: Any = None) -> None:
        self.config = config if config is not None else self.Config()

    @abstractmethod
    def fit(self, embeddings: np.ndarray, texts: list[str]) -> TokenizerOutput:
        """Learn the codebooks on ``embeddings`` [n, d] and return the code of every item."""


def check_embeddings(embeddings: np.ndarray, codebook_size: int = 1) -> np.ndarray:
    """The embeddings as a C-contiguous float32 ``[n, d]`` array, or a clear error for input no
    tokenizer can use: not 2-D, empty, NaN/inf, or fewer items than codes in a codebook."""
    x = np.asarray(embeddings)
    if x.ndim != 2:
        raise GenrecError(f"embeddings must be a 2-D [items, dim] array, got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise GenrecError(f"embeddings are empty (shape {x.shape})")
    if not np.issubdtype(x.dtype, np.number):
        raise GenrecError(f"embeddings must be numbers, got dtype {x.dtype}")
    bad = ~np.isfinite(x.sum(axis=1, dtype=np.float64))  # NaN/inf propagate; no [n, d] mask
    if bad.any():
        rows = np.flatnonzero(bad)
        raise GenrecError(f"embeddings of {len(rows)} items are NaN or infinite (first: item {rows[0]})")
    if codebook_size > x.shape[0]:
        raise GenrecError(f"a codebook of {codebook_size} codes needs at least as many items; got "
                          f"{x.shape[0]} (lower codebook_size)")
    return np.ascontiguousarray(x, dtype=np.float32)
