"""Semantic-ID tokenizers on real data: unique IDs for every Beauty item, artefacts, determinism, errors.

Embeddings here are a seeded random projection of TF-IDF vectors of the item texts: made in a
second, deterministic, and structured like text embeddings (similar texts, near vectors), so the
tests exercise the tokenizers without loading a neural encoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from genrec.data.ragged import Ragged
from genrec.data.text import item_texts
from genrec.errors import GenrecError
from genrec.semantic_ids import TOKENIZERS, SemanticIds, Tokenizer, TokenizerOutput, get_tokenizer
from genrec.semantic_ids.build import load_or_build, tokenize_embeddings
from genrec.semantic_ids.collisions import disambiguate
from genrec.semantic_ids.report import build_report, report_markdown


@pytest.fixture(scope="session")
def beauty_texts(beauty):
    return item_texts(beauty)


@pytest.fixture(scope="session")
def beauty_embeddings(beauty_texts):
    tfidf = TfidfVectorizer(min_df=2).fit_transform(beauty_texts)
    projection = np.random.default_rng(0).standard_normal((tfidf.shape[1], 64)).astype(np.float32)
    x = np.asarray(tfidf @ projection, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _unique(ids: SemanticIds) -> bool:
    return len({tuple(ids.codes[i].tolist()) for i in range(ids.n_items)}) == ids.n_items


def test_registry_names_every_method_and_rejects_unknown():
    assert set(TOKENIZERS) == {"rq-kmeans", "rq-vae", "pq", "opq", "hierarchical"}
    with pytest.raises(GenrecError, match="unknown tokenizer 'nope'"):
        get_tokenizer("nope")


def test_rq_kmeans_gives_every_beauty_item_a_unique_id(beauty, beauty_embeddings, beauty_texts):
    ids = tokenize_embeddings(beauty_embeddings, beauty_texts, "rq-kmeans", {"iters": 10}, "tfidf")
    assert ids.n_items == beauty.n_items == 12101
    assert _unique(ids)
    assert ids.vocab_sizes[:3] == [256, 256, 256]
    report = build_report(ids, [beauty.title(i) for i in range(beauty.n_items)])
    assert report["levels"][0]["codes_used_fraction"] >= 0.9
    assert 0 <= report["collision_rate"] < 0.5
    assert (len(ids.vocab_sizes) == 4) == report["disambiguation_level"] == (report["collision_rate"] > 0)
    assert "| level |" in report_markdown(report) and report["examples"][0]["title"]


def test_opq_gives_every_beauty_item_a_unique_id_and_beats_pq(beauty, beauty_embeddings, beauty_texts):
    params = {"subspaces": 8, "iters": 8, "opq_iters": 4, "init_sample": 2048}
    ids = tokenize_embeddings(beauty_embeddings, beauty_texts, "opq", params, "tfidf")
    assert ids.n_items == beauty.n_items and _unique(ids)
    assert ids.vocab_sizes[:8] == [256] * 8
    assert ids.stats["reconstruction_mse"] < ids.stats["pq_reconstruction_mse"]


def test_save_load_round_trip(tmp_path, beauty_embeddings, beauty_texts):
    x, texts = beauty_embeddings[:1500], beauty_texts[:1500]
    ids = tokenize_embeddings(x, texts, "pq", {"subspaces": 4, "codebook_size": 16, "iters": 5}, "tfidf")
    ids.save(tmp_path / "ids")
    back = SemanticIds.load(tmp_path / "ids")
    np.testing.assert_array_equal(back.codes.values, ids.codes.values)
    np.testing.assert_array_equal(back.codes.offsets, ids.codes.offsets)
    assert (back.vocab_sizes, back.method, back.params, back.encoder) == \
        (ids.vocab_sizes, "pq", ids.params, "tfidf")
    assert back.stats["collision_rate"] == ids.stats["collision_rate"]
    assert back.item_of(ids.codes[7].tolist()) == 7


def test_deterministic_under_seed(beauty_embeddings, beauty_texts):
    x, texts = beauty_embeddings[:2000], beauty_texts[:2000]
    params = {"codebook_size": 32, "iters": 8}
    a = tokenize_embeddings(x, texts, "rq-kmeans", params).as_array()
    b = tokenize_embeddings(x, texts, "rq-kmeans", params).as_array()
    c = tokenize_embeddings(x, texts, "rq-kmeans", {**params, "seed": 1}).as_array()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_load_or_build_reuses_matching_ids_and_rebuilds_others(tmp_path, beauty, beauty_embeddings,
                                                                beauty_texts, monkeypatch):
    import genrec.semantic_ids.build as build

    params = {"codebook_size": 16, "iters": 3, "levels": 2}
    made = []

    def fake_build(dataset, method, params, encoder, cache):
        made.append(method)
        ids = tokenize_embeddings(beauty_embeddings, beauty_texts, method, params, encoder)
        ids.stats["dataset"] = dataset.name
        return ids

    monkeypatch.setattr(build, "build_semantic_ids", fake_build)
    first = load_or_build(tmp_path, beauty, "rq-kmeans", params, "tfidf")
    again = load_or_build(tmp_path, beauty, "rq-kmeans", params, "tfidf")
    np.testing.assert_array_equal(first.codes.values, again.codes.values)
    assert made == ["rq-kmeans"]
    load_or_build(tmp_path, beauty, "rq-kmeans", {**params, "seed": 3}, "tfidf")
    assert made == ["rq-kmeans", "rq-kmeans"]


def test_collisions_get_a_numbering_level():
    codes = np.array([[1, 2], [1, 2], [0, 0], [1, 2]])
    out = disambiguate(codes, [4, 4])
    assert out.codes.tolist() == [[1, 2, 0], [1, 2, 1], [0, 0, 0], [1, 2, 2]]
    assert out.vocab_sizes == [4, 4, 3]
    assert out.collision_rate == pytest.approx(0.5) and out.colliding_items == 3
    assert not disambiguate(np.array([[0], [1]]), [2]).added_level


def test_collisions_in_variable_length_ids():
    codes = Ragged.from_lists([[0, 1], [0, 1], [1], [0, 2, 0]])
    out = disambiguate(codes, [2, 3, 1])
    assert out.codes.to_lists() == [[0, 1, 0], [0, 1, 1], [1], [0, 2, 0]]
    assert out.vocab_sizes == [2, 3, 2]


@pytest.mark.parametrize("bad, match", [
    (np.zeros((10, 8), dtype=np.float32), "at least as many items"),
    (np.full((300, 8), np.nan, dtype=np.float32), "NaN"),
    (np.zeros((0, 8), dtype=np.float32), "empty"),
    (np.zeros(8, dtype=np.float32), "2-D"),
])
def test_bad_embeddings_are_clear_errors(bad, match):
    with pytest.raises(GenrecError, match=match):
        tokenize_embeddings(bad, ["t"] * len(bad), "rq-kmeans", {"codebook_size": 256})


def test_bad_options_are_clear_errors(beauty_embeddings):
    with pytest.raises(GenrecError, match="unknown option 'levelz'"):
        tokenize_embeddings(beauty_embeddings[:500], [], "rq-kmeans", {"levelz": 2})
    with pytest.raises(GenrecError, match="subspaces"):
        tokenize_embeddings(beauty_embeddings[:500], [], "pq", {"subspaces": 65, "codebook_size": 8})


def test_tokenize_command_writes_ids_and_report(tmp_path, monkeypatch, beauty_texts, beauty_embeddings):
    from typer.testing import CliRunner

    from genrec.cli import app
    from genrec.embeddings.cache import cache_path

    monkeypatch.setenv("GENREC_CACHE", str(tmp_path / "cache"))
    cached = cache_path(beauty_texts, "minilm")  # stand-in vectors where the MiniLM ones would be cached
    cached.parent.mkdir(parents=True)
    np.save(cached, beauty_embeddings)
    runner = CliRunner()
    result = runner.invoke(app, ["tokenize", "--method", "rq-kmeans", "--set", "levels=2", "--set", "iters=5",
                                 "--out", str(tmp_path / "ids"), "--report"])
    assert result.exit_code == 0, result.output
    assert "| level |" in result.output and "collision rate" in result.output
    ids = SemanticIds.load(tmp_path / "ids")
    assert ids.n_items == 12101 and ids.params["levels"] == 2 and ids.encoder == "minilm"
    assert (tmp_path / "ids" / "report.json").is_file() and (tmp_path / "ids" / "report.md").is_file()

    bad = runner.invoke(app, ["tokenize", "--method", "nope"])
    assert bad.exit_code == 2 and "unknown tokenizer 'nope'" in bad.output and "Traceback" not in bad.output


@dataclass
class _WordsConfig:
    seed: int = 0


class _Words(Tokenizer):
    """A lexical stand-in: one word per item, two items share one."""

    name = "words"
    Config = _WordsConfig

    def fit(self, embeddings, texts):
        return TokenizerOutput(np.array([[0], [0], [1]]), [2], token_names=[["red", "blue"]])


def test_lexical_ids_name_their_disambiguation_codes(monkeypatch):
    monkeypatch.setitem(TOKENIZERS, "words", f"{__name__}:_Words")
    ids = tokenize_embeddings(np.zeros((3, 2), np.float32), ["a", "b", "c"], "words")
    assert [ids.id_text(i) for i in range(3)] == ["red #0", "red #1", "blue #0"]
