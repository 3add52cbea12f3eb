"""Trie-constrained beam search, batched over users x beams, for any model behind ``StepDecoder``.

Each step scores all (beam, next code) pairs of all users in one ``[n, beams, codes]`` table, masks
the pairs the trie does not allow, and keeps the ``beam_size`` best per user with one ``topk``. A
beam that reached a leaf (a complete, variable-length ID) competes as it is with the extensions of
the others, so finished IDs are kept, never re-extended, and no length penalty applies: an ID's
score is the plain sum of its codes' log-probabilities. Beams are distinct prefixes, so the result
is a list of distinct valid items; with ``beam_size`` at least the number of items it is exactly the
top of an exhaustive scoring.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from genrec.data.ragged import Ragged
from genrec.decoding.trie import ROOT, Trie

MIN_LOG_PROB = -1e9  # finite floor, so that a valid pair never ties with a masked (-inf) one


class StepDecoder(Protocol):
    """What beam search needs from a model: one decoding step and a way to follow the kept beams."""

    def step(self, codes: torch.Tensor | None, state: Any) -> tuple[torch.Tensor, Any]:
        """Feed the code each beam chose at the previous level (``[n, beams]``; -1 where the beam is
        already complete; None at the first step) and return log-probabilities ``[n, beams, V]`` over the
        next level's codes (``V`` at least that level's vocabulary) with the updated state."""

    def reorder(self, state: Any, parents: torch.Tensor) -> Any:
        """The state of the beams ``parents`` (``[n, beams']``, indices into the current beams)."""


@torch.no_grad()
def beam_search(decoder: StepDecoder, state: Any, trie: Trie, n: int, beam_size: int, k: int,
                exclude: Ragged | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` items for each of ``n`` users: ``(items [n, k] int64, scores [n, k] float32)``, best first,
    padded with item -1 / score -inf where fewer valid items exist.

    ``state`` is the decoder's state for one beam per user; ``exclude`` (item lists per user) removes
    items from the result by masking them when a beam would complete them. The search keeps
    ``max(beam_size, k)`` beams so that ``k`` items can come out.
    """
    width = max(beam_size, k)
    nodes = torch.full((n, 1), ROOT, dtype=torch.int64)
    scores = torch.zeros(n, 1)
    codes = None
    banned = _banned_keys(exclude, trie) if exclude is not None else None
    parents = None
    for _ in range(trie.max_depth):
        active = scores.isfinite() & ~trie.is_leaf(nodes)
        if not active.any():
            break
        if parents is not None:  # follow the kept beams only when there is another step to take
            state = decoder.reorder(state, parents)
        log_probs, state = decoder.step(codes, state)
        beams, vocab = nodes.shape[1], log_probs.shape[-1]
        allowed = _allowed(trie, nodes, active, vocab, banned)
        log_probs = log_probs.float().clamp_min(MIN_LOG_PROB)
        expand = torch.where(allowed, scores[..., None] + log_probs, -torch.inf)
        keep = torch.where(active | ~scores.isfinite(), -torch.inf, scores)  # complete beams stay as they are
        candidates = torch.cat([expand.view(n, beams * vocab), keep], dim=1)
        scores, index = candidates.topk(min(width, candidates.shape[1]), dim=1)
        expanded = index < beams * vocab
        parents = torch.where(expanded, index // vocab, index - beams * vocab)
        codes = torch.where(expanded, index % vocab, -1)
        previous = nodes.gather(1, parents)
        nodes = torch.where(expanded, trie.child(previous, codes), previous)
        alive = scores.isfinite()
        nodes, codes = torch.where(alive, nodes, ROOT), torch.where(alive, codes, -1)
    items = torch.where(scores.isfinite(), trie.node_item[nodes], -1)
    return _pad(items[:, :k], -1, k), _pad(scores[:, :k], -torch.inf, k)


def _allowed(trie: Trie, nodes: torch.Tensor, active: torch.Tensor, vocab: int,
             banned: torch.Tensor | None) -> torch.Tensor:
    """``[n, beams, vocab]`` bool: the trie's edges out of active beams, less those ending in banned items."""
    n, beams = nodes.shape
    rows = active.reshape(-1).nonzero().squeeze(1)
    edge_rows, edges = trie.edges(nodes.reshape(-1)[rows])
    rows = rows[edge_rows]
    if banned is not None:
        item = trie.node_item[trie.edge_child[edges]]
        key = (rows // beams) * len(trie.node_item) + item
        hit = torch.searchsorted(banned, key).clamp_max(max(len(banned) - 1, 0))
        ok = (item < 0) | (banned[hit] != key) if len(banned) else torch.ones_like(item, dtype=torch.bool)
        rows, edges = rows[ok], edges[ok]
    mask = torch.zeros(n * beams, vocab, dtype=torch.bool)
    mask[rows, trie.edge_code[edges]] = True
    return mask.view(n, beams, vocab)


def _banned_keys(exclude: Ragged, trie: Trie) -> torch.Tensor:
    """Sorted ``user * n_nodes + item`` keys (n_nodes exceeds every item id), for one searchsorted."""
    users = torch.repeat_interleave(torch.arange(len(exclude)), torch.from_numpy(exclude.lengths))
    return torch.unique(users * len(trie.node_item) + torch.from_numpy(exclude.values))


def _pad(x: torch.Tensor, value: float, k: int) -> torch.Tensor:
    return torch.nn.functional.pad(x, (0, k - x.shape[1]), value=value) if x.shape[1] < k else x
