"""Exhaustive scoring: the log-probability of every valid ID, by feeding all IDs at once as beams.

It is the reference beam search must reproduce (with as many beams as items), and an exact ranking
of the whole catalogue where the catalogue is small enough for ``users x items`` decoder rows.
"""

from __future__ import annotations

from typing import Any

import torch

from genrec.decoding.beam_search import StepDecoder
from genrec.semantic_ids.codes import SemanticIds


@torch.no_grad()
def exhaustive_scores(decoder: StepDecoder, state: Any, ids: SemanticIds, n: int,
                      length_penalty: float = 0.0) -> torch.Tensor:
    """``[n, n_items]``: for each user, the sum of the log-probabilities of each item's codes, divided by
    the ID's length to the power ``length_penalty`` (as beam search scores)."""
    depth = int(ids.codes.lengths.max())
    codes = torch.from_numpy(ids.codes.to_padded(depth, pad=-1, align="left"))  # [items, depth]
    total = torch.zeros(n, ids.n_items)
    fed = None
    for level in range(depth):
        log_probs, state = decoder.step(fed, state)
        if level == 0:  # one beam per user so far: branch into one beam per item
            log_probs = log_probs.expand(n, ids.n_items, -1)
            state = decoder.reorder(state, torch.zeros(n, ids.n_items, dtype=torch.int64))
        code = codes[:, level]
        picked = log_probs.float().gather(2, code.clamp_min(0).expand(n, -1)[..., None]).squeeze(2)
        total += torch.where(code >= 0, picked, 0.0)
        fed = code.expand(n, -1)
    return total / torch.from_numpy(ids.codes.lengths).float() ** length_penalty
