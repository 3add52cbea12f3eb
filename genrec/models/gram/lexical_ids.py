"""Item IDs written as words: hierarchical lexical IDs (GRAM's default) or flat ones (its ablation).

Hierarchical IDs come from the hierarchical k-means lexical tokenizer: similar items share ID
prefixes and every code is named by a word. The "without hierarchy" ablation asks the same tokenizer
for one level of clusters with items named inside their cluster (``flat=True``), so IDs share at most
their first word. IDs of any other tokenizer are usable too: codes without names are named ``a12``,
``b3``... by level.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from genrec.data.dataset import SequenceDataset
from genrec.semantic_ids.codes import SemanticIds


def with_names(ids: SemanticIds) -> SemanticIds:
    """``ids`` with a word for every code, naming unnamed codes ``<level letter><code>``."""
    if ids.token_names is not None:
        return ids
    names = [[f"{chr(ord('a') + level)}{code}" for code in range(size)]
             for level, size in enumerate(ids.vocab_sizes)]
    return replace(ids, token_names=names)


def id_words(ids: SemanticIds) -> list[str]:
    """Every word that can appear in an ID, each once (the backbone must have them as single tokens)."""
    return list(dict.fromkeys(word for level in ids.token_names for word in level))


def lexical_ids(dataset: SequenceDataset, hierarchy: bool, method: str, params: dict, encoder: str,
                ids_dir: str, run_dir: Path | None) -> SemanticIds:
    """The items' lexical IDs: loaded from ``ids_dir``, else built by ``method`` (flat when
    ``hierarchy`` is off) and kept in ``run_dir/semantic_ids`` so that a resumed run reuses them."""
    if ids_dir:
        return with_names(SemanticIds.load(Path(ids_dir)))
    from genrec.semantic_ids.build import build_semantic_ids, load_or_build

    params = dict(params or {}) | ({} if hierarchy else {"flat": True})
    if run_dir is None:
        return with_names(build_semantic_ids(dataset, method, params, encoder=encoder))
    return with_names(load_or_build(Path(run_dir) / "semantic_ids", dataset, method, params, encoder))
