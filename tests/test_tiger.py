"""TIGER on a slice of Beauty with tiny models: the step decoders reproduce the networks' own forward
passes, beam search equals exhaustive search, training lowers the loss, save/load is exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrec.data import SequenceDataset, leave_one_out
from genrec.data.ragged import Ragged
from genrec.decoding import exhaustive_scores
from genrec.errors import GenrecError
from genrec.models.tiger import PrefixSamples, Tiger, TigerConfig, WindowSamples
from genrec.semantic_ids.codes import SemanticIds
from genrec.semantic_ids.collisions import disambiguate
from genrec.semantic_ids.kmeans import kmeans
from genrec.training.config import TrainConfig

TINY = dict(layers=1, d_model=16, heads=2, d_kv=8, d_ff=32, dropout=0.0, max_history=5, decode_batch=64)


def residual_kmeans_ids(n_items: int, variable: bool = False) -> SemanticIds:
    """Two levels of residual k-means on a random embedding, plus a level telling colliding items apart;
    ``variable``: only colliding items get that third code (prefix-free, lengths 2 or 3)."""
    x = torch.randn(n_items, 8, generator=torch.Generator().manual_seed(0))
    codes = []
    for level in range(2):
        centroids, assign = kmeans(x, 16, iters=5, seed=level)
        codes.append(assign.numpy())
        x = x - centroids[assign]
    unique = disambiguate(np.stack(codes, 1), [16, 16])
    if not variable:
        return SemanticIds.from_array(unique.codes, unique.vocab_sizes, "rq-kmeans-test")
    cell = unique.codes[:, 0] * 16 + unique.codes[:, 1]
    shared = np.bincount(cell, minlength=16 * 16)[cell] > 1
    rows = [c[:3] if s else c[:2] for c, s in zip(unique.codes.tolist(), shared)]
    return SemanticIds(Ragged.from_lists(rows), unique.vocab_sizes, "rq-kmeans-test")


@pytest.fixture(scope="module")
def small(beauty):
    """The first 300 Beauty users and the items they touched."""
    sequences = beauty.sequences.select(np.arange(300))
    items, values = np.unique(sequences.values, return_inverse=True)
    return SequenceDataset("beauty-slice", beauty.item_ids[items], [beauty.item_records[i] for i in items],
                           beauty.user_ids[:300], Ragged(values.astype(np.int64), sequences.offsets))


def tiny(dataset, architecture="encoder-decoder", variable=False, **kwargs) -> Tiger:
    """A tiny TIGER; random 12-d vectors stand in for the items' text embeddings."""
    torch.manual_seed(0)
    config = TigerConfig(architecture=architecture, **{**TINY, **kwargs})
    content = torch.randn(dataset.n_items, 12, generator=torch.Generator().manual_seed(1))
    return Tiger(config, dataset, residual_kmeans_ids(dataset.n_items, variable), content)


def reference_scores(model: Tiger, histories: Ragged, items: np.ndarray) -> torch.Tensor:
    """``[n, len(items)]``: log-probability of each item's ID under one full forward pass of the network."""
    n, m = len(histories), len(items)
    targets = model.target_tokens(items)  # [m, depth], -100 past the end
    with torch.no_grad():
        if model.config.architecture == "encoder-decoder":
            tokens, mask, _ = model.encode_histories(histories)
            tokens, mask = tokens.repeat_interleave(m, 0), mask.repeat_interleave(m, 0)
            logits = model.net(input_ids=tokens, attention_mask=mask, labels=targets.repeat(n, 1)).logits
            labels = targets.repeat(n, 1)
        else:  # prompt, then the item's codes: the logits at position p predict token p + 1
            prompt, mask, at = model.encode_histories(histories, bos=True)
            lengths = mask.sum(1)
            width = prompt.shape[1] + targets.shape[1]
            seqs = torch.zeros(n * m, width, dtype=torch.int64)
            seqs[:, :prompt.shape[1]] = prompt.repeat_interleave(m, 0)
            seq_items = None
            if at is not None:
                seq_items = torch.full(seqs.shape, -1)
                seq_items[:, :prompt.shape[1]] = at.repeat_interleave(m, 0)
            position = lengths.repeat_interleave(m)[:, None] + torch.arange(targets.shape[1])
            seqs.scatter_(1, position, targets.repeat(n, 1).clamp_min(0))
            logits = model.net(seqs, seq_items)
            logits = logits.gather(1, (position - 1)[..., None].expand(-1, -1, model.n_tokens))
            labels = targets.repeat(n, 1)
    log_probs = torch.log_softmax(logits.float(), -1).gather(2, labels.clamp_min(0)[..., None]).squeeze(2)
    return torch.where(labels >= 0, log_probs, 0.0).sum(1).view(n, m)


@pytest.mark.parametrize("architecture,variable,options", [
    ("encoder-decoder", False, {}), ("encoder-decoder", True, {}), ("decoder-only", True, {}),
    ("decoder-only", True, {"item_content": True, "id_alignment_items": 4})])
def test_step_decoder_equals_full_forward_and_beam_search_equals_exhaustive(small, architecture, variable,
                                                                              options):
    model = tiny(small, architecture, variable, **options)
    model.net.eval()
    histories = leave_one_out(small).test.histories.select(np.arange(3))
    decoder, state = model.step_decoder(histories)
    exact = exhaustive_scores(decoder, state, model.ids, len(histories))
    some = np.random.default_rng(0).choice(small.n_items, 200, replace=False)
    torch.testing.assert_close(exact[:, some], reference_scores(model, histories, some), atol=2e-4, rtol=1e-4)
    # a beam as wide as the catalogue is exhaustive search
    model.config.beam_size = small.n_items
    items, scores = model.recommend(histories, 10)
    top = exact.topk(10, dim=1)
    assert np.array_equal(items, top.indices.numpy())
    np.testing.assert_allclose(scores, top.values.numpy(), rtol=1e-4, atol=1e-4)


def test_recommendations_are_valid_distinct_and_respect_exclusion(small):
    model = tiny(small, beam_size=12)
    histories = leave_one_out(small).test.histories
    items, scores = model.recommend(histories, 10, exclude_history=True)
    assert items.shape == (len(histories), 10) and (items >= 0).all() and (items < small.n_items).all()
    assert all(len(set(row)) == 10 for row in items.tolist())
    assert (np.diff(scores, axis=1) <= 1e-6).all()
    for row, seen in zip(items.tolist(), histories.to_lists()):
        assert not set(row) & set(seen)


def test_samples_cover_every_training_target_once(small):
    train = leave_one_out(small).train
    expected = sum(max(len(s) - 1, 0) for s in train.to_lists())
    prefixes = PrefixSamples(train, 5)
    windows = WindowSamples(train, 5)
    assert len(prefixes) == expected
    targets = sum(len(w) - 1 for batch, _ in windows.batches(0, 64, 0) for w in batch.to_lists())
    assert targets == expected
    batch_sizes = [len(h) for h, _ in prefixes.batches(0, 64, 0)]
    assert sum(batch_sizes) == expected and max(batch_sizes) == 64


@pytest.mark.parametrize("architecture,options", [
    ("encoder-decoder", {}), ("decoder-only", {}),
    ("decoder-only", {"item_content": True, "id_alignment_items": 8})])
def test_training_lowers_the_loss_and_save_load_is_exact(small, tmp_path, architecture, options):
    model = tiny(small, architecture, valid_users=32, beam_size=8, **options,
                 train=TrainConfig(epochs=2, batch_size=64, lr=3e-3, warmup_ratio=0.0, schedule="constant",
                                   patience=0, eval_every=2, progress=False))
    splits = leave_one_out(small)
    summary = model.fit(small, splits, None)
    losses = [entry["loss"] for entry in summary["history"]]
    assert losses[-1] < losses[0]
    model.save(tmp_path / "model")
    loaded = Tiger.load(tmp_path / "model", small)
    histories = splits.test.histories.select(np.arange(50))
    (a, score_a), (b, score_b) = model.recommend(histories, 10), loaded.recommend(histories, 10)
    assert np.array_equal(a, b)
    np.testing.assert_array_equal(score_a, score_b)


@pytest.mark.cuda
@pytest.mark.parametrize("architecture,options", [
    ("encoder-decoder", {}), ("decoder-only", {"item_content": True, "id_alignment_items": 8})])
def test_on_a_gpu_it_recommends_as_on_the_cpu_trains_and_reloads(small, tmp_path, architecture, options):
    histories = leave_one_out(small).test.histories
    cpu = tiny(small, architecture, variable=True, **options)
    gpu = tiny(small, architecture, variable=True, device="cuda", **options)  # the same initial weights
    assert all(p.is_cuda for p in gpu.net.parameters()) and gpu.trie.node_item.is_cuda
    (a, score_a), (b, score_b) = (m.recommend(histories, 10, exclude_history=True) for m in (cpu, gpu))
    np.testing.assert_allclose(score_b, score_a, atol=1e-3)
    assert (a == b).mean() > 0.99  # near-ties may swap
    gpu.config.train = TrainConfig(epochs=2, batch_size=64, lr=3e-3, warmup_ratio=0.0, patience=0,
                                   eval_every=2, progress=False)
    losses = [entry["loss"] for entry in gpu.fit(small, leave_one_out(small), None)["history"]]
    assert losses[-1] < losses[0]
    gpu.save(tmp_path / "model")
    loaded = Tiger.load(tmp_path / "model", small)
    assert loaded.device.type == "cuda"
    assert np.array_equal(loaded.recommend(histories, 10)[0], gpu.recommend(histories, 10)[0])


def test_a_gpu_model_loads_on_the_cpu_where_there_is_none(small, tmp_path, monkeypatch):
    model = tiny(small)
    model.save(tmp_path / "model")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    path = tmp_path / "model" / "tiger.json"
    path.write_text(path.read_text().replace('"device": "cpu"', '"device": "cuda"'))
    with pytest.raises(GenrecError, match="sees no CUDA GPU"):
        tiny(small, device="cuda")
    loaded = Tiger.load(tmp_path / "model", small)
    assert loaded.config.device == "cuda" and loaded.device.type == "cpu"
    histories = leave_one_out(small).test.histories.select(np.arange(20))
    assert np.array_equal(loaded.recommend(histories, 10)[0], model.recommend(histories, 10)[0])


def test_user_tokens(small):
    model = tiny(small, user_buckets=7)
    histories = Ragged.from_lists([[3, 4], [], [3]])
    tokens, mask, _ = model.encode_histories(histories)
    assert tokens[0, 0] == tokens[2, 0] != tokens[1, 0]  # same first item, same bucket
    assert (tokens[:, 0] >= model.user_offset).all() and mask[1].sum() == 2  # user token + eos


def test_start_from_a_checkpoint_of_other_dimensions(small, tmp_path):
    checkpoint = tiny(small, d_model=24)
    checkpoint.net.save_pretrained(tmp_path / "t5")
    model = Tiger(TigerConfig(**{**TINY, "pretrained": str(tmp_path / "t5")}), small, checkpoint.ids)
    for a, b in zip(checkpoint.net.state_dict().values(), model.net.state_dict().values()):
        assert torch.equal(a, b)
    model.save(tmp_path / "model")
    histories = leave_one_out(small).test.histories.select(np.arange(20))
    loaded = Tiger.load(tmp_path / "model", small)
    assert np.array_equal(model.recommend(histories, 5)[0], loaded.recommend(histories, 5)[0])


def test_history_items_sit_on_their_last_code(small):
    model = tiny(small, "decoder-only", variable=True, item_content=True)
    histories = Ragged.from_lists([[3, 4], [], [5]])
    tokens, mask, items = model.encode_histories(histories, bos=True)
    for row, history in enumerate(histories.to_lists()):
        ends = np.cumsum([1] + [len(model.item_tokens[item]) for item in history])[1:] - 1
        expected = np.full(tokens.shape[1], -1)
        expected[ends] = history
        assert np.array_equal(items[row].numpy(), expected)


def test_content_reaches_the_model_only_where_an_option_reads_it(small):
    histories = leave_one_out(small).test.histories.select(np.arange(20))
    plain, with_content = tiny(small, "decoder-only"), tiny(small, "decoder-only", item_content=True)
    assert with_content.net.content is not None and plain.net.content is None
    with pytest.raises(GenrecError, match="decoder-only"):
        tiny(small, "encoder-decoder", item_content=True)
    with_content.net.eval()
    before = with_content.recommend(histories, 10)[1]
    with_content.net.content.mul_(-1.0)
    assert not np.allclose(before, with_content.recommend(histories, 10)[1])


def test_id_alignment_learns_an_items_id_from_its_content(small):
    """Items drawn for alignment only (never a next-item target here) get their IDs from their content."""
    model = tiny(small, "decoder-only", id_alignment_items=16)
    items = np.arange(64)
    optimiser = torch.optim.AdamW(model.net.parameters(), lr=1e-2)
    first = model.alignment_loss(items).item()
    for _ in range(60):
        optimiser.zero_grad()
        model.alignment_loss(items).backward()
        optimiser.step()
    assert model.alignment_loss(items).item() < 0.3 * first
    assert model.align_token == model.n_tokens - 1
