"""GRAM: prompts as specified (golden examples on real Beauty items), ablation switches that change only
their part of the input, a decoder that beam search drives correctly, and a tiny model that trains."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genrec.data.dataset import SequenceDataset, leave_one_out
from genrec.data.ragged import Ragged
from genrec.decoding import exhaustive_scores
from genrec.errors import GenrecError
from genrec.models.gram import Gram, GramConfig
from genrec.models.gram import lexical_ids as lexical
from genrec.models.gram.lexical_ids import with_names
from genrec.models.gram.model import DecoderLayer, Memory
from genrec.models.gram.prompts import (
    UserPrompts,
    field_texts,
    item_prompt_texts,
    newest_first,
    text_cut_share,
    user_prompt_text,
)
from genrec.models.gram.recommender import length_bucketed, sample_batch, training_batches
from genrec.models.gram.similar import top_k_similar
from genrec.semantic_ids.codes import SemanticIds
from genrec.training.config import TrainConfig

TINY = dict(d_model=32, heads=2, d_ff=64, encoder_layers=1, decoder_layers=1, decoder_heads=2, decoder_ff=64,
            max_items=5, user_prompt_len=48, item_prompt_len=40, top_k_similar=2, beam_size=8, dropout=0.0,
            vocab_min_count=1)


def stand_in_ids(n_items: int) -> SemanticIds:
    """Three-level lexical IDs (8 x 8 per top word) named by words, as the hierarchical tokenizer makes."""
    i = np.arange(n_items)
    codes = np.stack([i // 64, (i // 8) % 8, i % 8], axis=1)
    top = n_items // 64 + 1
    names = [[f"top{c}" for c in range(top)], [f"mid{c}" for c in range(8)], [f"leaf{c}" for c in range(8)]]
    return SemanticIds.from_array(codes, [top, 8, 8], "stand-in", token_names=names)


def flat_stand_in(n_items: int) -> SemanticIds:
    """IDs of the "without hierarchy" ablation: one level of clusters, items named inside their cluster."""
    i = np.arange(n_items)
    top = n_items // 64 + 1
    names = [[f"group{c}" for c in range(top)], [f"item{c}" for c in range(64)]]
    return SemanticIds.from_array(np.stack([i // 64, i % 64], axis=1), [top, 64], "flat", token_names=names)


@pytest.fixture(scope="module")
def small(beauty) -> SequenceDataset:
    """The first 40 Beauty users and the items they bought, renumbered: real text, tiny catalogue."""
    seqs = beauty.sequences.select(np.arange(40))
    items, inverse = np.unique(seqs.values, return_inverse=True)
    return SequenceDataset("beauty-small", beauty.item_ids[items], [beauty.item_records[i] for i in items],
                           beauty.user_ids[:40], Ragged(inverse.astype(np.int64), seqs.offsets))


@pytest.fixture(scope="module")
def parts(small):
    rng = np.random.default_rng(0)
    similar = top_k_similar(rng.normal(size=(small.n_items, 8)).astype(np.float32), TINY["top_k_similar"])
    return stand_in_ids(small.n_items), similar


def make(small, parts, **switches) -> Gram:
    torch.manual_seed(0)
    model = Gram(GramConfig(**{**TINY, **switches}), small)
    ids, similar = parts
    model.setup(small, ids if model.config.hierarchy else flat_stand_in(small.n_items), similar)
    return model


@pytest.fixture(scope="module")
def default(small, parts) -> Gram:
    return make(small, parts)


def test_golden_item_and_user_prompts(beauty):
    beauty = SequenceDataset("beauty-head", beauty.item_ids[:100], beauty.item_records[:100],
                             beauty.user_ids[:1], beauty.sequences.select(np.array([0])))
    ids = stand_in_ids(beauty.n_items)
    similar = np.full((beauty.n_items, 2), -1)
    similar[0], similar[4] = [1, 70], [2, -1]
    prompts = item_prompt_texts(beauty, ids, similar)
    assert prompts[0] == ("item: top0 mid0 leaf0; similar items: top0 mid0 leaf1, top1 mid0 leaf6; "
                          "title: OPI Nail Lacquer, Simmer and Shimmer, 0.5-Fluid Ounce; brand: OPI; "
                          "categories: Beauty, Makeup, Nails, Nail Polish")
    # HTML entities unescaped, the "Unknown" placeholder brand dropped
    assert prompts[4] == ("item: top0 mid0 leaf4; similar items: top0 mid0 leaf2; title: Dr. Scholl's "
                          "Quick Heat Paraffin Spa Bath; brand: Dr. Scholl's; categories: Beauty, Skin Care, "
                          "Hands & Nails, Paraffin Baths")
    assert "brand" not in item_prompt_texts(beauty, ids, None)[2]
    assert item_prompt_texts(beauty, ids, None, linking=False)[0].startswith("title: OPI Nail Lacquer")
    # the user prompt lists the history newest first, and keeps only the most recent items
    assert user_prompt_text(beauty.sequences[0], ids, 20) == (
        "What would the user purchase after top0 mid0 leaf4 ; top0 mid0 leaf3 ; top0 mid0 leaf2 ; "
        "top0 mid0 leaf1 ; top0 mid0 leaf0 ?")
    assert user_prompt_text(beauty.sequences[0], ids, 2) == (
        "What would the user purchase after top0 mid0 leaf4 ; top0 mid0 leaf3 ?")


def test_text_cut_share_matches_truncation(default, small):
    tokenizer, prompts, texts = default.tokenizer, default.prompt_texts, field_texts(small)
    assert text_cut_share(tokenizer, prompts, texts, 10_000) == 0.0
    assert text_cut_share(tokenizer, prompts, texts, 3) == 1.0
    # the first cut length whose prompt ends in the item's first text token is where the text starts
    first = tokenizer(texts[0], add_special_tokens=False)["input_ids"][0]
    full = tokenizer(prompts[0])["input_ids"]
    keeps = next(n for n in range(1, len(full) + 1)
                 if tokenizer(prompts[0], truncation=True, max_length=n)["input_ids"][-1] == first)
    assert text_cut_share(tokenizer, prompts[:1], texts[:1], keeps) == 0.0
    assert text_cut_share(tokenizer, prompts[:1], texts[:1], keeps - 1) == 1.0


def test_user_prompt_tokens_equal_tokenised_text(default, small):
    histories = small.sequences.select(np.arange(10))
    tokens, lengths = default.user_prompts(histories)
    for row in range(10):
        text = user_prompt_text(histories[row], default.ids, TINY["max_items"])
        expected = default.tokenizer(text, truncation=True, max_length=TINY["user_prompt_len"])["input_ids"]
        assert tokens[row, : lengths[row]].tolist() == expected
        assert (tokens[row, lengths[row]:] == default.tokenizer.pad_token_id).all()
    # a prompt too long for max_len loses its oldest IDs, not its question mark
    short, short_lengths = UserPrompts(default.tokenizer, default.ids, TINY["max_items"], 16)(histories)
    question = default.tokenizer("?", add_special_tokens=False)["input_ids"][0]
    assert (short_lengths <= 16).all() and (short[np.arange(10), short_lengths - 1] == question).all()
    assert (short[:, :10] == tokens[:, :10]).all()  # the prefix and the newest IDs are kept
    # every ID word is one token of the vocabulary
    words = [w for level in default.ids.token_names for w in level]
    assert all(len(ids) == 1 for ids in default.tokenizer(words, add_special_tokens=False)["input_ids"])


def test_newest_first_and_prefix_samples():
    histories = Ragged.from_lists([[1, 2, 3], [], [4, 5]])
    assert newest_first(histories, 2).to_lists() == [[3, 2], [], [5, 4]]
    train = Ragged.from_lists([[7, 8, 9], [5], [1, 2]])
    users, ends = train.prefix_samples()
    assert users.tolist() == [0, 0, 2] and ends.tolist() == [1, 2, 1]
    h, t = sample_batch(train, users, ends, max_items=1)
    assert h.to_lists() == [[7], [8], [1]] and t.tolist() == [8, 9, 2]


def test_length_bucketed_batches_cover_every_sample_once():
    lengths = np.random.default_rng(0).integers(1, 20, size=1000)
    batches = length_bucketed(lengths, 32, seed=1, pool=5)
    assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(1000))
    assert np.mean([np.ptp(lengths[b]) for b in batches]) < 8  # similar lengths together
    users, _ = Ragged.from_lists([[1, 2, 3], [4], [5, 6], [7, 8, 9, 10]]).prefix_samples()
    config = GramConfig(batching="users", train=TrainConfig(batch_size=2))
    batches = training_batches(users, np.zeros_like(users), config, seed=0)
    order = np.concatenate(batches)
    assert sorted(order.tolist()) == list(range(6)) and all(len(b) <= 2 for b in batches)
    runs = users[order][np.r_[True, np.diff(users[order]) != 0]]
    assert len(runs) == len(set(runs.tolist()))  # each user's samples stay together


def _strip(prompt: str, label: str) -> str:
    return "; ".join(p for p in prompt.split("; ") if not p.startswith(label))


@pytest.mark.parametrize("switch", ["collaborative", "linking", "hierarchy", "user_prompt", "item_prompts",
                                    "position"])
def test_each_ablation_changes_only_its_part(default, small, parts, switch):
    ablated = make(small, parts, **{switch: False})
    histories = small.sequences.select(np.arange(8))
    base, other = default.prompt_batch(histories), ablated.prompt_batch(histories)
    same_items = [other.item_slots is not None and torch.equal(getattr(base, f), getattr(other, f))
                  for f in ("item_slots", "items", "item_tokens")]
    if switch in ("collaborative", "linking"):
        label = "similar items:" if switch == "collaborative" else "item:"
        assert all(label not in p for p in ablated.prompt_texts)
        assert [_strip(p, label) for p in default.prompt_texts] == ablated.prompt_texts
        assert torch.equal(base.user_tokens, other.user_tokens)
    elif switch == "hierarchy":
        assert ablated.id_text(3) == "group0 item3"
        assert ablated.prompt_texts[3].startswith("item: group0 item3;")
        assert [_strip(_strip(p, "item:"), "similar items:") for p in default.prompt_texts] == \
            [_strip(_strip(p, "item:"), "similar items:") for p in ablated.prompt_texts]
        assert (ablated.similar == default.similar).all()
    elif switch == "user_prompt":
        assert other.user_tokens is None and all(same_items)
    elif switch == "item_prompts":
        assert other.item_slots is None and other.item_tokens is None
        assert torch.equal(base.user_tokens, other.user_tokens)
    else:  # position: same input, no position embedding
        assert ablated.net.position is None and default.net.position is not None
        assert torch.equal(base.user_tokens, other.user_tokens) and all(same_items)
    if switch not in ("collaborative", "linking", "hierarchy"):
        assert ablated.prompt_texts == default.prompt_texts


def test_distinct_items_encoded_once_and_cache_match(default, small):
    train = leave_one_out(small).train
    histories, targets = sample_batch(train, *train.prefix_samples(), 5)
    default.net.eval()
    deduped, full = default.prompt_batch(histories, dedup=True), default.prompt_batch(histories, dedup=False)
    assert len(deduped.items) == len(np.unique(newest_first(histories, 5).values)) < len(full.items)
    with torch.no_grad():
        a, b = default.loss(histories, targets, dedup=True), default.loss(histories, targets, dedup=False)
        default.refresh_cache()
        c = default.loss(histories, targets)
    default.cache = None
    assert torch.allclose(a, b, atol=1e-5) and torch.allclose(a, c, atol=2e-2)


def test_beam_search_matches_exhaustive_scoring(default, small):
    histories = small.sequences.select(np.arange(4))
    default.net.eval()
    with torch.no_grad():
        state = default.net.start(default.prompt_batch(histories))
        exact = exhaustive_scores(default.net, state, default.ids, 4)
    wide = Gram(dataclasses.replace(default.config, beam_size=small.n_items), small)
    wide.__dict__.update({k: v for k, v in default.__dict__.items() if k != "config"})
    items, scores = wide.recommend(histories, 10)
    top = exact.topk(10, dim=1)
    assert np.array_equal(items, top.indices.numpy())
    assert np.allclose(scores, top.values.numpy(), atol=1e-4)


def fit_and_measure_loss(model: Gram, dataset: SequenceDataset, splits) -> tuple[float, dict, float]:
    """Evaluation-mode loss on a fixed training batch before and after ``fit``, and fit's summary."""
    users, ends = splits.train.prefix_samples()
    histories, targets = sample_batch(splits.train, users, ends, model.config.max_items)

    def loss() -> float:
        model.net.eval()
        with torch.no_grad():
            return model.loss(histories, targets).item()

    before = loss()
    summary = model.fit(dataset, splits, None)
    return before, summary, loss()


def test_tiny_gram_trains_and_decodes_only_valid_items(small, parts, tmp_path):
    splits = leave_one_out(small)
    model = make(small, parts, valid_users=8)
    model.config.train = TrainConfig(epochs=2, batch_size=16, lr=3e-3, progress=False, patience=0, seed=0)
    before, summary, after = fit_and_measure_loss(model, small, splits)
    assert after < before and summary["epochs"] == 2
    items, scores = model.recommend(splits.test.histories, 10, exclude_history=True)
    assert items.shape == (len(splits.test), 10) and ((items >= 0) & (items < small.n_items)).all()
    assert all(len(set(row)) == 10 for row in items.tolist())
    assert not any(set(row) & set(h) for row, h in zip(items.tolist(), splits.test.histories.to_lists()))
    assert (np.diff(scores, axis=1) <= 1e-6).all()
    model.save(tmp_path / "gram")
    again = Gram.load(tmp_path / "gram", small)
    reloaded = again.recommend(splits.test.histories, 10)[0]
    assert np.array_equal(reloaded, model.recommend(splits.test.histories, 10)[0])


@pytest.mark.cuda
@pytest.mark.parametrize("switches", [{}, {"item_encoder": "words", "id_alignment_items": 4},
                                      {"cache_items": True}])
def test_on_a_gpu_it_recommends_as_on_the_cpu_trains_and_reloads(small, parts, tmp_path, switches):
    splits = leave_one_out(small)
    histories = splits.test.histories
    cpu, gpu = make(small, parts, **switches), make(small, parts, device="cuda", **switches)
    assert all(p.is_cuda for p in gpu.net.parameters()) and gpu.trie.node_item.is_cuda
    (a, score_a), (b, score_b) = (m.recommend(histories, 10, exclude_history=True) for m in (cpu, gpu))
    np.testing.assert_allclose(score_b, score_a, atol=1e-3)
    assert (a == b).mean() > 0.99  # near-ties may swap
    gpu.config.valid_users = 8
    gpu.config.train = TrainConfig(epochs=2, batch_size=16, lr=3e-3, progress=False, patience=0, seed=0)
    before, _, after = fit_and_measure_loss(gpu, small, splits)
    assert after < before
    gpu.save(tmp_path / "gram")
    loaded = Gram.load(tmp_path / "gram", small)
    assert loaded.device.type == "cuda"
    assert np.array_equal(loaded.recommend(histories, 10)[0], gpu.recommend(histories, 10)[0])


@pytest.mark.parametrize("item_prompts", [True, False])
def test_neighbours_are_computed_only_for_item_prompts(small, monkeypatch, item_prompts):
    """Similar items are only ever written into item prompts: without them, fit must not train or read a
    SASRec run for neighbours (the "without item prompts" ablation would otherwise pay for one)."""
    calls = []
    monkeypatch.setattr("genrec.models.gram.recommender.lexical_ids",
                        lambda dataset, *args: stand_in_ids(dataset.n_items))

    def table(dataset, *args):
        calls.append(1)
        return np.eye(dataset.n_items, 8, dtype=np.float32)

    monkeypatch.setattr("genrec.models.gram.recommender.sasrec_item_table", table)
    model = Gram(GramConfig(**{**TINY, "item_prompts": item_prompts, "valid_users": 4}), small)
    model.config.train = TrainConfig(epochs=1, batch_size=64, progress=False, patience=0, seed=0)
    model.fit(small, leave_one_out(small), None)
    assert calls == ([1] if item_prompts else [])
    assert (model.similar is not None) == item_prompts


def test_id_alignment_task_trains_every_items_id_from_its_prompt(small, parts, tmp_path):
    """With id_alignment_items, fit also teaches the decoder items' own IDs from their prompts (items
    drawn uniformly, so items that are never targets too); the model still decodes valid items and
    saves and loads with its alignment start vector."""
    splits = leave_one_out(small)
    model = make(small, parts, valid_users=8, id_alignment_items=16)
    model.config.train = TrainConfig(epochs=2, batch_size=16, lr=3e-3, progress=False, patience=0, seed=0)
    users, ends = splits.train.prefix_samples()
    probe = np.setdiff1d(np.arange(small.n_items), sample_batch(splits.train, users, ends, 5)[1])
    assert len(probe) > 0  # items that next-item prediction never asks for

    def alignment_loss() -> float:
        model.net.eval()
        with torch.no_grad():
            return model.alignment_loss(probe).item()

    before = alignment_loss()
    start = model.net.alignment_start.detach().clone()
    model.fit(small, splits, None)
    assert alignment_loss() < before and not torch.equal(model.net.alignment_start, start)
    with torch.no_grad():  # the alignment start marks the task: the same input gives another loss
        model.net.eval()
        batch = model.prompt_batch(Ragged.from_lists([[i] for i in probe[:4].tolist()]))
        codes = model.target_codes(probe[:4])
        assert model.net.loss(batch, codes, alignment=True) != model.net.loss(batch, codes)
    items, _ = model.recommend(splits.test.histories, 5)
    assert ((items >= 0) & (items < small.n_items)).all()
    model.save(tmp_path / "gram")
    assert np.array_equal(Gram.load(tmp_path / "gram", small).recommend(splits.test.histories, 5)[0], items)
    with pytest.raises(GenrecError, match="item_prompts"):
        Gram(GramConfig(**{**TINY, "item_prompts": False, "id_alignment_items": 4}), small)


def test_id_alignment_prompts_leave_the_items_own_id_out(small, parts):
    """The alignment task must infer an item's ID from its content: its prompts are the item prompts
    without linking (with linking they would hold the answer), cached like the item prompts."""
    unlinked = make(small, parts, linking=False, id_alignment_items=4)
    assert unlinked.alignment_tokens is unlinked.item_tokens
    model = make(small, parts, id_alignment_items=4, cache_items=True)
    assert torch.equal(model.alignment_tokens, unlinked.item_tokens)
    assert not torch.equal(model.item_tokens[:, :model.alignment_tokens.shape[1]], model.alignment_tokens)
    items = np.arange(6)
    model.net.eval()
    with torch.no_grad():
        read = model.alignment_loss(items)
        model.refresh_cache()
        assert model.alignment_cache is not None and model.alignment_cache is not model.cache
        assert torch.allclose(model.alignment_loss(items), read, atol=2e-2)


def test_t5_checkpoint_by_path(default, small, parts, tmp_path):
    """Any Hugging Face T5 folder works as the backbone: here one saved from a small T5 configuration."""
    from transformers import T5Config, T5EncoderModel

    folder = tmp_path / "t5"
    T5EncoderModel(T5Config(vocab_size=len(default.tokenizer), d_model=32, d_kv=16, d_ff=64, num_layers=1,
                            num_heads=2)).save_pretrained(folder)
    default.tokenizer.save_pretrained(folder)
    model = make(small, parts, t5_checkpoint=str(folder))
    assert len(model.tokenizer) == len(default.tokenizer) and model.net.backbone.dim == 32
    items, _ = model.recommend(small.sequences.select(np.arange(3)), 5)
    assert ((items >= 0) & (items < small.n_items)).all()


def test_top_k_similar_is_cosine_without_self():
    x = np.random.default_rng(1).normal(size=(50, 6)).astype(np.float32)
    top = top_k_similar(x, 4, chunk=7)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    assert np.array_equal(top, np.argsort(-sims, axis=1)[:, :4])
    assert top_k_similar(x[:2], 3).tolist() == [[1, -1, -1], [0, -1, -1]]


def test_without_hierarchy_asks_the_tokenizer_for_flat_ids(small, monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr("genrec.semantic_ids.build.load_or_build",
                        lambda directory, dataset, method, params, encoder: calls.append((method, params))
                        or stand_in_ids(dataset.n_items))
    lexical.lexical_ids(small, False, "hierarchical", {"k": 32}, "minilm", "", tmp_path)
    lexical.lexical_ids(small, True, "hierarchical", {"k": 32}, "minilm", "", tmp_path)
    assert calls == [("hierarchical", {"k": 32, "flat": True}), ("hierarchical", {"k": 32})]


def test_unnamed_codes_get_level_words():
    ids = with_names(SemanticIds.from_array(np.array([[0, 1], [1, 0]]), [2, 2], "rq"))
    assert ids.id_text(0) == "a0 b1"


def test_minilm_backbone_trains_with_cached_items_and_decodes_valid_items(small, parts):
    """The offline all-MiniLM-L6-v2 encoder as the backbone, its vocabulary grown by the ID words, with
    the frozen item-prompt cache: the loss falls and decoding gives real, distinct items."""
    splits = leave_one_out(small)
    model = make(small, parts, backbone="minilm", cache_items=True, valid_users=8, max_items=3,
                 user_prompt_len=32, item_prompt_len=24)
    assert model.net.backbone.dim == 384
    assert all(word in model.tokenizer.get_vocab() for word in ("top0", "mid7", "leaf3"))
    model.config.train = TrainConfig(epochs=1, batch_size=16, lr=1e-3, progress=False, patience=0, seed=0)
    before, _, after = fit_and_measure_loss(model, small, splits)
    assert after < before
    items, _ = model.recommend(splits.test.histories.select(np.arange(5)), 5)
    assert ((items >= 0) & (items < small.n_items)).all() and all(len(set(r)) == 5 for r in items.tolist())


def test_minilm_item_encoder_reads_item_prompts_with_its_own_tokenizer(small, parts, tmp_path):
    """``item_encoder="minilm"``: item prompts in MiniLM's WordPiece, read by the frozen MiniLM (cached,
    projected to the small backbone's width); user prompts stay with the trained T5. The loss falls,
    the MiniLM weights do not move, and a saved model decodes the same items."""
    from transformers import AutoTokenizer

    splits = leave_one_out(small)
    model = make(small, parts, item_encoder="minilm", valid_users=8, max_items=3, item_prompt_len=24)
    assert model.cached and model.net.item_encoder.dim == 384 and model.net.backbone.dim == TINY["d_model"]
    wordpiece = AutoTokenizer.from_pretrained(model._minilm_path())
    expected = wordpiece(model.prompt_texts[0], truncation=True, max_length=24)["input_ids"]
    assert model.item_tokens[0, : model.item_lengths[0]].tolist() == expected
    start = {k: v.clone() for k, v in model.net.item_encoder.state_dict().items()}
    model.config.train = TrainConfig(epochs=1, batch_size=16, lr=1e-3, progress=False, patience=0, seed=0)
    before, _, after = fit_and_measure_loss(model, small, splits)
    assert after < before
    assert all(torch.equal(start[k], v) for k, v in model.net.item_encoder.state_dict().items())
    histories = splits.test.histories.select(np.arange(5))
    items, _ = model.recommend(histories, 5)
    assert ((items >= 0) & (items < small.n_items)).all() and all(len(set(r)) == 5 for r in items.tolist())
    model.save(tmp_path)
    assert np.array_equal(Gram.load(tmp_path, small).recommend(histories, 5)[0], items)


def test_word_reader_reads_item_prompts_with_the_trained_word_vectors(small, parts, tmp_path):
    """``item_encoder="words"``: an item prompt's states are its tokens' word vectors (the decoder's
    output vectors, one parameter) plus their places; they train with the model, so nothing is cached,
    and a saved model decodes the same items."""
    splits = leave_one_out(small)
    model = make(small, parts, item_encoder="words", valid_users=8, max_items=3, user_prompt=False)
    reader, words = model.net.item_encoder, model.net.backbone.embeddings
    assert not model.cached and reader.words is words
    history = Ragged.from_lists([[3, 5]])
    memory = model.net.encode(model.prompt_batch(history))
    newest, older = (model.item_tokens[i, : model.item_lengths[i]] for i in (5, 3))
    expected = torch.cat([words(t) + reader.places.weight[: len(t)] for t in (newest, older)])
    assert torch.equal(memory.states[0][0], expected) and memory.masks[0].all()
    assert memory.slots[0][0].tolist() == [1] * len(newest) + [2] * len(older)
    start = words.weight.detach().clone()
    model.config.train = TrainConfig(epochs=1, batch_size=16, lr=1e-3, progress=False, patience=0, seed=0)
    before, _, after = fit_and_measure_loss(model, small, splits)
    assert after < before and not torch.equal(words.weight, start) and model.cache is None
    histories = splits.test.histories.select(np.arange(5))
    items, _ = model.recommend(histories, 5)
    assert ((items >= 0) & (items < small.n_items)).all() and all(len(set(r)) == 5 for r in items.tolist())
    model.save(tmp_path)
    assert np.array_equal(Gram.load(tmp_path, small).recommend(histories, 5)[0], items)
    with pytest.raises(GenrecError, match="cannot be cached"):
        Gram(GramConfig(**{**TINY, "item_encoder": "words", "cache_items": True}), small)


def test_cached_item_encodings_stay_what_the_decoder_was_trained_on(small, parts, tmp_path):
    """With ``cache_items`` the item prompts are read by a frozen copy of the initial encoder: training
    moves the shared encoder (user prompts) but not the item encodings, and a saved model rebuilds the
    same cache."""
    splits = leave_one_out(small)
    model = make(small, parts, cache_items=True, valid_users=8, max_items=3)
    model.config.train = TrainConfig(epochs=1, batch_size=16, lr=1e-2, progress=False, patience=0, seed=0)
    start = {k: v.clone() for k, v in model.net.backbone.state_dict().items()}
    model.refresh_cache()
    before = model.cache.states.clone()
    summary = model.fit(small, splits)
    moved = any(not torch.equal(start[k], v) for k, v in model.net.backbone.state_dict().items())
    assert moved and all(not p.requires_grad for p in model.net.item_encoder.parameters())
    frozen = sum(p.numel() for p in model.net.item_encoder.parameters())
    assert summary["frozen_parameters"] == frozen
    assert summary["parameters"] == sum(p.numel() for p in model.net.parameters()) - frozen
    model.refresh_cache()
    assert torch.equal(model.cache.states, before)
    model.save(tmp_path)
    loaded = Gram.load(tmp_path, small)
    loaded.refresh_cache()
    assert torch.equal(loaded.cache.states, before)


def test_cross_attention_with_folded_projections_equals_attending_to_projected_memory():
    """``cross_attend`` never projects the memory into keys and values, nor adds the position embeddings
    to it; it must still compute exactly multi-head attention over ``cross_kv(states + positions)``
    across all segments, padding masked, with the same gradients for the trained parts."""
    torch.manual_seed(0)
    layer = DecoderLayer(dim=32, heads=4, ff=64, dropout=0.1).eval()
    x = torch.randn(3, 5, 32, requires_grad=True)
    user, items = torch.randn(3, 4, 32, requires_grad=True), torch.randn(3, 11, 32)  # items frozen
    positions = torch.randn(6, 32, requires_grad=True)
    masks = [torch.rand(3, 4) > 0.3, torch.rand(3, 11) > 0.3]
    masks[0][:, 0] = True
    slots = [torch.zeros(3, 4, dtype=torch.long), torch.randint(1, 6, (3, 11))]
    memory = Memory([user, items], masks, slots, positions)

    dense, mask = memory.dense()
    k, v = layer.cross_kv(dense).chunk(2, dim=-1)
    split = layer._split
    expected = F.scaled_dot_product_attention(split(layer.cross_q(x)), split(k), split(v),
                                              attn_mask=mask[:, None, None, :]).transpose(1, 2).flatten(2)
    trained = [x, user, positions]
    expected_grads = torch.autograd.grad(expected.square().sum(), trained)
    out = layer.cross_attend(x, memory)
    assert torch.allclose(out, expected, atol=1e-5)
    for got, want in zip(torch.autograd.grad(out.square().sum(), trained), expected_grads):
        assert torch.allclose(got, want, atol=1e-4)


def test_word_vectors_from_minilm_start_the_vocabulary_and_the_frozen_item_reader(small, parts, default,
                                                                                  tmp_path, monkeypatch):
    """``word_vectors="minilm"``: every word MiniLM knows starts from its projected token embedding, special
    tokens keep the random start, and the frozen item reader (copied from the backbone) reads the same
    table, so rare ID words carry meaning in the item prompts and as output classes alike."""
    from genrec.embeddings.word_vectors import pretrained_word_vectors

    model = make(small, parts, word_vectors="minilm", cache_items=True)
    assert model.tokenizer.get_vocab() == default.tokenizer.get_vocab()
    vocab = model.tokenizer.get_vocab()
    words = sorted(vocab, key=vocab.get)
    vectors, known = pretrained_word_vectors(words, TINY["d_model"], model._minilm_path())
    table = model.net.backbone.embeddings.weight.detach()
    special = model.tokenizer.all_special_ids
    assert torch.equal(table[special], default.net.backbone.embeddings.weight.detach()[special])
    real = [i for i in np.flatnonzero(known) if i not in special]
    assert torch.allclose(table[real], torch.from_numpy(vectors[real]))
    assert torch.equal(model.net.item_encoder.embeddings.weight, table)
    model.save(tmp_path)
    with monkeypatch.context() as patch:  # a saved model takes its weights from the checkpoint alone
        patch.setattr("genrec.models.gram.recommender.pretrained_word_vectors",
                      lambda *a, **k: pytest.fail("pretrained vectors read while loading a saved model"))
        loaded = Gram.load(tmp_path, small)
    assert all(torch.equal(v, loaded.net.state_dict()[k]) for k, v in model.net.state_dict().items())
    with pytest.raises(GenrecError, match="from-scratch T5"):
        Gram(GramConfig(**{**TINY, "word_vectors": "minilm", "backbone": "minilm"}), small)
