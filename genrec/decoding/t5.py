"""A ``StepDecoder`` over Hugging Face's T5: one decoder step for all users x beams, from cached tensors.

``generate()`` copies every user's encoder output once per beam and keeps a cross-attention cache per
beam. Here the encoder runs once per user and its cross-attention keys/values stay per user: a
step's queries of all beams of a user attend to them in one batched matmul (``[n, heads, beams, S]``),
so beams cost nothing in the cross-attention. Only the short self-attention cache (one key/value per
generated code) is per beam, and ``reorder`` gathers it by parent. The arithmetic is T5's own
(RMS layer norms, unscaled attention with relative position bias, ReLU feed-forward, tied output
scaling), read from the model's modules, so the log-probabilities equal a full forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genrec.decoding.levels import LevelTokens


@dataclass
class T5State:
    cross: list[tuple[torch.Tensor, torch.Tensor]]  # per layer: encoder keys/values [n, heads, S, d_kv]
    cross_bias: torch.Tensor  # [n, 1, 1, S]: 0 for real encoder tokens, a large negative for padding
    start_kv: torch.Tensor | None  # [n, layers, 2, heads, d_kv]: the start token's, shared by a user's beams
    # [depth - 1, n * beams, layers, 2, heads, d_kv]: each beam's codes' keys/values, filled up to
    # ``level - 1`` (preallocated: a step writes in place, a reorder is one gather per level)
    beam_kv: torch.Tensor | None
    beams: int
    level: int  # decoder tokens fed so far (the start token, then one code per level)


class T5StepDecoder:
    """Constrained-decoding steps of a ``T5ForConditionalGeneration`` whose vocabulary holds, for each
    level ``l``, the codes ``offsets[l] .. offsets[l] + vocab_sizes[l] - 1``; ``start_token`` begins the
    decoder input (T5's pad) and is fed for beams that are already complete."""

    def __init__(self, model: nn.Module, offsets: list[int], vocab_sizes: list[int],
                 start_token: int = 0) -> None:
        self.model = model
        self.device = model.device
        self.levels = LevelTokens(offsets, vocab_sizes, self.device)
        self.start_token = start_token
        self.blocks = model.decoder.block
        self.heads, self.d_kv = model.config.num_heads, model.config.d_kv
        self.scale = model.config.d_model**-0.5 if model.config.scale_decoder_outputs else 1.0
        # one matmul for the self-attention's queries, keys and values
        self.qkv = [torch.cat([a.q.weight, a.k.weight, a.v.weight]) for a in
                    (block.layer[0].SelfAttention for block in self.blocks)]

    @torch.no_grad()
    def start(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> T5State:
        """Encode every user once and project the encoder output to each layer's cross keys/values."""
        hidden = self.model.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        n, length = hidden.shape[:2]
        cross = []
        for block in self.blocks:
            attention = block.layer[1].EncDecAttention
            k, v = (proj(hidden).view(n, length, self.heads, self.d_kv).transpose(1, 2)
                    for proj in (attention.k, attention.v))
            cross.append((k.transpose(2, 3).contiguous(), v.contiguous()))  # keys as [n, heads, d_kv, S]
        bias = torch.where(attention_mask.bool(), 0.0, torch.finfo(hidden.dtype).min)[:, None, None, :]
        return T5State(cross, bias.to(hidden.dtype), None, None, beams=1, level=0)

    @torch.no_grad()
    def step(self, codes: torch.Tensor | None, state: T5State) -> tuple[torch.Tensor, T5State]:
        n, beams, t = state.cross_bias.shape[0], state.beams, state.level
        rows, heads, d_kv = n * beams, self.heads, self.d_kv
        if codes is None:
            tokens = torch.full((n, beams), self.start_token, dtype=torch.int64, device=self.device)
        else:
            tokens = self.levels.token(codes, t - 1, self.start_token)
        x = self.model.decoder.embed_tokens(tokens).view(rows, -1)
        position_bias = self.blocks[0].layer[0].SelfAttention.compute_bias(1, t + 1, past_seen_tokens=t)
        position_bias = position_bias[0, :, 0]  # [heads, t + 1]
        if t == 0:  # one beam per user: the start token's keys/values are the user's
            start_kv, beam_kv = x.new_empty((n, len(self.blocks), 2, heads, d_kv)), None
        else:
            start_kv = state.start_kv
            beam_kv = state.beam_kv if t > 1 else x.new_empty((len(self.levels.offsets) - 1, rows,
                                                               *start_kv.shape[1:]))
        for i, block in enumerate(self.blocks):
            # self-attention over the start token (per user), the beam's earlier codes and this one
            q, k, v = F.linear(block.layer[0].layer_norm(x), self.qkv[i]).view(rows, 3, heads, d_kv).unbind(1)
            if t == 0:
                start_kv[:, i, 0], start_kv[:, i, 1] = k, v
                out = v  # attention over a single token
            else:
                beam_kv[t - 1, :, i, 0], beam_kv[t - 1, :, i, 1] = k, v
                first = start_kv[:, i].unsqueeze(1)  # [n, 1, 2, heads, d_kv]
                own = beam_kv[:t, :, i]  # [t, rows, 2, heads, d_kv]
                to_first = (q.view(n, beams, heads, d_kv) * first[:, :, 0]).sum(-1).view(rows, heads, 1)
                to_own = (q * own[:, :, 0]).sum(-1).permute(1, 2, 0)
                scores = torch.cat([to_first, to_own], -1)  # [rows, heads, t + 1]
                weights = torch.softmax(scores + position_bias, -1)
                out = (weights[..., 0].view(n, beams, heads, 1) * first[:, :, 1]).view(rows, heads, d_kv)
                out = out + (weights[..., 1:].permute(2, 0, 1)[..., None] * own[:, :, 1]).sum(0)
            x = x + block.layer[0].SelfAttention.o(out.reshape(rows, -1))
            # cross-attention: all beams of a user are that user's queries, [n, heads, beams, d_kv]
            cross = block.layer[1].EncDecAttention
            q = cross.q(block.layer[1].layer_norm(x)).view(n, beams, heads, d_kv).transpose(1, 2)
            keys, values = state.cross[i]
            weights = torch.softmax(q @ keys + state.cross_bias, -1)
            x = x + cross.o((weights @ values).transpose(1, 2).reshape(rows, -1))
            x = block.layer[2](x)
        x = self.model.decoder.final_layer_norm(x) * self.scale
        log_probs = self.levels.log_probs(self.model.lm_head(x).view(n, beams, -1), t)
        return log_probs, T5State(state.cross, state.cross_bias, start_kv, beam_kv, beams, t + 1)

    def reorder(self, state: T5State, parents: torch.Tensor) -> T5State:
        n, beams = parents.shape
        rows = (parents + torch.arange(n, device=parents.device)[:, None] * state.beams).reshape(-1)
        beam_kv = None
        if state.beam_kv is not None:
            beam_kv = state.beam_kv.new_empty((state.beam_kv.shape[0], len(rows), *state.beam_kv.shape[2:]))
            for level in range(state.level - 1):  # a few levels, each one batched gather over all beams
                torch.index_select(state.beam_kv[level], 0, rows, out=beam_kv[level])
        return T5State(state.cross, state.cross_bias, state.start_kv, beam_kv, beams, state.level)
