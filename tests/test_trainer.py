"""The shared training loop: early stopping keeps the best weights, a killed run resumes exactly,
and the checkpoint is never half-written."""

from __future__ import annotations

import math
import time
import types

import numpy as np
import pytest
import torch

from genrec.errors import GenrecError
from genrec.training import TrainConfig, Trainer
from genrec.training import trainer as trainer_module
from genrec.training.trainer import CHECKPOINT, lr_lambda

STEPS = 4


class Interrupted(Exception):
    pass


def make_module(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                               torch.nn.Linear(16, 1))


def make_task(module: torch.nn.Module, fail_at: tuple[int, int] | None = None):
    """Batches shuffled by the epoch's seed, an MSE loss (dropout draws RNG), and -MSE as the 'metric'."""
    gen = np.random.default_rng(0)
    x = torch.from_numpy(gen.normal(size=(64, 8)).astype(np.float32))
    y = x[:, :1] * 2 - x[:, 1:2]
    calls = {"epoch": 0, "step": 0}

    def batches(epoch: int):
        calls["epoch"], calls["step"] = epoch, 0
        order = np.random.default_rng(epoch).permutation(len(x))
        return (order[i : i + 16] for i in range(0, len(x), 16))

    def loss_fn(rows):
        if fail_at == (calls["epoch"], calls["step"]):
            raise Interrupted
        calls["step"] += 1
        return torch.nn.functional.mse_loss(module(x[rows]), y[rows])

    def validate() -> float:
        return -float(torch.nn.functional.mse_loss(module(x), y))

    return batches, loss_fn, validate


def config(**kw) -> TrainConfig:
    return TrainConfig(**{"epochs": 6, "lr": 1e-2, "patience": 0, "progress": False, **kw})


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_early_stopping_restores_best_weights():
    module = make_module(0)
    batches, loss_fn, _ = make_task(module)
    scripted, snapshots = iter([0.1, 0.3, 0.2, 0.25, 0.1, 0.9]), []

    def validate() -> float:
        snapshots.append(weights(module))
        return next(scripted)

    summary = Trainer(config(patience=2), None).fit(module, batches, loss_fn, validate, STEPS)
    assert summary["stopped"] == "patience" and summary["epochs"] == 4
    assert summary["best_epoch"] == summary["kept_epoch"] == 2 and summary["best_valid_ndcg@10"] == 0.3
    assert same(weights(module), snapshots[1]) and not same(snapshots[1], snapshots[3])
    assert [h["valid_ndcg@10"] for h in summary["history"]] == [0.1, 0.3, 0.2, 0.25]


def test_keep_last_ends_with_the_last_epochs_weights_and_still_reports_the_best():
    module = make_module(0)
    batches, loss_fn, _ = make_task(module)
    scripted, snapshots = iter([0.1, 0.3, 0.2, 0.25]), []

    def validate() -> float:
        snapshots.append(weights(module))
        return next(scripted)

    summary = Trainer(config(epochs=4, keep="last"), None).fit(module, batches, loss_fn, validate, STEPS)
    assert summary["best_epoch"] == 2 and summary["kept_epoch"] == 4 and summary["epochs"] == 4
    assert same(weights(module), snapshots[3]) and not same(snapshots[1], snapshots[3])
    with pytest.raises(GenrecError, match="train.keep"):
        Trainer(config(keep="newest"), None).fit(module, batches, loss_fn, validate, STEPS)


def test_resume_after_interruption_matches_uninterrupted_run(tmp_path):
    reference = make_module(0)
    summary = Trainer(config(), tmp_path / "a").fit(reference, *make_task(reference), STEPS)

    interrupted = make_module(0)
    began = time.perf_counter()
    with pytest.raises(Interrupted):
        Trainer(config(), tmp_path / "b").fit(interrupted, *make_task(interrupted, fail_at=(3, 2)), STEPS)
    interrupted_wall = time.perf_counter() - began
    assert torch.load(tmp_path / "b" / CHECKPOINT, weights_only=False)["state"]["epoch"] == 3
    torch.manual_seed(123)  # the RNG state of the crashed process is gone; the checkpoint must restore it
    resumed = make_module(7)  # different initial weights: the checkpoint must overwrite them
    again = Trainer(config(), tmp_path / "b").fit(resumed, *make_task(resumed), STEPS)

    assert same(weights(resumed), weights(reference))
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in summary["history"]]
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in again["history"]] == strip
    assert again["best_valid_ndcg@10"] == summary["best_valid_ndcg@10"] and again["stopped"] == "epochs"
    # the resumed process reports the time its predecessor trained, so a run's cost is not under-counted:
    # its three epochs plus the checkpoint writes between them, within that process's wall time (a bound
    # that holds however slow the disk is)
    first_three = sum(h["seconds"] for h in again["history"][:3])
    assert summary["resumed_seconds"] == 0 and first_three <= again["resumed_seconds"] <= interrupted_wall


def test_finished_run_resumes_without_training(tmp_path):
    module = make_module(0)
    first = Trainer(config(epochs=2), tmp_path).fit(module, *make_task(module), STEPS)
    fresh = make_module(5)
    batches, _, validate = make_task(fresh)

    def no_training(batch):
        raise AssertionError("a finished run must not train again")

    again = Trainer(config(epochs=2), tmp_path).fit(fresh, batches, no_training, validate, STEPS)
    assert again["best_epoch"] == first["best_epoch"] and same(weights(fresh), weights(module))
    restarted = Trainer(config(epochs=1), tmp_path, resume=False).fit(fresh, *make_task(fresh), STEPS)
    assert restarted["epochs"] == 1


def test_checkpoint_is_written_atomically(tmp_path, monkeypatch):
    module = make_module(0)
    Trainer(config(epochs=1), tmp_path).fit(module, *make_task(module), STEPS)
    path = tmp_path / CHECKPOINT
    good = path.read_bytes()

    def torn_save(obj, f):
        f.write(good[: len(good) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(trainer_module.torch, "save", torn_save)
    with pytest.raises(OSError):
        Trainer(config(epochs=3), tmp_path, resume=False).fit(module, *make_task(module), STEPS)
    assert path.read_bytes() == good
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]


def test_time_limit_stops_and_keeps_best(tmp_path):
    module = make_module(0)
    summary = Trainer(config(epochs=100, max_minutes=1e-9), None).fit(module, *make_task(module), STEPS)
    assert summary["stopped"] == "time" and summary["epochs"] == 1 and summary["best_epoch"] == 1


def test_time_limit_leaves_room_for_the_closing_validation(monkeypatch):
    """On a clock that only validation advances (0.5 s each) and a limit of 1.35 s: after two epochs
    (1 s) a third would end at 1.5 s, so training stops there rather than overrunning. The clock is
    fake so that the rule is checked exactly, whatever the machine's load."""
    now = [0.0]
    monkeypatch.setattr(trainer_module, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    module = make_module(0)
    batches, loss_fn, validate = make_task(module)

    def slow_validate() -> float:
        now[0] += 0.5
        return validate()

    summary = Trainer(config(epochs=100, max_minutes=1.35 / 60), None).fit(module, batches, loss_fn,
                                                                           slow_validate, STEPS)
    assert summary["stopped"] == "time" and summary["epochs"] == 2
    assert [h["seconds"] for h in summary["history"]] == [0.5, 0.5] and now[0] <= 1.35
    assert summary["train_minutes"] <= round(now[0] / 60, 3)  # minutes are rounded


def test_step_limit_stops_mid_epoch_and_validates():
    module = make_module(0)
    batches, loss_fn, validate = make_task(module)
    taken = []

    def counted(rows):
        taken.append(len(rows))
        return loss_fn(rows)

    summary = Trainer(config(max_steps=STEPS + 2), None).fit(module, batches, counted, validate, STEPS)
    assert summary["stopped"] == "steps" and summary["epochs"] == 2 and len(taken) == STEPS + 2
    assert "valid_ndcg@10" in summary["history"][-1]


def test_diverging_loss_is_a_clear_error():
    module = make_module(0)
    batches, _, validate = make_task(module)
    with pytest.raises(GenrecError, match="diverged"):
        Trainer(config(), None).fit(module, batches, lambda b: torch.tensor(math.nan, requires_grad=True),
                                    validate, STEPS)


@pytest.mark.parametrize("schedule", ["cosine", "linear", "constant", "inverse-sqrt"])
def test_schedule_warms_up_then_decays(schedule):
    factor = lr_lambda(TrainConfig(warmup_ratio=0.1, schedule=schedule), 100)
    assert factor(0) == pytest.approx(0.1) and factor(9) == pytest.approx(1.0)
    if schedule == "constant":
        assert factor(99) == 1.0
    else:
        assert factor(99) < factor(50) < factor(10) <= 1.0


def test_progress_into_a_log_file_is_drawn_once_an_epoch_not_once_a_step(capsys):
    """Under pytest stderr is not a terminal, as under nohup: per-step loss updates must not redraw."""
    module = make_module(0)
    Trainer(config(progress=True, epochs=2), None).fit(module, *make_task(module), STEPS)
    drawn = capsys.readouterr().err.count("\r")
    assert 0 < drawn <= 2 * 3  # each epoch's bar: its first draw, at most one timed redraw, its close
