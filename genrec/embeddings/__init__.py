"""Item embeddings: text encoders with a disk cache, collaborative tables, and their fusion."""

from genrec.embeddings.cache import encode
from genrec.embeddings.collaborative import collaborative_embeddings, fuse
from genrec.embeddings.encoders import Encoder, get_encoder
from genrec.embeddings.items import embed_items

__all__ = ["Encoder", "collaborative_embeddings", "embed_items", "encode", "fuse", "get_encoder"]
