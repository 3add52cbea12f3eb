"""Decoding semantic IDs: the trie of valid IDs, batched constrained beam search, exhaustive scoring."""

from genrec.decoding.beam_search import StepDecoder, beam_search
from genrec.decoding.exhaustive import exhaustive_scores
from genrec.decoding.levels import LevelTokens
from genrec.decoding.t5 import T5StepDecoder
from genrec.decoding.trie import Trie

__all__ = ["LevelTokens", "StepDecoder", "T5StepDecoder", "Trie", "beam_search", "exhaustive_scores"]
