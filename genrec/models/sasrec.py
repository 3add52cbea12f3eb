"""SASRec (Kang & McAuley, 2018): a causal transformer over the item history, scoring the whole catalogue.

Training follows RecBole: one row per prefix of each user's training sequence, with a loss on its
last target only, so every target gets its own dropout masks. On Beauty this beat a loss at every
position of whole sequences (one row per user, the same targets) by 0.0016 test NDCG@10 (p = 0.007)
and costs only ~15% more an epoch, since the softmax over all items dominates and both modes score
every target once (benchmarks/notes.md); ``samples="sequences"`` keeps the whole-sequence mode.
Two losses, because the literature uses both and they differ a lot on sparse data:
``ce`` (softmax over all items) and ``bce`` (one uniformly sampled negative per position, as in the
original paper). Input and output item embeddings are tied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genrec.config import from_dict, load_yaml, save_yaml, to_dict
from genrec.data.dataset import SequenceDataset, Splits
from genrec.data.ragged import Ragged
from genrec.errors import GenrecError
from genrec.evaluation.protocol import evaluate
from genrec.io import atomic_write
from genrec.models.base import ScoringRecommender, eval_mode, torch_device
from genrec.models.dropout import Dropout, dropout
from genrec.training.config import TrainConfig
from genrec.training.trainer import Trainer

PAD = 0  # item i is token i + 1 inside the network
SCORE_CHUNK = 256  # histories per forward pass when scoring


def _default_train() -> TrainConfig:
    # 256 prefixes a step, as RecBole; with samples="sequences", 32 sequences a step (about 190 targets)
    # beat 128 by 0.0016 validation NDCG@10 (benchmarks/notes.md)
    return TrainConfig(epochs=200, batch_size=256, lr=1e-3, weight_decay=0.0, warmup_ratio=0.0,
                       schedule="constant", patience=10, max_minutes=20.0)


@dataclass
class SASRecConfig:
    hidden: int = 64
    layers: int = 2
    heads: int = 1
    inner: int = 256  # feed-forward width
    max_len: int = 50  # most recent items used as history
    dropout: float = 0.5  # on embeddings and after every sub-layer
    attn_dropout: float = 0.5
    ffn_dropout: float = 0.0  # inside the feed-forward layer, after its activation (RecBole has none)
    norm: Literal["pre", "post"] = "pre"  # LayerNorm before (stabler) or after each sub-layer
    # "start": item j of the window has position j, so training position t sees exactly what a
    # prediction after t + 1 items sees at test time (the original SASRec and RecBole); "end": positions
    # count back from the newest item of the whole training sequence
    positions: Literal["start", "end"] = "start"
    scale_embeddings: bool = True  # multiply item embeddings by sqrt(hidden), as in the transformer
    loss: Literal["ce", "bce"] = "ce"
    # "prefixes": one row per prefix with only its last target (as RecBole), so every target gets its own
    # dropout masks; "sequences": one row per user with a target at every position (set train.batch_size=32)
    samples: Literal["sequences", "prefixes"] = "prefixes"
    device: str = "cpu"  # where it trains and scores: cpu, cuda, cuda:N or auto
    train: TrainConfig = field(default_factory=_default_train)


class Block(nn.Module):
    """Causal self-attention and a feed-forward layer, each with a residual connection."""

    def __init__(self, config: SASRecConfig) -> None:
        super().__init__()
        if config.hidden % config.heads:
            raise GenrecError(f"sasrec: hidden ({config.hidden}) must be divisible by heads ({config.heads})")
        self.heads, self.pre = config.heads, config.norm == "pre"
        self.qkv = nn.Linear(config.hidden, 3 * config.hidden)
        self.out = nn.Linear(config.hidden, config.hidden)
        self.ffn = nn.Sequential(nn.Linear(config.hidden, config.inner), nn.GELU(),
                                 Dropout(config.ffn_dropout), nn.Linear(config.inner, config.hidden))
        self.norm1, self.norm2 = nn.LayerNorm(config.hidden), nn.LayerNorm(config.hidden)
        self.drop = Dropout(config.dropout)
        self.attn_dropout = config.attn_dropout

    def attend(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, length, hidden = x.shape
        q, k, v = self.qkv(x).view(b, length, 3, self.heads, hidden // self.heads).permute(2, 0, 3, 1, 4)
        if self.training and self.attn_dropout > 0:  # written out, for the faster dropout mask
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
            weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
            y = dropout(weights, self.attn_dropout, True) @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(y.transpose(1, 2).reshape(b, length, hidden))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.pre:
            x = x + self.drop(self.attend(self.norm1(x), mask))
            return x + self.drop(self.ffn(self.norm2(x)))
        x = self.norm1(x + self.drop(self.attend(x, mask)))
        return self.norm2(x + self.drop(self.ffn(x)))


class SASRecNet(nn.Module):
    """Tokens ``[batch, length]`` (right-aligned, ``PAD`` on the left) -> hidden states
    ``[batch, length, hidden]``."""

    def __init__(self, config: SASRecConfig, n_items: int) -> None:
        super().__init__()
        self.max_len, self.from_start = config.max_len, config.positions == "start"
        self.scale = math.sqrt(config.hidden) if config.scale_embeddings else 1.0
        self.items = nn.Embedding(n_items + 1, config.hidden, padding_idx=PAD)
        self.positions = nn.Embedding(config.max_len, config.hidden)
        self.drop = Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.final_norm = nn.LayerNorm(config.hidden) if config.norm == "pre" else nn.Identity()
        self.input_norm = nn.LayerNorm(config.hidden) if config.norm == "post" else nn.Identity()
        self.apply(_init)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.items(tokens) * self.scale + self.positions(self.position_ids(tokens))
        x = self.drop(self.input_norm(x))
        mask = attention_mask(tokens)
        for block in self.blocks:
            x = block(x, mask)
        return self.final_norm(x)

    def position_ids(self, tokens: torch.Tensor) -> torch.Tensor:
        """Rows are right-aligned (padding on the left); see ``SASRecConfig.positions``."""
        length = tokens.shape[1]
        columns = torch.arange(length, device=tokens.device)
        if self.from_start:
            padding = (tokens == PAD).sum(dim=1, keepdim=True)
            return (columns - padding).clamp(min=0)
        return columns + (self.max_len - length)  # the last column is always position max_len - 1

    def item_table(self) -> torch.Tensor:
        """Output embeddings of the real items (row i = item i), tied to the input ones."""
        return self.items.weight[1:]


def attention_mask(tokens: torch.Tensor) -> torch.Tensor:
    """``[batch, 1, length, length]``: attend to earlier non-padding tokens, and always to oneself
    (so that padding rows are never fully masked, which would give NaN)."""
    length = tokens.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=tokens.device).tril()
    diagonal = torch.eye(length, dtype=torch.bool, device=tokens.device)
    return (causal & (tokens != PAD)[:, None, None, :]) | diagonal


def _init(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
    if isinstance(module, nn.Embedding) and module.padding_idx is not None:
        with torch.no_grad():
            module.weight[module.padding_idx].zero_()


def trim(tokens: np.ndarray) -> np.ndarray:
    """Drop the leading columns that are padding in every row (right-aligned batches)."""
    used = (tokens != PAD).any(axis=0)
    return tokens[:, int(used.argmax()) :] if used.any() else tokens[:, -1:]


def bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator,
                     window: int = 64) -> list[np.ndarray]:
    """Random batches of rows of similar length, in random order.

    Rows are shuffled, sorted by length within windows of ``window`` batches, cut into batches and
    the batches shuffled: most sequences are short, so a batch padded to its longest row would
    otherwise spend most of its compute on padding.
    """
    order = rng.permutation(len(lengths))
    windows = np.arange(len(order)) // (batch_size * window)
    order = order[np.lexsort((lengths[order], windows))]
    batches = np.array_split(order, np.arange(batch_size, len(order), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


class SASRec(ScoringRecommender):
    """Next-item scores from a causal transformer over the last ``max_len`` items of the history."""

    name = "sasrec"
    Config = SASRecConfig

    def __init__(self, config: SASRecConfig, dataset: SequenceDataset, fallback_device: bool = False) -> None:
        """``fallback_device``: a GPU named by the config but missing here becomes the CPU (loading a saved
        model) instead of an error."""
        super().__init__(config, dataset)
        if config.loss not in ("ce", "bce"):
            raise GenrecError(f"sasrec: loss must be 'ce' or 'bce', not {config.loss!r}")
        if config.samples not in ("sequences", "prefixes"):
            raise GenrecError(f"sasrec: samples must be 'sequences' or 'prefixes', not {config.samples!r}")
        self.device = torch_device(config.device, fallback=fallback_device)
        self.net = SASRecNet(config, self.n_items).to(self.device)

    def fit(self, dataset: SequenceDataset, splits: Splits, run_dir: Path | None = None) -> dict:
        train = self.config.train
        rows = self.training_rows(splits.train)
        if len(rows) == 0:
            raise GenrecError("sasrec: no training sequence has two or more items")
        lengths = (rows != PAD).sum(axis=1)

        def batches(epoch: int) -> Iterator[torch.Tensor]:
            rng = np.random.default_rng(train.seed + epoch)
            for batch in bucketed_batches(lengths, train.batch_size, rng):
                yield torch.from_numpy(trim(rows[batch])).to(self.device)

        def validate() -> float:
            return evaluate(self, splits.valid, "valid", ks=(10,), batch_size=train.eval_batch_size,
                            progress=False).metrics["ndcg@10"]

        steps = math.ceil(len(rows) / train.batch_size)
        return Trainer(train, run_dir).fit(self.net, batches, self.loss, validate, steps)

    def training_rows(self, sequences: Ragged) -> np.ndarray:
        """``[n, max_len + 1]`` tokens: inputs are columns ``:-1``, next-item targets columns ``1:``.

        With ``samples="prefixes"`` there is one row for every prefix of two or more items.
        """
        rows = sequences.select(np.flatnonzero(sequences.lengths >= 2))
        if self.config.samples == "prefixes":
            owner, ends = rows.prefix_samples()
            rows = rows.select(owner).slice_rows(np.zeros_like(ends), ends + 1)  # each prefix with its target
        return rows.to_padded(self.config.max_len + 1, pad=-1) + 1

    def loss(self, batch: torch.Tensor) -> torch.Tensor:
        inputs, targets = batch[:, :-1], batch[:, 1:]
        hidden = self.net(inputs)
        if self.config.samples == "prefixes":  # only the row's last target (rows are right-aligned)
            mask = torch.zeros_like(targets, dtype=torch.bool)
            mask[:, -1] = True
        else:
            mask = targets != PAD
        table = self.net.items.weight
        if self.config.loss == "ce":
            logits = hidden[mask] @ table[1:].T
            return F.cross_entropy(logits, targets[mask] - 1)
        negatives = torch.randint(1, self.n_items + 1, targets.shape, device=targets.device)
        positive = (hidden * table[targets]).sum(-1)[mask]
        negative = (hidden * table[negatives]).sum(-1)[mask]
        return (F.softplus(-positive) + F.softplus(negative)).mean()

    @torch.no_grad()
    def score(self, histories: Ragged) -> torch.Tensor:
        with eval_mode(self.net):
            tokens = histories.to_padded(self.config.max_len, pad=-1) + 1
            # shortest first, in chunks: each chunk is trimmed to its own longest history
            order = np.argsort((tokens != PAD).sum(axis=1), kind="stable")
            hidden = torch.empty(len(tokens), self.config.hidden, device=self.device)
            for chunk in np.array_split(order, max(1, math.ceil(len(order) / SCORE_CHUNK))):
                rows = torch.from_numpy(chunk).to(self.device)
                hidden[rows] = self.net(torch.from_numpy(trim(tokens[chunk])).to(self.device))[:, -1]
        return (hidden @ self.net.item_table().T).float().cpu()

    def item_embeddings(self) -> np.ndarray:
        """``[n_items, hidden]`` float32: the learned item table (for similar-item look-ups)."""
        return self.net.item_table().detach().float().cpu().numpy().copy()

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        save_yaml(directory / "config.yaml", to_dict(self.config))
        state = {k: v.cpu() for k, v in self.net.state_dict().items()}
        atomic_write(directory / "model.pt", lambda f: torch.save(state, f))

    @classmethod
    def load(cls, directory: Path, dataset: SequenceDataset) -> SASRec:
        directory = Path(directory)
        path = directory / "config.yaml"
        config = from_dict(SASRecConfig, load_yaml(path), where=str(path))
        model = cls(config, dataset, fallback_device=True)
        state = torch.load(directory / "model.pt", map_location=model.device, weights_only=True)
        trained_items = state["items.weight"].shape[0] - 1
        if trained_items != model.n_items:
            raise GenrecError(f"{directory / 'model.pt'}: trained for {trained_items} items, "
                              f"but the dataset has {model.n_items}")
        model.net.load_state_dict(state)
        return model
