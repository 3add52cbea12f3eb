"""Trie-constrained beam search, batched over users x beams, for any model behind ``StepDecoder``.

Each step scores all (beam, next code) pairs of all users in one ``[n, beams, codes]`` table and masks
the pairs the trie does not allow. Pairs that complete an ID (reach a leaf) leave the beam for the
list of found items; the ``beam_size`` best of the others per user become the next beams, each one
``topk``. So, as in Hugging Face's beam search, a complete ID never holds a beam that could still be
extended, which matters for variable-length IDs; for fixed-length ones every ID completes at the last
step and the two views agree. An ID's score is the sum of its codes' log-probabilities divided by
``length ** length_penalty`` (Hugging Face's convention; 0, the default, is the plain sum, and 1 the mean
per code, which does not favour short IDs). Beams are distinct prefixes, so the result is a list of
distinct valid items; with ``beam_size`` at least the number of items it is exactly the top of an
exhaustive scoring.
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
                exclude: Ragged | None = None,
                length_penalty: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` items for each of ``n`` users: ``(items [n, k] int64, scores [n, k] float32)``, best first,
    padded with item -1 / score -inf where fewer valid items exist, on the CPU.

    The search runs on the trie's device, which must be the decoder's (``Trie.to``).

    ``state`` is the decoder's state for one beam per user; ``exclude`` (item lists per user) removes
    items from the result by masking them when a beam would complete them. The search keeps
    ``max(beam_size, k)`` beams, and as many found items, so that ``k`` items can come out.
    """
    width, device = max(beam_size, k), trie.node_item.device
    nodes = torch.full((n, 1), ROOT, dtype=torch.int64, device=device)
    scores = torch.zeros(n, 1, device=device)
    found_items = torch.full((n, 0), -1, dtype=torch.int64, device=device)
    found_scores = torch.zeros(n, 0, device=device)
    banned = _banned_keys(exclude, trie).to(device) if exclude is not None else None
    codes = parents = None
    alive = torch.ones(n, 1, dtype=torch.bool, device=device)
    for length in range(1, trie.max_depth + 1):
        if not alive.any():
            break
        if parents is not None:  # follow the kept beams only when there is another step to take
            state = decoder.reorder(state, parents)
        log_probs, state = decoder.step(codes, state)
        beams, vocab = nodes.shape[1], log_probs.shape[-1]
        extends, completes = _allowed(trie, nodes, alive, vocab, banned)
        total = scores[..., None] + log_probs.float().clamp_min(MIN_LOG_PROB)
        if completes.any():
            done = torch.where(completes, total / length**length_penalty, -torch.inf).view(n, beams * vocab)
            done_scores, index = done.topk(min(width, done.shape[1]), dim=1)
            leaf = trie.child(nodes.gather(1, index // vocab), index % vocab)
            done_items = torch.where(done_scores.isfinite(), trie.node_item[leaf.clamp_min(0)], -1)
            found_scores, order = torch.cat([found_scores, done_scores], 1).topk(
                min(width, found_scores.shape[1] + done_scores.shape[1]), dim=1)
            found_items = torch.cat([found_items, done_items], 1).gather(1, order)
        extend = torch.where(extends, total, -torch.inf).view(n, beams * vocab)
        scores, index = extend.topk(min(width, extend.shape[1]), dim=1)
        parents, codes = index // vocab, index % vocab
        nodes = trie.child(nodes.gather(1, parents), codes)
        alive = scores.isfinite()
        nodes, codes = torch.where(alive, nodes, ROOT), torch.where(alive, codes, -1)
    found_items = torch.where(found_scores.isfinite(), found_items, -1)
    return _pad(found_items[:, :k], -1, k).cpu(), _pad(found_scores[:, :k], -torch.inf, k).cpu()


def _allowed(trie: Trie, nodes: torch.Tensor, active: torch.Tensor, vocab: int,
             banned: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Two disjoint ``[n, beams, vocab]`` bool masks over the trie's edges out of active beams, less those
    ending in banned items: the edges that extend a prefix, and those that complete an ID."""
    n, beams = nodes.shape
    rows = active.reshape(-1).nonzero().squeeze(1)
    edge_rows, edges = trie.edges(nodes.reshape(-1)[rows])
    rows = rows[edge_rows]
    item = trie.node_item[trie.edge_child[edges]]
    if banned is not None:
        key = (rows // beams) * len(trie.node_item) + item
        hit = torch.searchsorted(banned, key).clamp_max(max(len(banned) - 1, 0))
        ok = (item < 0) | (banned[hit] != key) if len(banned) else torch.ones_like(item, dtype=torch.bool)
        rows, edges, item = rows[ok], edges[ok], item[ok]
    code = trie.edge_code[edges]
    extends = torch.zeros(n * beams, vocab, dtype=torch.bool, device=nodes.device)
    extends[rows, code] = item < 0
    completes = torch.zeros(n * beams, vocab, dtype=torch.bool, device=nodes.device)
    completes[rows, code] = item >= 0
    return extends.view(n, beams, vocab), completes.view(n, beams, vocab)


def _banned_keys(exclude: Ragged, trie: Trie) -> torch.Tensor:
    """Sorted ``user * n_nodes + item`` keys (n_nodes exceeds every item id), for one searchsorted."""
    users = torch.repeat_interleave(torch.arange(len(exclude)), torch.from_numpy(exclude.lengths))
    return torch.unique(users * len(trie.node_item) + torch.from_numpy(exclude.values))


def _pad(x: torch.Tensor, value: float, k: int) -> torch.Tensor:
    return torch.nn.functional.pad(x, (0, k - x.shape[1]), value=value) if x.shape[1] < k else x
