"""Collisions: items whose codes coincide (identical texts, near-duplicates) get one extra digit.

As in TIGER, a final level numbers the items that share a code tuple 0, 1, 2, ...; the items
without a twin get 0 there too (fixed-length IDs) or keep their ID (variable length). The level is
added only when some IDs collide, with as many codes as the largest group needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genrec.data.ragged import Ragged
from genrec.errors import GenrecError


@dataclass
class Disambiguated:
    codes: np.ndarray | Ragged  # unique IDs
    vocab_sizes: list[int]
    collision_rate: float  # fraction of items that shared their ID with an earlier item, before this step
    colliding_items: int  # items in a group of two or more
    max_group: int  # the most items that shared one ID
    added_level: bool


def _group_ranks(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row: its position among identical rows (0 for the first) and the size of its group."""
    _, inverse, counts = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(rows), dtype=np.int64)
    rank[order] = np.arange(len(rows)) - np.repeat(starts, counts)
    return rank, counts[inverse]


def disambiguate(codes: np.ndarray | Ragged, vocab_sizes: list[int]) -> Disambiguated:
    """Make IDs unique by appending a level where needed; report how many collided before."""
    ragged = isinstance(codes, Ragged)
    if ragged:
        max_len = int(codes.lengths.max()) if len(codes) else 0
        rows = codes.to_padded(max_len, pad=-1, align="left")
    else:
        rows = np.asarray(codes)
    if len(rows) == 0:
        raise GenrecError("no items to make IDs for")
    rank, group = _group_ranks(rows)
    stats = dict(collision_rate=float((rank > 0).mean()), colliding_items=int((group > 1).sum()),
                 max_group=int(group.max()))
    if stats["max_group"] == 1:
        return Disambiguated(codes, list(vocab_sizes), added_level=False, **stats)
    if not ragged:
        vocab = list(vocab_sizes) + [stats["max_group"]]
        return Disambiguated(np.concatenate([rows, rank[:, None]], axis=1), vocab, added_level=True, **stats)
    return Disambiguated(*_extend_ragged(codes, vocab_sizes, rank, group), added_level=True, **stats)


def _extend_ragged(codes: Ragged, vocab_sizes: list[int], rank: np.ndarray, group: np.ndarray
                   ) -> tuple[Ragged, list[int]]:
    """Variable-length IDs: colliding items get their rank appended at the position after their ID."""
    extend = group > 1
    lengths = codes.lengths + extend
    values = np.empty(int(lengths.sum()), dtype=codes.values.dtype)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    keep = np.ones(len(values), dtype=bool)
    keep[offsets[1:][extend] - 1] = False
    values[keep] = codes.values
    values[~keep] = rank[extend]
    vocab = list(vocab_sizes)
    for position in np.unique(codes.lengths[extend]):  # the level each appended code lands on
        needed = int(rank[extend & (codes.lengths == position)].max()) + 1
        if position < len(vocab):
            vocab[position] = max(vocab[position], needed)
        else:
            vocab.extend([1] * (position - len(vocab)) + [needed])
    out = Ragged(values, offsets)
    ids = out.to_padded(int(lengths.max()), pad=-1, align="left")
    if len(np.unique(ids, axis=0)) != len(ids):
        raise GenrecError("appending a disambiguation code made a variable-length ID equal to another item's "
                          "ID; the tokenizer must not give an item an ID that extends another's")
    return out, vocab
