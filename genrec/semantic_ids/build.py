"""The tokenization pipeline: item texts -> embeddings (cached) -> tokenizer -> unique semantic IDs.

Models and the ``genrec tokenize`` command call this one function, so every method shares the
text template, embedding cache, collision handling and artefact format.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from genrec.config import from_dict, to_dict
from genrec.data.dataset import SequenceDataset
from genrec.data.text import ItemTextTemplate, item_texts
from genrec.embeddings.items import embed_items
from genrec.semantic_ids import get_tokenizer
from genrec.semantic_ids.base import Tokenizer
from genrec.semantic_ids.codes import META_FILE, SemanticIds
from genrec.semantic_ids.collisions import disambiguate
from genrec.training import distributed

log = logging.getLogger("genrec")


def tokenizer_config(method: str, params: dict | None) -> tuple[type[Tokenizer], object]:
    """The tokenizer class and its Config with ``params`` applied; fails fast on a bad name or option."""
    cls = get_tokenizer(method)
    return cls, from_dict(cls.Config, params, where=f"tokenizer {method}")


def tokenize_embeddings(embeddings: np.ndarray, texts: list[str], method: str, params: dict | None = None,
                        encoder: str = "") -> SemanticIds:
    """Semantic IDs for precomputed embeddings (one row per item, ``texts`` in the same order)."""
    cls, config = tokenizer_config(method, params)
    start = time.perf_counter()
    output = cls(config).fit(embeddings, texts)
    fit_seconds = time.perf_counter() - start
    unique = disambiguate(output.codes, output.vocab_sizes)
    token_names = output.token_names
    if token_names is not None:  # disambiguation codes are named by their number
        token_names = [list(names) + [f"#{c}" for c in range(len(names), size)]
                       for names, size in zip(token_names + [[]] * len(unique.vocab_sizes),
                                              unique.vocab_sizes)]
    stats = {**output.stats, "fit_seconds": fit_seconds, "collision_rate": unique.collision_rate,
             "colliding_items": unique.colliding_items, "max_items_per_id": unique.max_group,
             "disambiguation_level": unique.added_level}
    kwargs = dict(params=to_dict(config), encoder=encoder, token_names=token_names, stats=stats)
    if isinstance(unique.codes, np.ndarray):
        return SemanticIds.from_array(unique.codes, unique.vocab_sizes, method, **kwargs)
    return SemanticIds(unique.codes, unique.vocab_sizes, method, **kwargs)


def build_semantic_ids(dataset: SequenceDataset, method: str, params: dict | None = None,
                       encoder: str = "minilm", cache: bool = True, template: ItemTextTemplate | None = None,
                       progress: bool = True) -> SemanticIds:
    """Semantic IDs for every item of ``dataset`` (``params`` override the method's Config fields)."""
    tokenizer_config(method, params)  # before minutes of encoding
    texts = item_texts(dataset, template)
    start = time.perf_counter()
    embeddings = embed_items(texts, encoder, cache=cache, progress=progress)
    embed_seconds = time.perf_counter() - start
    ids = tokenize_embeddings(embeddings, texts, method, params, encoder)
    ids.stats.update(embed_seconds=embed_seconds, dataset=dataset.name)
    log.info("%s semantic IDs for %d items: collision rate %.4f", method, ids.n_items,
             ids.stats["collision_rate"])
    return ids


def load_or_build(directory: str | Path, dataset: SequenceDataset, method: str, params: dict | None = None,
                  encoder: str = "minilm", cache: bool = True) -> SemanticIds:
    """The IDs saved in ``directory`` when they were made the same way for this dataset, else build
    and save them there (how a model run keeps the IDs it was trained with)."""
    with distributed.main_first():  # in data-parallel training process 0 builds, the others load
        return _load_or_build(Path(directory), dataset, method, params, encoder, cache)


def _load_or_build(directory: Path, dataset: SequenceDataset, method: str, params: dict | None,
                   encoder: str, cache: bool) -> SemanticIds:
    if (directory / META_FILE).is_file():
        ids = SemanticIds.load(directory)
        _, config = tokenizer_config(method, params)
        same = (ids.method == method and ids.encoder == encoder and ids.params == to_dict(config)
                and ids.n_items == dataset.n_items and ids.stats.get("dataset") == dataset.name)
        if same:
            return ids
        log.info("semantic IDs in %s were made differently; rebuilding", directory)
    ids = build_semantic_ids(dataset, method, params, encoder, cache)
    ids.save(directory)
    return ids

