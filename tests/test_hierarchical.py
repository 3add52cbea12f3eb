"""Hierarchical lexical IDs (GRAM) on a real Beauty slice: unique, readable, made of the items' words."""

from __future__ import annotations

import numpy as np
import pytest

from genrec.data.text import item_texts
from genrec.errors import GenrecError
from genrec.semantic_ids.build import tokenize_embeddings
from genrec.semantic_ids.codes import SemanticIds
from genrec.semantic_ids.hierarchical import (
    _WORD,
    HierarchicalConfig,
    HierarchicalKMeans,
    name_children,
    term_matrix,
)

N_ITEMS, K = 2000, 32


@pytest.fixture(scope="module")
def beauty_slice(beauty):
    """Texts of the first items and cheap deterministic embeddings: IDF-weighted words, projected."""
    texts = item_texts(beauty)[:N_ITEMS]
    terms, _ = term_matrix(texts)
    idf = np.log(N_ITEMS / (1 + np.asarray(terms.sum(0)).ravel()))
    emb = terms @ (np.random.default_rng(0).standard_normal((terms.shape[1], 64)) * idf[:, None])
    return np.asarray(emb, dtype=np.float32), texts


@pytest.fixture(scope="module")
def fitted(beauty_slice):
    emb, texts = beauty_slice
    return HierarchicalKMeans(HierarchicalConfig(k=K, seed=3)).fit(emb, texts)


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def test_ids_are_unique_and_within_vocabularies(fitted):
    ids = SemanticIds(fitted.codes, fitted.vocab_sizes, "hierarchical", token_names=fitted.token_names)
    assert ids.n_items == N_ITEMS and ids.fixed_length is None
    assert fitted.vocab_sizes[0] <= K < fitted.vocab_sizes[1]
    assert [len(names) for names in fitted.token_names] == fitted.vocab_sizes
    for names in fitted.token_names:  # the same word always has the same code at a level
        assert len(set(names)) == len(names)
    rows = [tuple(r) for r in fitted.codes.to_lists()]
    prefixes = {r[:j] for r in rows for j in range(1, len(r))}
    assert not prefixes & set(rows)  # no ID is a prefix of another, so decoding knows where an ID ends
    # every split node (all but the root) has its own prefix: sibling clusters never share a word
    assert len(prefixes) == fitted.stats["nodes"] - 1


def test_names_are_words_of_the_cluster_and_never_repeat_on_a_path(fitted, beauty_slice):
    _, texts = beauty_slice
    rows = fitted.codes.to_lists()
    words_under: dict[tuple, set[str]] = {}
    for item, row in enumerate(rows):
        for j in range(1, len(row) + 1):
            words_under.setdefault(tuple(row[:j]), set()).update(_words(texts[item]))
    for item, row in enumerate(rows):
        names = [fitted.token_names[level][c] for level, c in enumerate(row)]
        assert len(set(names)) == len(names), names
        for j, name in enumerate(names):
            assert name.isdigit() or name in words_under[tuple(row[: j + 1])], (item, names)
        assert names[-1].isdigit() or names[-1] in _words(texts[item])  # the last token names the item
    assert fitted.stats["numbered_tokens"] < 0.01 * N_ITEMS


def test_siblings_get_different_words():
    presence = np.array([[3, 1, 0, 2], [3, 0, 0, 2], [1, 0, 1, 0], [1, 0, 0, 0]], dtype=float)
    names = name_children(presence, np.array([3, 3, 1, 1]), np.ones(4), np.array([False, False, False, True]))
    chosen = names[names >= 0]
    assert len(set(chosen.tolist())) == len(chosen)
    assert names.tolist()[:3] == [1, 0, 2]  # rare words win; word 3 is on the path
    assert names[3] == -1  # its only free word went to child 1 (a tie, the first child wins): numbered


def test_deterministic_under_seed_through_the_pipeline(beauty_slice, fitted):
    emb, texts = beauty_slice
    ids = tokenize_embeddings(emb, texts, "hierarchical", {"k": K, "seed": 3})  # clusters again
    assert np.array_equal(ids.codes.values, fitted.codes.values)
    assert np.array_equal(ids.codes.offsets, fitted.codes.offsets)
    assert ids.token_names == fitted.token_names and ids.stats["collision_rate"] == 0
    assert ids.id_text(0).split() == [fitted.token_names[lv][c] for lv, c in enumerate(fitted.codes[0])]


def test_flat_variant_has_two_levels(beauty_slice):
    emb, texts = beauty_slice
    out = HierarchicalKMeans(HierarchicalConfig(k=K, flat=True)).fit(emb, texts)
    SemanticIds(out.codes, out.vocab_sizes, "hierarchical", token_names=out.token_names)
    assert out.codes.lengths.max() == 2 and out.vocab_sizes[0] == K  # a cluster of one item ends its ID


@pytest.mark.parametrize("text", ["same words", ""])
def test_identical_items_still_get_unique_ids(text):
    out = HierarchicalKMeans(HierarchicalConfig(k=4)).fit(np.ones((50, 8), np.float32), [text] * 50)
    ids = SemanticIds(out.codes, out.vocab_sizes, "hierarchical", token_names=out.token_names)
    assert ids.n_items == 50 and out.stats["numbered_tokens"] > 0


def test_bad_input_is_named():
    emb = np.zeros((5, 4), np.float32)
    emb[2, 1] = np.nan
    with pytest.raises(GenrecError, match="item 2"):
        HierarchicalKMeans().fit(emb, ["a"] * 5)
    with pytest.raises(GenrecError, match="texts"):
        HierarchicalKMeans().fit(np.zeros((5, 4), np.float32), ["a"] * 4)
