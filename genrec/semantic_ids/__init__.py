"""Item tokenizers: turn item embeddings into short discrete IDs (semantic IDs)."""

from __future__ import annotations

from genrec.registry import lookup
from genrec.semantic_ids.base import Tokenizer, TokenizerOutput
from genrec.semantic_ids.codes import SemanticIds

# name -> "module:Class"; imported on demand so that a method's dependencies load only when used
TOKENIZERS: dict[str, str] = {
    "rq-kmeans": "genrec.semantic_ids.rq_kmeans:RQKMeans",
    "rq-vae": "genrec.semantic_ids.rq_vae:RQVAE",
    "pq": "genrec.semantic_ids.pq:PQ",
    "opq": "genrec.semantic_ids.pq:OPQ",
    "hierarchical": "genrec.semantic_ids.hierarchical:HierarchicalKMeans",
}


def get_tokenizer(name: str) -> type[Tokenizer]:
    """The tokenizer class registered under ``name``."""
    return lookup(TOKENIZERS, name, "tokenizer")


__all__ = ["TOKENIZERS", "SemanticIds", "Tokenizer", "TokenizerOutput", "get_tokenizer"]
