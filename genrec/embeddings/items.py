"""Item embeddings from one encoder spec, so a single flag picks text, collaborative or fused vectors.

Spec: parts joined by ``+``, each ``SOURCE`` or ``SOURCE*WEIGHT``; a source is a text encoder
(``minilm``, a model folder, a sentence-transformers name) or ``cf:RUN_DIR`` for the item table of
a trained SASRec run. ``minilm`` alone gives text embeddings; ``minilm+cf:runs/sasrec*0.5`` fuses.
"""

from __future__ import annotations

import numpy as np

from genrec.embeddings.cache import encode
from genrec.embeddings.collaborative import collaborative_embeddings, fuse
from genrec.errors import GenrecError

COLLABORATIVE = "cf:"


def parse_spec(spec: str) -> list[tuple[str, float]]:
    """``"minilm+cf:run*0.5"`` -> ``[("minilm", 1.0), ("cf:run", 0.5)]``."""
    parts = []
    for part in spec.split("+"):
        source, _, weight = part.strip().partition("*")
        if not source:
            raise GenrecError(f"encoder {spec!r}: empty part")
        try:
            parts.append((source, float(weight) if weight else 1.0))
        except ValueError:
            raise GenrecError(f"encoder {spec!r}: weight {weight!r} of {source!r} is not a number") from None
    return parts


def embed_items(texts: list[str], spec: str = "minilm", *, cache: bool = True,
                progress: bool = True) -> np.ndarray:
    """``float32 [n_items, d]`` for the items whose texts are given (one per item, in item order)."""
    parts = parse_spec(spec)
    blocks = [collaborative_embeddings(source[len(COLLABORATIVE):], n_items=len(texts))
              if source.startswith(COLLABORATIVE) else encode(texts, source, cache=cache, progress=progress)
              for source, _ in parts]
    if len(parts) == 1 and parts[0][1] == 1.0:
        return blocks[0]
    return fuse(blocks, [w for _, w in parts])
