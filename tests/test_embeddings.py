"""Item text, the offline MiniLM encoder, the embedding cache, and collaborative fusion."""

from __future__ import annotations

import time

import numpy as np
import pytest

import genrec.embeddings.cache as cache
from genrec.data.text import ItemTextTemplate, item_texts
from genrec.embeddings import encode, fuse
from genrec.embeddings.items import parse_spec
from genrec.errors import GenrecError

TEXTS = ["Matte red lipstick", "Coconut oil 4 oz", "Nail polish, shimmer", "Paraffin spa bath", "BB cream"]


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENREC_CACHE", str(tmp_path))
    monkeypatch.delenv("GENREC_ALLOW_DOWNLOAD", raising=False)
    return tmp_path


def test_minilm_gives_normalised_384_d_vectors_and_caches_them(tmp_cache, monkeypatch):
    vectors = encode(TEXTS, progress=False)
    assert vectors.shape == (5, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert len(list((tmp_cache / "embeddings" / "minilm").glob("*.npy"))) == 1

    def no_model(name):
        raise AssertionError("a cache hit must not load the encoder")

    monkeypatch.setattr(cache, "get_encoder", no_model)
    start = time.perf_counter()
    again = encode(TEXTS, progress=False)
    assert time.perf_counter() - start < 0.5
    np.testing.assert_array_equal(again, vectors)
    with pytest.raises(AssertionError):  # other texts are another cache entry
        encode(TEXTS[:4], progress=False)


def test_similar_texts_are_near(tmp_cache):
    v = encode(["red lipstick", "crimson lip colour", "garden hose"], progress=False)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_unknown_encoder_is_a_clear_error(tmp_cache):
    start = time.perf_counter()
    with pytest.raises(GenrecError, match="unknown encoder 'no-such-encoder-xyz'"):
        encode(TEXTS, "no-such-encoder-xyz")
    assert time.perf_counter() - start < 10  # no network retries
    with pytest.raises(GenrecError, match="no texts"):
        encode([])


def test_item_text_template():
    template = ItemTextTemplate(max_words=8)
    record = {"title": "Freeman Facial Charcoal &amp; Black Sugar <b>Mask</b>", "brand": "Unknown",
              "categories": [["Beauty", "Skin Care"], ["Beauty", "Face"]]}
    assert template.render(record, "A1") == "Title: Freeman Facial Charcoal & Black Sugar Mask;"
    assert ItemTextTemplate(with_labels=False).render(record, "A1") == \
        "Freeman Facial Charcoal & Black Sugar Mask; Beauty, Skin Care, Face"
    assert ItemTextTemplate(fields=("brand", "title"), max_chars=20).render(
        {"title": "Lip balm", "brand": "Burt's"}, "x") == "Brand: Burt's; Title"
    assert template.render({"title": "", "brand": None}, "B00X") == "Item B00X"
    sports = {"short_text_idgenrec": "tennis racket"}
    assert ItemTextTemplate().render(sports, "9") == "Keywords: tennis racket"


def test_item_texts_cover_every_beauty_item(beauty):
    texts = item_texts(beauty)
    assert len(texts) == beauty.n_items and all(texts)
    assert texts[0].startswith("Title: OPI Nail Lacquer")
    assert not any("&amp;" in t for t in texts)


def test_fusion_and_spec():
    rng = np.random.default_rng(0)
    text, cf = rng.standard_normal((6, 4)) * 10, rng.standard_normal((6, 3))
    fused = fuse([text, cf], [1.0, 0.5])
    assert fused.shape == (6, 7)
    np.testing.assert_allclose(np.linalg.norm(fused[:, :4], axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(fused[:, 4:], axis=1), 0.5, rtol=1e-5)
    with pytest.raises(GenrecError, match="different item counts"):
        fuse([text, cf[:5]])
    assert parse_spec("minilm+cf:runs/a*0.5") == [("minilm", 1.0), ("cf:runs/a", 0.5)]
    with pytest.raises(GenrecError, match="not a number"):
        parse_spec("minilm*heavy")


def test_collaborative_embeddings_from_a_run(beauty, monkeypatch):
    import genrec.runs
    from genrec.embeddings.items import embed_items

    class Table:
        name = "sasrec"

        def item_embeddings(self):
            return np.random.default_rng(0).standard_normal((beauty.n_items, 8)).astype(np.float32)

    monkeypatch.setattr(genrec.runs, "load_run", lambda run_dir: (Table(), beauty, None))
    texts = ["t"] * beauty.n_items
    assert embed_items(texts, "cf:some/run").shape == (beauty.n_items, 8)
    fused = embed_items(texts, "cf:some/run+cf:other/run*0.5")
    assert fused.shape == (beauty.n_items, 16)
    np.testing.assert_allclose(np.linalg.norm(fused[:, 8:], axis=1), 0.5, rtol=1e-5)
    with pytest.raises(GenrecError, match="expected 3 rows"):
        embed_items(["a", "b", "c"], "cf:some/run")

    monkeypatch.setattr(genrec.runs, "load_run", lambda run_dir: (object(), beauty, None))
    with pytest.raises(GenrecError, match="no item embedding table"):
        embed_items(texts, "cf:pop/run")
