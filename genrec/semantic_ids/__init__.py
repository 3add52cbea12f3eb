"""Item tokenizers: turn item embeddings into short discrete IDs (semantic IDs)."""

from genrec.semantic_ids.codes import SemanticIds

__all__ = ["SemanticIds"]
