"""Where each level's codes sit in a token vocabulary, and the per-level view of a model's output.

Sequence models give every level's codes their own tokens (``offsets[l] + code``) and predict over
the whole vocabulary; beam search wants, per level, a ``[..., width]`` table indexed by code.
"""

from __future__ import annotations

import torch


class LevelTokens:
    def __init__(self, offsets: list[int], vocab_sizes: list[int],
                 device: torch.device | None = None) -> None:
        self.offsets = list(offsets)
        width = max(vocab_sizes)  # a shorter level is padded with one of its own tokens, masked below
        codes = torch.arange(width, device=device)
        self.tokens = torch.stack([codes.clamp_max(v - 1) + o for o, v in zip(offsets, vocab_sizes)])
        self.valid = torch.stack([codes < v for v in vocab_sizes])

    def token(self, codes: torch.Tensor, level: int, fill: int) -> torch.Tensor:
        """The tokens of ``codes`` at ``level``; ``fill`` where a code is -1 (a complete beam)."""
        return torch.where(codes >= 0, codes + self.offsets[level], fill)

    def log_probs(self, logits: torch.Tensor, level: int) -> torch.Tensor:
        """``[..., width]`` log-probabilities (normalised over the whole vocabulary) of ``level``'s codes,
        -inf past the level's vocabulary."""
        log_probs = torch.log_softmax(logits.float(), -1)[..., self.tokens[level]]
        return torch.where(self.valid[level], log_probs, -torch.inf)
