"""Encoding with a disk cache: embedding 12k item texts takes minutes, reading them back milliseconds.

The key is the encoder's identity and a hash of the exact texts, so any change of text template,
dataset or model is a new entry, and identical inputs never re-encode.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from genrec.embeddings.encoders import encoder_slug, get_encoder
from genrec.errors import GenrecError
from genrec.io import atomic_write
from genrec.paths import cache_dir

log = logging.getLogger("genrec")


def texts_digest(texts: list[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def cache_path(texts: list[str], slug: str) -> Path:
    return cache_dir() / "embeddings" / slug / f"{texts_digest(texts)}.npy"


def encode(texts: list[str], encoder: str = "minilm", *, cache: bool = True, refresh: bool = False,
           batch_size: int = 64, progress: bool = True) -> np.ndarray:
    """``float32 [len(texts), dim]`` L2-normalised embeddings, from the cache when it has them
    (``refresh`` encodes anyway and replaces the cached copy, e.g. to time the encoder)."""
    if not texts:
        raise GenrecError("no texts to encode")
    path = cache_path(texts, encoder_slug(encoder)) if cache else None
    if path is not None and path.is_file() and not refresh:
        return _read(path, len(texts))
    vectors = get_encoder(encoder).encode(list(texts), batch_size=batch_size, progress=progress)
    if path is not None:
        atomic_write(path, lambda f: np.save(f, vectors))
        log.info("cached %d embeddings in %s", len(vectors), path)
    return vectors


def _read(path: Path, n: int) -> np.ndarray:
    vectors = np.load(path)
    if vectors.ndim != 2 or len(vectors) != n:
        raise GenrecError(f"{path}: cached embeddings have shape {vectors.shape}, expected {n} rows; "
                          "delete the file")
    return vectors
