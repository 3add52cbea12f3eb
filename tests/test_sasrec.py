"""SASRec on a slice of real Beauty data: it learns (beats Popularity) with either loss, its scores do not
depend on batching or padding, and a saved model recommends exactly what the trained one did."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from genrec.data import SequenceDataset, leave_one_out
from genrec.data.ragged import Ragged
from genrec.evaluation.protocol import evaluate
from genrec.models.base import eval_mode
from genrec.models.dropout import dropout
from genrec.models.popularity import Popularity, PopularityConfig
from genrec.models.sasrec import Block, SASRec, SASRecConfig, attention_mask, bucketed_batches
from genrec.runs import seed_everything
from genrec.training import TrainConfig


@pytest.fixture(scope="module")
def small(beauty) -> SequenceDataset:
    """The 1,000 most popular Beauty items and the first 4,000 users with 3+ interactions among them:
    real sequences, small enough that a softmax over all items trains in seconds on one core."""
    counts = np.bincount(beauty.sequences.values, minlength=beauty.n_items)
    kept = np.sort(np.argsort(-counts, kind="stable")[:1000])
    remap = np.full(beauty.n_items, -1)
    remap[kept] = np.arange(len(kept))
    values = remap[beauty.sequences.values]
    rows = np.repeat(np.arange(beauty.n_users), beauty.sequences.lengths)
    known = values >= 0
    sequences = Ragged.from_lengths(values[known], np.bincount(rows[known], minlength=beauty.n_users))
    users = np.flatnonzero(sequences.lengths >= 3)[:4000]
    return SequenceDataset("beauty-slice", beauty.item_ids[kept], [beauty.item_records[i] for i in kept],
                           beauty.user_ids[users], sequences.select(users))


def config(loss: str, epochs: int = 3) -> SASRecConfig:
    return SASRecConfig(hidden=32, heads=2, inner=64, max_len=20, dropout=0.2, attn_dropout=0.2, loss=loss,
                        train=TrainConfig(epochs=epochs, batch_size=128, lr=5e-3, warmup_ratio=0.0,
                                          schedule="constant", patience=0, eval_every=epochs, progress=False))


@pytest.fixture(scope="module")
def trained(small) -> tuple[SASRec, dict]:
    seed_everything(0)
    model = SASRec(config("ce"), small)
    return model, model.fit(small, leave_one_out(small))


def popularity_ndcg(dataset: SequenceDataset) -> float:
    splits = leave_one_out(dataset)
    model = Popularity(PopularityConfig(), dataset)
    model.fit(dataset, splits)
    return evaluate(model, splits.test, "test", progress=False).metrics["ndcg@10"]


def test_ce_beats_popularity(small, trained):
    model, summary = trained
    test = evaluate(model, leave_one_out(small).test, "test", progress=False).metrics
    assert summary["epochs"] == 3 and summary["best_valid_ndcg@10"] > 0
    assert test["ndcg@10"] > 1.5 * popularity_ndcg(small)
    losses = [h["loss"] for h in summary["history"]]
    assert losses[-1] < losses[0]


def test_bce_trains_and_beats_popularity(small):
    seed_everything(0)
    model = SASRec(config("bce"), small)
    summary = model.fit(small, leave_one_out(small))
    losses = [h["loss"] for h in summary["history"]]
    assert losses[-1] < losses[0] < 1.4  # starts near 2 log 2, the loss of a random guess
    test = evaluate(model, leave_one_out(small).test, "test", progress=False).metrics
    assert test["ndcg@10"] > popularity_ndcg(small)


def test_save_load_gives_identical_recommendations(small, trained, tmp_path):
    model, _ = trained
    model.save(tmp_path)
    loaded = SASRec.load(tmp_path, small)
    histories = leave_one_out(small).test.histories
    items, scores = model.recommend(histories, 10)
    again, again_scores = loaded.recommend(histories, 10)
    np.testing.assert_array_equal(items, again)
    np.testing.assert_array_equal(scores, again_scores)
    assert loaded.config == model.config
    embeddings = loaded.item_embeddings()
    assert embeddings.shape == (small.n_items, 32) and embeddings.dtype == np.float32


@pytest.mark.cuda
def test_on_a_gpu_it_scores_as_on_the_cpu_trains_and_reloads(small, trained, tmp_path):
    model, _ = trained
    gpu = SASRec(replace(config("ce"), device="cuda"), small)
    gpu.net.load_state_dict(model.net.state_dict())
    histories = leave_one_out(small).test.histories
    torch.testing.assert_close(gpu.score(histories), model.score(histories), atol=1e-3, rtol=1e-3)
    seed_everything(0)
    losses = [h["loss"] for h in SASRec(replace(config("ce"), device="cuda"), small).fit(
        small, leave_one_out(small))["history"]]
    assert losses[-1] < losses[0]
    gpu.save(tmp_path)
    loaded = SASRec.load(tmp_path, small)
    assert loaded.device.type == "cuda"
    assert np.array_equal(loaded.recommend(histories, 10)[0], gpu.recommend(histories, 10)[0])


def test_scores_ignore_batching_padding_and_old_items(small, trained):
    model, _ = trained
    histories = leave_one_out(small).test.histories.select(np.arange(300))
    together = model.score(histories)
    alone = torch.cat([model.score(histories.select(np.array([i]))) for i in (0, 1, 2)])
    torch.testing.assert_close(together[:3], alone, rtol=1e-4, atol=1e-4)
    long = Ragged.from_lists([np.arange(60) % small.n_items])
    torch.testing.assert_close(model.score(long), model.score(long.tail(20)))
    assert torch.isfinite(model.score(Ragged.from_lists([[]]))).all()


@pytest.mark.parametrize("positions", ["start", "end"])
def test_training_positions_see_what_a_test_prefix_sees(small, positions):
    """With positions counted from the window's start, the hidden state at column t of a training row
    is exactly the state a test-time history of those t + 1 items gets (the other choice differs)."""
    seed_everything(0)
    model = SASRec(replace(config("ce"), positions=positions, samples="sequences"), small)
    row = model.training_rows(Ragged.from_lists([list(range(12))]))[:, :-1]
    with eval_mode(model.net):
        whole = model.net(torch.from_numpy(row))[0]
        prefix = model.net(torch.from_numpy(row[:, -12:-6]))[0, -1]
    same = torch.allclose(whole[-7], prefix, atol=1e-5)
    assert same == (positions == "start")


def test_training_rows_are_shifted_next_item_targets(small):
    model = SASRec(replace(config("ce"), samples="sequences"), small)
    train = Ragged.from_lists([[5, 6, 7], [8], list(range(30))])
    rows = model.training_rows(train)
    assert rows.shape == (2, 21)  # the one-item sequence has no target
    np.testing.assert_array_equal(rows[0, -3:], [6, 7, 8])  # token = item + 1, right-aligned
    assert (rows[0, :-3] == 0).all()
    np.testing.assert_array_equal(rows[1], np.arange(9, 30) + 1)  # the last max_len + 1 items


def test_prefix_samples_are_one_row_and_one_target_per_prefix(small):
    model = SASRec(config("ce"), small)  # samples="prefixes", the default
    train = Ragged.from_lists([[5, 6, 7], [8], list(range(30))])
    rows = model.training_rows(train)
    assert rows.shape == (2 + 29, 21)
    np.testing.assert_array_equal(rows[0, -2:], [6, 7])
    np.testing.assert_array_equal(rows[1, -3:], [6, 7, 8])
    assert (rows[1, :-3] == 0).all()
    np.testing.assert_array_equal(rows[-1], np.arange(9, 30) + 1)  # the whole sequence, windowed
    np.testing.assert_array_equal(rows[2:, -1], np.arange(1, 30) + 1)  # every target once
    # the loss is the cross-entropy of each row's last target only
    batch = torch.from_numpy(rows[1:3])
    with eval_mode(model.net):
        hidden = model.net(batch[:, :-1])[:, -1]
        expected = torch.nn.functional.cross_entropy(hidden @ model.net.item_table().T, batch[:, -1] - 1)
        assert torch.allclose(model.loss(batch), expected)


def test_dropout_keeps_the_expectation_and_drops_a_fraction_p():
    torch.manual_seed(0)
    x = torch.ones(200_000)
    y = dropout(x, 0.3, training=True)
    assert abs((y == 0).float().mean().item() - 0.3) < 0.01
    assert torch.allclose(y[y != 0], torch.full_like(y[y != 0], 1 / 0.7))
    assert abs(y.mean().item() - 1.0) < 0.01
    assert dropout(x, 0.3, training=False) is x


def test_written_out_attention_equals_the_fused_one():
    """Training attention is written out (for the faster dropout mask); without dropout it must equal
    the fused kernel used at inference, padding and causality included."""
    torch.manual_seed(0)
    block = Block(SASRecConfig(hidden=16, heads=2, attn_dropout=1e-12))
    tokens = torch.tensor([[0, 0, 3, 4, 5], [1, 2, 3, 4, 5]])
    x, mask = torch.randn(2, 5, 16), attention_mask(tokens)
    block.train()
    written_out = block.attend(x, mask)
    block.eval()
    assert torch.allclose(written_out, block.attend(x, mask), atol=1e-5)


def test_bucketed_batches_cover_every_row_once():
    lengths = np.random.default_rng(0).integers(1, 50, size=1000)
    batches = bucketed_batches(lengths, 64, np.random.default_rng(1), window=4)
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    assert max(len(b) for b in batches) == 64
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 0.5 * np.mean([np.ptp(lengths[b]) for b in np.array_split(np.arange(1000), 16)])


def test_killed_run_resumes_to_the_same_model(small, tmp_path):
    users = np.arange(1000)
    tiny = SequenceDataset("beauty-slice-1000", small.item_ids, small.item_records, small.user_ids[users],
                           small.sequences.select(users))
    splits = leave_one_out(tiny)
    seed_everything(0)
    reference = SASRec(config("ce", epochs=2), tiny)
    reference.fit(tiny, splits, tmp_path / "a")

    seed_everything(0)
    killed = SASRec(config("ce", epochs=2), tiny)
    first_epoch = len(killed.training_rows(splits.train)) // 128 + 1
    steps = {"n": 0}

    def dies_in_second_epoch(batch: torch.Tensor) -> torch.Tensor:
        steps["n"] += 1
        if steps["n"] == first_epoch + 2:
            raise KeyboardInterrupt
        return SASRec.loss(killed, batch)

    killed.loss = dies_in_second_epoch
    with pytest.raises(KeyboardInterrupt):
        killed.fit(tiny, splits, tmp_path / "b")
    seed_everything(1)
    resumed = SASRec(config("ce", epochs=2), tiny)
    summary = resumed.fit(tiny, splits, tmp_path / "b")
    assert summary["epochs"] == 2 and [h["epoch"] for h in summary["history"]] == [1, 2]
    histories = splits.test.histories
    torch.testing.assert_close(resumed.score(histories), reference.score(histories), rtol=0, atol=0)
