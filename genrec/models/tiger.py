"""TIGER: generative retrieval that writes the next item's semantic ID, code by code (Rajput et al., 2023).

Items are tokenized into semantic IDs (any tokenizer of ``genrec.semantic_ids``); a user's history
becomes the sequence of its items' code tokens, and a transformer learns to generate the next item's
codes. Recommendation is a beam search restricted to the trie of real IDs, so every result is a
real, distinct item. Two architectures:

- ``encoder-decoder`` (the paper's): Hugging Face T5 built from scratch (or ``pretrained``), input =
  the codes of the last ``max_history`` items, target = the next item's codes; trained on every prefix
  of every training sequence.
- ``decoder-only``: a causal transformer that reads a user's whole code sequence once and learns every
  next item's codes in that one pass (cheaper training: one forward per sequence, not per prefix).

Two options of the decoder-only model (not in the paper) give it what codes alone lack, the items
themselves: ``item_content`` adds each history item's projected text embedding to its last code
token, and ``id_alignment_items`` also asks the model, in every batch, for the IDs of uniformly drawn
items from their text embeddings, so every item's ID is trained, not only those of popular targets.

Vocabulary: pad 0, eos/bos 1, then each level's codes as distinct tokens, then optional user buckets,
then (with ID alignment) the token that starts an alignment sequence.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genrec.config import from_dict, to_dict
from genrec.data.dataset import EvalSet, SequenceDataset, Splits
from genrec.data.ragged import Ragged
from genrec.decoding import LevelTokens, StepDecoder, T5StepDecoder, Trie, beam_search
from genrec.errors import GenrecError
from genrec.evaluation.protocol import evaluate
from genrec.io import atomic_write, write_json
from genrec.models.base import Recommender, eval_mode, torch_device
from genrec.models.dropout import Dropout
from genrec.semantic_ids.codes import SemanticIds
from genrec.training.config import TrainConfig
from genrec.training.trainer import Trainer

log = logging.getLogger("genrec")

PAD, EOS = 0, 1
CONFIG_FILE, T5_CONFIG_FILE, WEIGHTS_FILE = "tiger.json", "t5_config.json", "weights.pt"
IDS_DIR = "semantic_ids"


def _default_train() -> TrainConfig:
    """An epoch is every prefix of every training sequence (131k samples on Beauty): few epochs, so
    validation after each, a short warm-up and a cosine decay over the planned epochs."""
    return TrainConfig(epochs=20, batch_size=256, lr=1e-3, weight_decay=0.01, warmup_ratio=0.01,
                       schedule="cosine", patience=3, eval_every=1)


@dataclass
class TigerConfig:
    architecture: Literal["encoder-decoder", "decoder-only"] = "encoder-decoder"
    tokenizer: str = "rq-kmeans"  # semantic-ID method (genrec.semantic_ids.TOKENIZERS)
    tokenizer_params: dict = field(default_factory=dict)
    encoder: str = "minilm"  # text embedding the semantic IDs are built from
    max_history: int = 20  # items of history the model reads
    layers: int = 4  # encoder layers and decoder layers (each)
    d_model: int = 128
    heads: int = 6
    d_kv: int = 64
    d_ff: int = 1024
    dropout: float = 0.1
    user_buckets: int = 0  # >0: a hashed user token, as in TIGER (2000 there); 0 = off
    beam_size: int = 20
    decode_batch: int = 256  # users per beam-search batch
    valid_users: int = 2048  # validation users sampled for early stopping (0 = all)
    pretrained: str | None = None  # a Hugging Face T5 checkpoint (name or path) to start from
    item_content: bool = False  # decoder-only: add each history item's text embedding to its last code
    id_alignment_items: int = 0  # decoder-only: items per batch whose IDs are generated from their text
    id_alignment_weight: float = 1.0  # weight of that loss beside the next-item loss
    device: str = "cpu"  # where it trains and decodes: cpu, cuda, cuda:N or auto
    train: TrainConfig = field(default_factory=_default_train)


class HistoryTokens(NamedTuple):
    tokens: torch.Tensor  # [n, width] left-aligned token ids
    mask: torch.Tensor  # [n, width] 1 on tokens, 0 on padding
    items: torch.Tensor | None  # [n, width] the item whose last code sits there, -1 elsewhere (item_content)

    def to(self, device: torch.device) -> HistoryTokens:
        return HistoryTokens(*(None if t is None else t.to(device) for t in self))


class Tiger(Recommender):
    """Generative retrieval over semantic IDs with trie-constrained beam search."""

    name = "tiger"
    Config = TigerConfig

    def __init__(self, config: TigerConfig, dataset: SequenceDataset, semantic_ids: SemanticIds | None = None,
                 content: torch.Tensor | None = None, fallback_device: bool = False) -> None:
        """``content``: the items' text embeddings for the options that read them (default: embedded
        here, as the semantic IDs were); ``fallback_device``: a GPU named by the config but missing here
        becomes the CPU (loading a saved model) instead of an error."""
        super().__init__(config, dataset)
        self.device = torch_device(config.device, fallback=fallback_device)
        self.net: nn.Module | None = None
        if semantic_ids is not None:
            self._build(semantic_ids, content=self._content(dataset, content))

    # ----------------------------------------------------------------------------------- setup
    def _build(self, ids: SemanticIds, t5_config: dict | None = None,
               content: torch.Tensor | None = None) -> None:
        """Vocabulary, per-item tokens, trie and network for these semantic IDs (``t5_config``: a saved
        model's exact T5 configuration, which differs from ours when it started from a checkpoint;
        ``content``: the items' text embeddings, when an option reads them)."""
        if ids.n_items != self.n_items:
            raise GenrecError(f"semantic IDs cover {ids.n_items} items but the dataset has {self.n_items}")
        config = self.config
        if self.reads_content and config.architecture != "decoder-only":
            raise GenrecError("tiger: item_content and id_alignment_items need architecture=decoder-only")
        self.ids, self.trie = ids, Trie.from_semantic_ids(ids).to(self.device)
        self.offsets = (2 + np.concatenate([[0], np.cumsum(ids.vocab_sizes)[:-1]])).astype(np.int64).tolist()
        self.user_offset = 2 + int(sum(ids.vocab_sizes))
        self.n_tokens = self.user_offset + config.user_buckets
        self.align_token = self.n_tokens
        self.n_tokens += int(config.id_alignment_items > 0)
        level = np.arange(len(ids.codes.values)) - np.repeat(ids.codes.offsets[:-1], ids.codes.lengths)
        self.item_tokens = Ragged(ids.codes.values + np.asarray(self.offsets)[level], ids.codes.offsets)
        self.depth = int(ids.codes.lengths.max())
        if config.architecture == "encoder-decoder":
            self.net = self._t5(t5_config)
        else:
            max_len = 2 + (config.max_history + 1) * self.depth
            self.net = CausalTransformer(self.n_tokens, max_len, config, content)
        self.net.to(self.device)

    @property
    def reads_content(self) -> bool:
        return self.config.item_content or self.config.id_alignment_items > 0

    def _content(self, dataset: SequenceDataset, given: torch.Tensor | None = None) -> torch.Tensor | None:
        """The items' text embeddings (``given``, else those the semantic IDs were built from; cached),
        when an option reads them."""
        if not self.reads_content:
            return None
        if given is not None:
            return given
        from genrec.data.text import item_texts
        from genrec.embeddings.items import embed_items

        return torch.from_numpy(embed_items(item_texts(dataset), self.config.encoder))

    def _t5(self, saved: dict | None) -> nn.Module:
        from transformers import T5Config, T5ForConditionalGeneration

        config = self.config
        if saved is not None:
            return T5ForConditionalGeneration(T5Config.from_dict(saved))
        if config.pretrained:
            net = T5ForConditionalGeneration.from_pretrained(config.pretrained)
            net.resize_token_embeddings(self.n_tokens)
            net.config.decoder_start_token_id = net.config.pad_token_id = PAD
            net.config.eos_token_id = EOS
            return net
        t5 = T5Config(vocab_size=self.n_tokens, d_model=config.d_model, d_kv=config.d_kv, d_ff=config.d_ff,
                      num_layers=config.layers, num_decoder_layers=config.layers, num_heads=config.heads,
                      dropout_rate=config.dropout, feed_forward_proj="relu", pad_token_id=PAD,
                      eos_token_id=EOS, decoder_start_token_id=PAD)
        return T5ForConditionalGeneration(t5)

    # ------------------------------------------------------------------------------- encoding
    def encode_histories(self, histories: Ragged, bos: bool = False, max_items: int | None = None,
                         first_items: np.ndarray | None = None) -> HistoryTokens:
        """Left-aligned tokens ``[n, width]``, attention mask and item positions: ``[bos] [user] codes of
        the last max_items (default max_history) items``, then eos for the encoder (``bos=False``) or
        nothing for the decoder-only prompt (``bos=True``). ``first_items`` (each user's first item,
        default the history's own) picks the user bucket."""
        recent = histories.tail(max_items or self.config.max_history)
        per_item = self.item_tokens.select(recent.values)
        n = len(histories)
        user_of_token = np.repeat(np.repeat(np.arange(n), recent.lengths), per_item.lengths)
        lengths = np.bincount(user_of_token, minlength=n)
        start = int(bos) + int(self.config.user_buckets > 0)
        total = start + lengths + (0 if bos else 1)
        out = np.full((n, int(total.max(initial=1))), PAD, dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        column = start + np.arange(len(per_item.values)) - offsets[user_of_token]
        out[user_of_token, column] = per_item.values
        items = None
        if self.config.item_content:  # only then read, so not built on every batch
            items = np.full(out.shape, -1, dtype=np.int64)
            last_code = per_item.offsets[1:] - 1
            items[user_of_token[last_code], column[last_code]] = recent.values
            items = torch.from_numpy(items)
        if bos:
            out[:, 0] = EOS
        else:
            out[np.arange(n), start + lengths] = EOS
        if self.config.user_buckets > 0:
            if first_items is None:  # an empty history's user falls in bucket 0
                first_items, some = np.zeros(n, np.int64), histories.lengths > 0
                first_items[some] = histories.values[histories.offsets[:-1][some]]
            out[:, int(bos)] = self._user_tokens(first_items)
        mask = (torch.arange(out.shape[1]) < torch.from_numpy(total)[:, None]).long()
        return HistoryTokens(torch.from_numpy(out), mask, items)

    def _user_tokens(self, first_items: np.ndarray) -> np.ndarray:
        """TIGER hashes the user id into buckets. ``recommend`` sees histories, not user ids, so a user is
        known by the first item of the full history (the same in training, validation, test and serving)."""
        return self.user_offset + (first_items * 2654435761) % self.config.user_buckets

    def target_tokens(self, items: np.ndarray) -> torch.Tensor:
        """``[n, depth]`` code tokens of ``items``, -100 past the end of shorter IDs (ignored by the loss)."""
        return torch.from_numpy(self.item_tokens.select(items).to_padded(self.depth, pad=-100, align="left"))

    # ------------------------------------------------------------------------------- training
    def fit(self, dataset: SequenceDataset, splits: Splits, run_dir: Path | None = None) -> dict:
        if self.net is None:
            self._build(self._semantic_ids(dataset, run_dir), content=self._content(dataset))
        config, train = self.config, self.config.train
        if config.architecture == "encoder-decoder":
            samples = PrefixSamples(splits.train, config.max_history)
            loss_fn = self._seq2seq_loss
        else:
            samples = WindowSamples(splits.train, config.max_history)
            loss_fn = self._causal_loss
        log.info("tiger (%s): %d training samples, %d tokens, %d parameters", config.architecture,
                 len(samples), self.n_tokens, sum(p.numel() for p in self.net.parameters()))
        valid = splits.valid.sample(config.valid_users, train.seed)
        steps = math.ceil(len(samples) / train.batch_size)

        def batches(epoch: int):
            rng = np.random.default_rng([train.seed, epoch])  # alignment items: the same on resume
            for batch in samples.batches(epoch, train.batch_size, train.seed):
                yield *batch, rng.integers(self.n_items, size=config.id_alignment_items)

        trainer = Trainer(train, run_dir, resume=True)
        summary = trainer.fit(self.net, batches, loss_fn, lambda: self._validate(valid), steps)
        return {**summary, "semantic_ids": {"method": self.ids.method, "n_levels": self.ids.n_levels,
                                            "vocab_sizes": self.ids.vocab_sizes, **self.ids.stats}}

    def _semantic_ids(self, dataset: SequenceDataset, run_dir: Path | None) -> SemanticIds:
        """Build the IDs, kept in the run directory so that a resumed run trains on the same IDs."""
        from genrec.semantic_ids.build import build_semantic_ids, load_or_build

        config = self.config
        if run_dir is None:
            return build_semantic_ids(dataset, config.tokenizer, config.tokenizer_params, config.encoder)
        return load_or_build(Path(run_dir) / IDS_DIR, dataset, config.tokenizer, config.tokenizer_params,
                             config.encoder)

    def _seq2seq_loss(self, batch: tuple[Ragged, np.ndarray, np.ndarray]) -> torch.Tensor:
        histories, targets, _ = batch
        tokens, mask, _ = self.encode_histories(histories).to(self.device)
        labels = self.target_tokens(targets).to(self.device)
        return self.net(input_ids=tokens, attention_mask=mask, labels=labels).loss

    def _causal_loss(self, batch: tuple[Ragged, np.ndarray, np.ndarray]) -> torch.Tensor:
        """Next-token loss on every code of every item after a window's first (the window's context),
        plus the weighted ID-alignment loss of the batch's alignment items."""
        sequences, first_items, alignment_items = batch
        window = self.config.max_history + 1
        tokens, mask, items = self.encode_histories(sequences, bos=True, max_items=window,
                                                    first_items=first_items).to(self.device)
        labels = tokens[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
        first_item_end = int(self.config.user_buckets > 0) + torch.from_numpy(
            self.item_tokens.lengths[sequences.values[sequences.offsets[:-1]]]).to(self.device)
        columns = torch.arange(labels.shape[1], device=self.device)
        labels = labels.masked_fill(columns < first_item_end[:, None], -100)
        logits = self.net(tokens[:, :-1], None if items is None else items[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
        if len(alignment_items):
            loss = loss + self.config.id_alignment_weight * self.alignment_loss(alignment_items)
        return loss

    def alignment_loss(self, items: np.ndarray) -> torch.Tensor:
        """Mean next-token loss of ``[align] codes``, where the align token carries the item's text
        embedding: the model writes each item's ID from its content."""
        labels = self.target_tokens(items)
        tokens = torch.cat([torch.full((len(items), 1), self.align_token), labels[:, :-1].clamp_min(PAD)], 1)
        at = torch.full(tokens.shape, -1, dtype=torch.int64)
        at[:, 0] = torch.from_numpy(items)
        labels = labels.to(self.device)
        logits = self.net(tokens.to(self.device), at.to(self.device))
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)

    def _validate(self, valid: EvalSet) -> float:
        return evaluate(self, valid, "valid", ks=(10,), batch_size=self.config.decode_batch,
                        progress=False).metrics["ndcg@10"]

    # ----------------------------------------------------------------------------- recommend
    @torch.no_grad()
    def recommend(self, histories: Ragged, k: int,
                  exclude_history: bool = False) -> tuple[np.ndarray, np.ndarray]:
        if self.net is None:
            raise GenrecError("tiger: the model has no semantic IDs yet; fit or load it first")
        with eval_mode(self.net):
            items = np.full((len(histories), k), -1, np.int64)
            scores = np.full((len(histories), k), -np.inf, np.float32)
            # users of similar history length share a batch: the prompt is padded to the batch's longest
            order = np.argsort(np.minimum(histories.lengths, self.config.max_history), kind="stable")
            for lo in range(0, len(histories), self.config.decode_batch):
                rows = order[lo:lo + self.config.decode_batch]
                batch = histories.select(rows)
                decoder, state = self.step_decoder(batch)
                top, values = beam_search(decoder, state, self.trie, len(batch), self.config.beam_size, k,
                                          exclude=batch if exclude_history else None)
                items[rows], scores[rows] = top.numpy(), values.numpy()
        return items, scores

    def step_decoder(self, histories: Ragged) -> tuple[StepDecoder, Any]:
        """The ``StepDecoder`` and its start state for these users (the net must be in eval mode)."""
        if self.config.architecture == "encoder-decoder":
            decoder = T5StepDecoder(self.net, self.offsets, self.ids.vocab_sizes, start_token=PAD)
            return decoder, decoder.start(*self.encode_histories(histories).to(self.device)[:2])
        decoder = CausalStepDecoder(self.net, self.offsets, self.ids.vocab_sizes)
        return decoder, decoder.start(*self.encode_histories(histories, bos=True).to(self.device))

    # ---------------------------------------------------------------------------- save / load
    def save(self, directory: Path) -> None:
        directory = Path(directory)
        write_json(directory / CONFIG_FILE, to_dict(self.config))
        if self.config.architecture == "encoder-decoder":
            write_json(directory / T5_CONFIG_FILE, self.net.config.to_dict())
        self.ids.save(directory / IDS_DIR)
        atomic_write(directory / WEIGHTS_FILE, lambda f: torch.save(self.net.state_dict(), f))

    @classmethod
    def load(cls, directory: Path, dataset: SequenceDataset) -> Tiger:
        directory = Path(directory)
        if not (directory / CONFIG_FILE).is_file():
            raise GenrecError(f"{directory}: not a saved tiger model (missing {CONFIG_FILE})")
        config = from_dict(TigerConfig, json.loads((directory / CONFIG_FILE).read_text()),
                           where=str(directory / CONFIG_FILE))
        t5_config = directory / T5_CONFIG_FILE
        state = torch.load(directory / WEIGHTS_FILE, map_location="cpu", weights_only=True)
        model = cls(config, dataset, fallback_device=True)
        model._build(SemanticIds.load(directory / IDS_DIR),
                     json.loads(t5_config.read_text()) if t5_config.is_file() else None, state.get("content"))
        model.net.load_state_dict(state)
        model.net.eval()
        return model


# ------------------------------------------------------------------------------------ samples
class PrefixSamples:
    """Every (history[:t], item t) pair, t >= 1, of the training sequences, as flat arrays."""

    def __init__(self, train: Ragged, max_history: int) -> None:
        self.train, self.max_history = train, max_history
        self.user, self.t = train.prefix_samples()

    def __len__(self) -> int:
        return len(self.user)

    def batches(self, epoch: int, batch_size: int, seed: int):
        """Shuffled batches of similar history length (less padding), in shuffled order."""
        for rows in _length_bucketed(np.minimum(self.t, self.max_history), epoch, batch_size, seed):
            user, t = self.user[rows], self.t[rows]
            histories = self.train.select(user).slice_rows(np.zeros_like(t), t)
            yield histories, self.train.values[self.train.offsets[user] + t]


class WindowSamples:
    """Training sequences cut into windows of ``max_history + 1`` items overlapping by one item, so that
    every item after a sequence's first is a target exactly once, after up to ``max_history`` items."""

    def __init__(self, train: Ragged, max_history: int) -> None:
        lengths = train.lengths
        counts = np.where(lengths > 1, (lengths - 2) // max_history + 1, 0)
        self.train = train
        self.user = np.repeat(np.arange(len(train)), counts)
        self.start = max_history * (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
        self.stop = np.minimum(self.start + max_history + 1, lengths[self.user])

    def __len__(self) -> int:
        return len(self.user)

    def batches(self, epoch: int, batch_size: int, seed: int):
        for rows in _length_bucketed(self.stop - self.start, epoch, batch_size, seed):
            user = self.user[rows]
            yield self.train.select(user).slice_rows(self.start[rows], self.stop[rows]), self.train.values[
                self.train.offsets[user]]


def _length_bucketed(lengths: np.ndarray, epoch: int, batch_size: int, seed: int,
                     pool: int = 64) -> list[np.ndarray]:
    """Shuffle, sort by length within pools of ``pool`` batches, cut into batches, shuffle the batches."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    key = (np.arange(len(order)) // (pool * batch_size)) * (int(lengths.max(initial=0)) + 1) + lengths[order]
    order = order[np.argsort(key, kind="stable")]
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


# ------------------------------------------------------------------------------ decoder-only
class CausalTransformer(nn.Module):
    """A pre-norm causal transformer with learned positions and tied output embeddings; with
    ``content`` (``[n_items, d]`` text embeddings, kept as a buffer so a saved model is whole), tokens
    may also carry an item's projected embedding."""

    def __init__(self, n_tokens: int, max_len: int, config: TigerConfig,
                 content: torch.Tensor | None = None) -> None:
        super().__init__()
        self.tokens = nn.Embedding(n_tokens, config.d_model)
        self.positions = nn.Embedding(max_len, config.d_model)
        self.blocks = nn.ModuleList(CausalBlock(config) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.d_model)
        self.dropout = Dropout(config.dropout)
        nn.init.normal_(self.tokens.weight, std=0.02)
        nn.init.normal_(self.positions.weight, std=0.02)
        self.register_buffer("content", None if content is None else content.float())
        if content is not None:  # made last: the other weights start as without it
            self.content_proj = nn.Linear(content.shape[1], config.d_model)

    def embed(self, tokens: torch.Tensor, positions: torch.Tensor,
              items: torch.Tensor | None = None) -> torch.Tensor:
        """Token and position embeddings, plus ``items``' (same shape, -1 = none) projected content."""
        x = self.tokens(tokens) + self.positions(positions)
        if items is not None:
            where = (items >= 0).nonzero(as_tuple=True)
            x = x.index_put(where, self.content_proj(self.content[items[where]]), accumulate=True)
        return self.dropout(x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x) @ self.tokens.weight.T

    def forward(self, tokens: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, T]`` left-aligned tokens (and their items, see ``embed``) -> next-token logits
        ``[B, T, n_tokens]``."""
        x = self.embed(tokens, torch.arange(tokens.shape[1], device=tokens.device), items)
        for block in self.blocks:
            q, k, v = block.qkv(x)
            x = block.finish(x, F.scaled_dot_product_attention(
                q, k, v, is_causal=True, dropout_p=block.attn_dropout if self.training else 0.0))
        return self.logits(x)


class CausalBlock(nn.Module):
    def __init__(self, config: TigerConfig) -> None:
        super().__init__()
        self.heads, self.d_kv, self.attn_dropout = config.heads, config.d_kv, config.dropout
        inner = config.heads * config.d_kv
        self.norm1, self.norm2 = nn.LayerNorm(config.d_model), nn.LayerNorm(config.d_model)
        self.qkv_proj, self.out = nn.Linear(config.d_model, 3 * inner), nn.Linear(inner, config.d_model)
        self.ff = nn.Sequential(nn.Linear(config.d_model, config.d_ff), nn.GELU(), Dropout(config.dropout),
                                nn.Linear(config.d_ff, config.d_model))
        self.dropout = Dropout(config.dropout)

    def qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each ``[B, heads, T, d_kv]``."""
        b, t, _ = x.shape
        qkv = self.qkv_proj(self.norm1(x)).view(b, t, 3, self.heads, self.d_kv)
        return qkv.permute(2, 0, 3, 1, 4).unbind(0)

    def finish(self, x: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        """Residual after attention (``[B, heads, T, d_kv]``), then the feed-forward residual."""
        b, _, t, _ = attended.shape
        x = x + self.dropout(self.out(attended.transpose(1, 2).reshape(b, t, -1)))
        return x + self.dropout(self.ff(self.norm2(x)))


@dataclass
class CausalState:
    prefix: list[tuple[torch.Tensor, torch.Tensor]]  # per layer: the prompt's keys/values [n, heads, P, d_kv]
    prefix_bias: torch.Tensor  # [n, 1, 1, P]: 0 on the prompt, -inf on its padding
    lengths: torch.Tensor  # [n] prompt lengths (the next position of every user)
    first: torch.Tensor  # [n, 1, V]: log-probabilities of the first code, from the prompt's last token
    own: list[tuple[torch.Tensor, torch.Tensor]]  # per layer: codes' keys/values [n * beams, heads, t, d_kv]
    beams: int
    level: int  # codes generated so far


class CausalStepDecoder:
    """``StepDecoder`` of the decoder-only TIGER: the prompt is run once per user; beams attend to its
    cached keys/values (per user, shared by the beams) and to their own generated codes."""

    def __init__(self, net: CausalTransformer, offsets: list[int], vocab_sizes: list[int]) -> None:
        self.net, self.levels = net, LevelTokens(offsets, vocab_sizes, net.tokens.weight.device)

    @torch.no_grad()
    def start(self, tokens: torch.Tensor, mask: torch.Tensor,
              items: torch.Tensor | None = None) -> CausalState:
        net, n = self.net, len(tokens)
        x = net.embed(tokens, torch.arange(tokens.shape[1], device=tokens.device), items)
        prefix = []
        for block in net.blocks:
            q, k, v = block.qkv(x)
            prefix.append((k, v))
            x = block.finish(x, F.scaled_dot_product_attention(q, k, v, is_causal=True))
        lengths = mask.sum(1)
        last = net.logits(x[torch.arange(n, device=x.device), lengths - 1])[:, None]
        bias = torch.where(mask.bool(), 0.0, -torch.inf)[:, None, None, :]
        return CausalState(prefix, bias, lengths, self.levels.log_probs(last, 0), [], 1, 0)

    @torch.no_grad()
    def step(self, codes: torch.Tensor | None, state: CausalState) -> tuple[torch.Tensor, CausalState]:
        if codes is None:
            return state.first, replace(state, own=[], beams=1, level=1)
        n, beams, t = codes.shape[0], state.beams, state.level
        tokens = self.levels.token(codes, t - 1, PAD)
        positions = (state.lengths + t - 1)[:, None].expand(n, beams)
        x = self.net.embed(tokens, positions).reshape(n * beams, 1, -1)
        own = []
        for i, block in enumerate(self.net.blocks):
            q, k, v = block.qkv(x)  # [n * beams, heads, 1, d_kv]
            if state.own:
                k, v = torch.cat([state.own[i][0], k], 2), torch.cat([state.own[i][1], v], 2)
            own.append((k, v))
            heads, d_kv = q.shape[1], q.shape[3]
            grouped = q.view(n, beams, heads, d_kv).transpose(1, 2)  # [n, heads, beams, d_kv]
            pk, pv = state.prefix[i]
            prompt_scores = grouped @ pk.transpose(2, 3) + state.prefix_bias  # [n, heads, beams, P]
            own_scores = (q @ k.transpose(2, 3)).view(n, beams, heads, t).transpose(1, 2)
            weights = torch.softmax(torch.cat([prompt_scores, own_scores], -1) / d_kv**0.5, -1)
            prompt_part = weights[..., :pk.shape[2]] @ pv  # [n, heads, beams, d_kv]
            own_weights = weights[..., pk.shape[2]:].transpose(1, 2).reshape(n * beams, heads, 1, t)
            attended = prompt_part.transpose(1, 2).reshape(n * beams, heads, 1, d_kv) + own_weights @ v
            x = block.finish(x, attended)
        log_probs = self.levels.log_probs(self.net.logits(x).view(n, beams, -1), t)
        return log_probs, replace(state, own=own, level=t + 1)

    def reorder(self, state: CausalState, parents: torch.Tensor) -> CausalState:
        n, beams = parents.shape
        rows = (parents + torch.arange(n, device=parents.device)[:, None] * state.beams).reshape(-1)
        own = [(k[rows], v[rows]) for k, v in state.own]
        return replace(state, own=own, beams=beams)
