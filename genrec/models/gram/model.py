"""GRAM's network: a shared prompt encoder, late fusion of all encoded prompts, an ID decoder.

Each prompt (the user prompt, every item prompt) is encoded on its own by one shared encoder, so the
cost grows linearly with the number of history items rather than quadratically with the total
length. Item prompts get a learned embedding of their history position (0 is the user prompt), added
to their encoded states as in the authors' Fusion-in-Decoder wrapper (kept apart from the states, see
``Memory``, so that cached item states need no gradient). The decoder cross-attends to all encoded
prompts at once and predicts the target's lexical ID word by word.

The decoder is a small pre-LN transformer of our own rather than the backbone's: in beam search the
beams of one user share that user's encoded prompts, so cross-attention runs with the beams folded
into the query axis (``[users, beams x steps]`` queries against ``[users, memory]`` tokens). A few
ID steps read a memory of ~1,500 prompt tokens, so cross-attention never projects the memory into
keys and values: the projections are folded into the queries and the output instead (see
``DecoderLayer.cross_attend``). Its word embeddings are the backbone's (tied in and out), so ID words
mean the same to encoder and decoder.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genrec.errors import GenrecError
from genrec.semantic_ids.codes import SemanticIds


@dataclass
class PromptBatch:
    """The encoder's input for ``n`` users; absent parts are None (ablations, cached items)."""

    user_tokens: torch.Tensor | None  # [n, Lu] token ids of the user prompts
    user_mask: torch.Tensor | None  # [n, Lu] bool
    item_slots: torch.Tensor | None  # [n, N] row in ``items`` of each history position, newest first; -1 none
    items: torch.Tensor | None  # [U] distinct item ids of the batch, each encoded once
    item_tokens: torch.Tensor | None  # [U, Li] their prompt tokens (None when encodings are cached)
    item_mask: torch.Tensor | None  # [U, Li] bool

    def to(self, device: torch.device) -> PromptBatch:
        return PromptBatch(*(None if t is None else t.to(device) for t in dataclasses.astuple(self)))


@dataclass
class ItemCache:
    """Every item prompt encoded once by a frozen item encoder (the CPU fast path)."""

    states: torch.Tensor  # [n_items, Li, d_items], half precision to halve memory
    mask: torch.Tensor  # [n_items, Li] bool


@dataclass
class Memory:
    """What the decoder cross-attends to: each user's encoded prompts, in segments (the user prompt, the
    item prompts), with the history-position embeddings kept apart rather than added to every token.

    A cached item segment is frozen, so with positions kept apart no gradient of its ~1,500 tokens a
    user is ever formed: only the position table and the trained segments get gradients. Attending to
    ``states[i] + positions[slots[i]]`` is computed from the two parts (``DecoderLayer.cross_attend``).
    """

    states: list[torch.Tensor]  # [n, S_i, d] per segment
    masks: list[torch.Tensor]  # [n, S_i] bool
    slots: list[torch.Tensor]  # [n, S_i] row of ``positions`` of each token (0 the user prompt)
    positions: torch.Tensor | None  # [max_items + 1, d], or None without position embeddings

    @property
    def users(self) -> int:
        return self.masks[0].shape[0]

    def dense(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(states [n, S, d], mask [n, S])`` with positions added: the same memory in one tensor."""
        states = [h if self.positions is None else h + self.positions[slot]
                  for h, slot in zip(self.states, self.slots)]
        return torch.cat(states, dim=1), torch.cat(self.masks, dim=1)


class Backbone(nn.Module):
    """A text encoder behind one interface: token ids and mask in, token states out."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.dim = self.embeddings.embedding_dim

    @property
    def embeddings(self) -> nn.Embedding:
        """The word embeddings, shared with the decoder (read through the encoder, which owns them)."""
        return self.encoder.get_input_embeddings()

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_ids=tokens, attention_mask=mask.long()).last_hidden_state


def t5_backbone(vocab_size: int, dim: int, layers: int, heads: int, ff: int, dropout: float,
                checkpoint: str = "") -> Backbone:
    """A T5 encoder, from scratch (``checkpoint=""``) or from any Hugging Face T5 checkpoint."""
    from transformers import T5Config, T5EncoderModel

    if checkpoint:
        try:
            encoder = T5EncoderModel.from_pretrained(checkpoint)
        except (OSError, ValueError) as e:
            raise GenrecError(f"cannot load the T5 checkpoint {checkpoint!r} ({e})") from None
        encoder.resize_token_embeddings(vocab_size)
    else:
        if dim % heads:
            raise GenrecError(f"gram.d_model {dim} is not divisible by gram.heads {heads}")
        config = T5Config(vocab_size=vocab_size, d_model=dim, d_kv=dim // heads, d_ff=ff, num_layers=layers,
                          num_heads=heads, dropout_rate=dropout, feed_forward_proj="relu")
        encoder = T5EncoderModel(config)
    return Backbone(encoder)


def bert_backbone(path: str, vocab_size: int | None = None) -> Backbone:
    """A BERT-style encoder from a local folder (the offline all-MiniLM-L6-v2), its vocabulary resized to
    ``vocab_size`` (None: kept, for an encoder that reads text with its own tokenizer)."""
    from transformers import BertModel

    try:
        encoder = BertModel.from_pretrained(path, add_pooling_layer=False)
    except (OSError, ValueError) as e:
        raise GenrecError(f"cannot load the encoder at {path!r} ({e})") from None
    if vocab_size is not None:
        encoder.resize_token_embeddings(vocab_size)
    return Backbone(encoder)


class WordReader(nn.Module):
    """Item prompts read by word embeddings alone, plus a learned embedding of each token's place in its
    prompt: no encoder layers, trained with the model (``item_encoder="words"``).

    The word vectors are the backbone's, the ones the decoder scores ID words with, so a neighbour's ID
    word in an item prompt is the very vector of the output word it names. Behind a frozen random
    encoder, a from-scratch decoder must instead learn to map fixed random features of ~7,000 ID words
    onto trained output vectors; here it reads the prompts for the price of a look-up.
    """

    def __init__(self, embeddings: nn.Embedding, max_len: int) -> None:
        super().__init__()
        self.words = embeddings  # shared with the backbone (one parameter, two names in the state dict)
        self.dim = embeddings.embedding_dim
        self.places = nn.Embedding(max_len, self.dim)
        nn.init.normal_(self.places.weight, std=0.02)

    def forward(self, tokens: torch.Tensor, places: torch.Tensor) -> torch.Tensor:
        """States of tokens ``[..., L]`` standing at ``places`` (their indices in their prompts)."""
        return self.words(tokens) + self.places(places)


class DecoderLayer(nn.Module):
    """Pre-LN: causal self-attention over the ID prefix, cross-attention to all prompts, feed-forward."""

    def __init__(self, dim: int, heads: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(3))
        self.self_qkv, self.self_out = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.cross_q, self.cross_out = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.cross_kv = nn.Linear(dim, 2 * dim)
        self.ff = nn.Sequential(nn.Linear(dim, ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff, dim))
        self.drop = nn.Dropout(dropout)

    def _split(self, x: torch.Tensor) -> torch.Tensor:  # [..., L, d] -> [..., H, L, d/H]
        return x.unflatten(-1, (self.heads, -1)).transpose(-3, -2)

    def cross_attend(self, x: torch.Tensor, memory: Memory) -> torch.Tensor:
        """Multi-head attention of queries ``x [n, Q, d]`` over ``memory`` (padding masked).

        The same function as attending to ``cross_kv(dense memory)``, computed in another order: a
        score ``q . (W_k m)`` is ``(W_k^T q) . m`` and an output ``sum a (W_v m + b_v)`` is
        ``W_v (sum a m) + b_v`` (weights sum to one; the key bias adds a constant to a query's scores,
        which softmax ignores). That costs O(heads * Q * S * d) instead of O(S * d^2) for the memory's
        keys and values, with no head transposes of the long memory: Q is 4 ID steps in training and the
        beams in decoding, against ~1,500 memory tokens. Position embeddings enter through the table:
        ``a . (m + p[slot])`` is ``a . m`` plus a look-up of ``a . p``, and ``sum a p[slot]`` is the
        weights summed per slot times ``p``, so a frozen segment never needs a gradient.
        """
        n, queries, dim = x.shape
        heads = self.heads
        w_k, w_v = self.cross_kv.weight.view(2, heads, dim // heads, dim).unbind(0)
        q = self.cross_q(x).view(n, queries, heads, -1)
        folded = torch.einsum("nqhe,hed->nhqd", q, w_k).flatten(1, 2) * (dim // heads) ** -0.5  # [n, HQ, d]
        table = memory.positions
        by_slot = None if table is None else folded @ table.T  # [n, HQ, slots]
        scores = []
        for states, mask, slot in zip(memory.states, memory.masks, memory.slots):
            score = folded @ states.transpose(1, 2)
            if by_slot is not None:
                score = score + by_slot.gather(2, slot[:, None, :].expand(-1, score.shape[1], -1))
            scores.append(score.masked_fill(~mask[:, None, :], -torch.inf))
        weights = F.dropout(torch.cat(scores, dim=2).softmax(-1), self.dropout, self.training)
        parts = weights.split([h.shape[1] for h in memory.states], dim=2)
        context = sum(w @ states for w, states in zip(parts, memory.states))
        if table is not None:
            per_slot = weights.new_zeros(by_slot.shape)  # each query's weights summed per history slot
            for w, slot in zip(parts, memory.slots):
                per_slot.scatter_add_(2, slot[:, None, :].expand_as(w), w)
            context = context + per_slot @ table
        out = torch.einsum("nhqd,hed->nqhe", context.view(n, heads, queries, dim), w_v).flatten(2)
        return out + self.cross_kv.bias[dim:]

    def forward(self, x: torch.Tensor, memory: Memory,
                past: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, tuple]:
        """``x [n, beams, T, d]``; ``memory`` the encoded prompts; ``past`` holds the self-attention
        keys/values of earlier steps."""
        n, beams, steps, dim = x.shape
        p = self.dropout if self.training else 0.0
        q, k, v = self._split(self.self_qkv(self.norms[0](x)).flatten(0, 1)).chunk(3, dim=-1)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        h = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=past is None and steps > 1)
        x = x + self.drop(self.self_out(h.transpose(1, 2).flatten(2))).view(n, beams, steps, dim)
        h = self.cross_attend(self.norms[1](x).view(n, beams * steps, dim), memory)
        x = x + self.drop(self.cross_out(h)).view(n, beams, steps, dim)
        x = x + self.drop(self.ff(self.norms[2](x)))
        return x, (k, v)


class GramNet(nn.Module):
    """Encoder + late fusion + ID decoder; also the ``StepDecoder`` that beam search drives."""

    def __init__(self, backbone: Backbone, ids: SemanticIds, id_token_ids: torch.Tensor, start_token: int,
                 max_items: int, position: bool, decoder_layers: int, decoder_heads: int, decoder_ff: int,
                 dropout: float, item_encoder: Backbone | WordReader | None = None,
                 id_alignment: bool = False) -> None:
        super().__init__()
        dim = backbone.dim
        if dim % decoder_heads:
            raise GenrecError(f"the backbone width {dim} is not divisible by gram.decoder_heads "
                              f"{decoder_heads}")
        self.backbone, self.start_token = backbone, start_token
        # item_encoder: the reader of the item prompts when it is not the backbone: frozen (a copy of the
        # backbone as initialised, or a pretrained text encoder; the caller freezes it) so that their cached
        # encodings stay exactly what the decoder was trained on, or a trained ``WordReader``; None: the
        # backbone reads them, trained end to end. A reader of another width gets a trained projection.
        self.item_encoder = item_encoder
        wide = item_encoder is not None and item_encoder.dim != dim
        self.item_projection = nn.Linear(item_encoder.dim, dim) if wide else None
        self.position = nn.Embedding(max_items + 1, dim) if position else None
        if self.position is not None:
            nn.init.normal_(self.position.weight, std=0.02)
        depth = len(ids.vocab_sizes)
        self.step_embedding = nn.Embedding(depth + 1, dim)
        nn.init.normal_(self.step_embedding.weight, std=0.02)
        # added to the first decoder input of the ID-alignment task (an item's own ID from its prompt), so
        # the decoder can tell it from next-item prediction over a one-item history
        self.alignment_start = nn.Parameter(torch.zeros(dim)) if id_alignment else None
        self.layers = nn.ModuleList(DecoderLayer(dim, decoder_heads, decoder_ff, dropout)
                                    for _ in range(decoder_layers))
        self.norm = nn.LayerNorm(dim)
        # the output vocabulary is the set of ID words; level l scores only its own codes' words
        # id_token_ids: [levels, width] vocabulary id of each code's word, -1 past a level's codes
        words, columns = torch.unique(id_token_ids, return_inverse=True)
        valid = id_token_ids >= 0
        offset = int((words < 0).sum())  # the -1 padding sorts first
        self.register_buffer("id_words", words[offset:], persistent=False)
        self.register_buffer("level_tokens", id_token_ids.clamp_min(0), persistent=False)
        self.register_buffer("level_columns", torch.where(valid, columns - offset, 0), persistent=False)
        self.level_sizes = valid.sum(1).tolist()  # level l's codes are 0 .. size - 1
        for level, size in enumerate(self.level_sizes):
            if torch.unique(self.level_columns[level, :size]).numel() != size:
                raise GenrecError(f"two codes of ID level {level} have the same word")
        self.out_bias = nn.Parameter(torch.zeros(len(self.id_words)))

    # ---- encoder and late fusion -------------------------------------------------------------
    def encode(self, batch: PromptBatch, cache: ItemCache | None = None) -> Memory:
        """All prompts of each user, encoded separately: the user prompt and the item prompts."""
        states, masks, slots = [], [], []
        if batch.user_tokens is not None:
            states.append(self.backbone(batch.user_tokens, batch.user_mask))
            masks.append(batch.user_mask)
            slots.append(torch.zeros_like(batch.user_tokens))
        if batch.item_slots is not None:
            h, m, slot = self._item_memory(batch, cache)
            states.append(h)
            masks.append(m)
            slots.append(slot + 1)
        if not states:
            raise GenrecError("GRAM needs the user prompt, the item prompts or both")
        return Memory(states, masks, slots, None if self.position is None else self.position.weight)

    def _item_memory(self, batch: PromptBatch, cache: ItemCache | None):
        """The item prompts' tokens of each user, packed: ``(states [n, T, d], mask [n, T], slot [n, T])``."""
        if isinstance(self.item_encoder, WordReader):
            # look-ups need no per-item states: pack each user's (token, place) pairs, then look them up
            tokens = batch.item_tokens
            places = torch.arange(tokens.shape[1], device=tokens.device).expand_as(tokens)
            pairs = torch.stack([tokens, places], dim=-1)
            packed, mask, slot = self._pack(pairs, batch.item_mask, batch.item_slots)
            return self.item_encoder(packed[..., 0], packed[..., 1]), mask, slot
        if cache is not None:
            span = max(1, int(cache.mask[batch.items].sum(1).max()))  # prompts are right-padded
            encoded = cache.states[batch.items, :span].to(self.norm.weight.dtype)
            item_mask = cache.mask[batch.items, :span]
        else:
            encoded, item_mask = self.encode_items(batch.item_tokens, batch.item_mask), batch.item_mask
        if self.item_projection is not None:
            encoded = self.item_projection(encoded)
        return self._pack(encoded, item_mask, batch.item_slots)

    @staticmethod
    def _pack(encoded: torch.Tensor, mask: torch.Tensor, slots: torch.Tensor):
        """Each user's item-prompt tokens gathered from the distinct items' encodings ``[U, Li, d]``
        and packed to the left, padding dropped: ``(states [n, T, d], mask [n, T], slot [n, T])`` with
        ``T`` the most real tokens any user has; ``slot`` is each token's history position."""
        span = encoded.shape[1]
        valid = (mask[slots.clamp_min(0)] & (slots >= 0)[..., None]).flatten(1)  # [n, N * Li]
        keep = max(1, int(valid.sum(1).max()))
        # real tokens first, in their order
        order = torch.argsort((~valid).to(torch.int8), dim=1, stable=True)[:, :keep]
        slot = order // span
        rows = slots.gather(1, slot).clamp_min(0) * span + order % span
        return encoded.flatten(0, 1)[rows], valid.gather(1, order), slot

    @property
    def item_reader(self) -> Backbone | WordReader:
        """The reader of the item prompts: the item encoder where there is one, else the backbone."""
        return self.backbone if self.item_encoder is None else self.item_encoder

    def encode_items(self, tokens: torch.Tensor, mask: torch.Tensor, chunk: int = 64) -> torch.Tensor:
        """``[U, Li, d_items]`` encodings of item prompts (before any projection), in chunks of similar
        length so that little padding is encoded (item prompts differ a lot in length)."""
        encoder = self.item_reader
        lengths = mask.sum(1)
        order = torch.argsort(lengths)
        out = []
        for lo in range(0, len(order), chunk):
            rows = order[lo:lo + chunk]
            width = max(1, int(lengths[rows].max()))
            h = encoder(tokens[rows, :width], mask[rows, :width])
            out.append(F.pad(h, (0, 0, 0, tokens.shape[1] - width)))
        return torch.cat(out)[torch.argsort(order)]

    # ---- decoder -------------------------------------------------------------------------------
    def _embed(self, tokens: torch.Tensor, start: int) -> torch.Tensor:
        """Decoder input ``[n, beams, T]`` token ids at steps ``start..`` -> ``[n, beams, T, d]``."""
        steps = torch.arange(start, start + tokens.shape[-1], device=tokens.device)
        return self.backbone.embeddings(tokens) + self.step_embedding(steps)

    def _logits(self, h: torch.Tensor, level: int) -> torch.Tensor:
        """Log-probabilities ``[..., size]`` of ID level ``level``'s codes: the states against the words
        of that level only. No other ID word may come there, so none is scored (Beauty's first level
        has 128 of its 7,285 ID words)."""
        size = self.level_sizes[level]
        words = self.backbone.embeddings.weight[self.level_tokens[level, :size]]  # the codes' words
        bias = self.out_bias[self.level_columns[level, :size]]
        logits = self.norm(h) @ words.T * h.shape[-1] ** -0.5 + bias
        return logits.log_softmax(-1)

    def _run(self, x: torch.Tensor, memory: Memory, past: list | None):
        new_past = []
        for i, layer in enumerate(self.layers):
            x, kv = layer(x, memory, None if past is None else past[i])
            new_past.append(kv)
        return x, new_past

    def loss(self, batch: PromptBatch, codes: torch.Tensor, cache: ItemCache | None = None,
             alignment: bool = False) -> torch.Tensor:
        """Teacher-forced cross-entropy of the targets' IDs (``codes [n, depth]``, -1 past an ID's end);
        ``alignment``: the ID-alignment task, whose decoder start is marked by ``alignment_start``."""
        memory = self.encode(batch, cache)
        depth = codes.shape[1]
        target = codes.clamp_min(0)
        tokens = self.level_tokens[torch.arange(depth, device=codes.device), target]
        inputs = torch.cat([torch.full_like(tokens[:, :1], self.start_token), tokens[:, :-1]], dim=1)
        x = self._embed(inputs[:, None], 0)
        if alignment:
            if self.alignment_start is None:
                raise GenrecError("this GRAM network was built without the ID-alignment task")
            x = torch.cat([x[:, :, :1] + self.alignment_start, x[:, :, 1:]], dim=2)
        h, _ = self._run(x, memory, None)
        picked = torch.stack([self._logits(h[:, 0, level], level).gather(1, target[:, level, None])
                              for level in range(depth)], dim=1).squeeze(2)  # [n, depth]
        valid = codes >= 0
        return -(picked * valid).sum() / valid.sum().clamp_min(1)

    def start(self, batch: PromptBatch, cache: ItemCache | None = None) -> dict[str, Any]:
        """The beam-search state of ``n`` users with one beam each."""
        return {"memory": self.encode(batch, cache), "past": None, "depth": 0}

    def step(self, codes: torch.Tensor | None, state: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
        depth = state["depth"]
        n = state["memory"].users
        if codes is None:
            tokens = torch.full((n, 1), self.start_token, dtype=torch.long, device=self.id_words.device)
        else:
            words = self.level_tokens[depth - 1, codes.clamp_min(0)]
            tokens = torch.where(codes >= 0, words, self.start_token)
        x, past = self._run(self._embed(tokens[..., None], depth), state["memory"], state["past"])
        level = min(depth, len(self.level_sizes) - 1)
        return self._logits(x[:, :, 0], level), {**state, "past": past, "depth": depth + 1}

    def reorder(self, state: dict[str, Any], parents: torch.Tensor) -> dict[str, Any]:
        n, beams = parents.shape

        def pick(t: torch.Tensor) -> torch.Tensor:  # [n * old_beams, ...] -> [n * beams, ...]
            t = t.view(n, -1, *t.shape[1:])
            index = parents.view(n, beams, *([1] * (t.dim() - 2))).expand(n, beams, *t.shape[2:])
            return t.gather(1, index).flatten(0, 1)

        past = None if state["past"] is None else [(pick(k), pick(v)) for k, v in state["past"]]
        return {**state, "past": past}
