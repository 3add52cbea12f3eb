"""Decoding semantic IDs: the prefix trie of valid IDs, batched constrained beam search, exhaustive scoring."""

from genrec.decoding.beam_search import StepDecoder, beam_search
from genrec.decoding.exhaustive import exhaustive_scores
from genrec.decoding.trie import Trie

__all__ = ["StepDecoder", "Trie", "beam_search", "exhaustive_scores"]
