"""Data-parallel training on CPU processes (gloo): two processes with batches of B take the steps of
one process with batches of 2B, resume exactly, decide alike, and ``genrec train`` under torchrun
writes one run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist

from genrec.paths import data_dir
from genrec.training import TrainConfig, Trainer, distributed
from genrec.training.trainer import CHECKPOINT

STEPS = 8  # batches of 8 an epoch for one process


class Interrupted(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, job, args: tuple) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    distributed.setup()
    job(*args)  # an exception ends this process, which spawn reports
    # both processes done before either closes its connections: a peer that closes while the other is still
    # in gloo's shutdown can abort it ("terminate called without an active exception", seen once under load)
    dist.barrier()
    dist.destroy_process_group()


def in_processes(world: int, job, *args) -> None:
    torch.multiprocessing.spawn(_worker, args=(world, free_port(), job, args), nprocs=world, join=True)


def task(batch: int, dropout: float, fail_at: tuple[int, int] | None = None):
    """A small regression with epoch-seeded batches of ``batch`` rows; validation is process 0's job."""
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.Tanh(), torch.nn.Dropout(dropout),
                                 torch.nn.Linear(12, 1))
    gen = np.random.default_rng(0)
    x = torch.from_numpy(gen.normal(size=(STEPS * 8, 6)).astype(np.float32))
    y = x[:, :1] - 2 * x[:, 2:3]
    position = {"epoch": 0, "step": 0}

    def batches(epoch: int):
        position.update(epoch=epoch, step=0)
        order = np.random.default_rng(epoch).permutation(len(x))
        return (order[i:i + batch] for i in range(0, len(x), batch))

    def loss_fn(rows):
        if fail_at == (position["epoch"], position["step"]):
            raise Interrupted
        position["step"] += 1
        return torch.nn.functional.mse_loss(module(x[rows]), y[rows])

    def validate() -> float:
        assert distributed.is_main(), "only process 0 validates"
        return -float(torch.nn.functional.mse_loss(module(x), y))

    return module, batches, loss_fn, validate


def train(out: Path, batch: int, dropout: float, run_dir: Path | None = None,
          fail_at: tuple[int, int] | None = None, epochs: int = 4) -> None:
    """Train the task and save each process's weights and summary to ``out``."""
    module, batches, loss_fn, validate = task(batch, dropout, fail_at)
    config = TrainConfig(epochs=epochs, lr=1e-2, patience=0, progress=False, grad_clip=0.5)
    try:
        steps = len(range(0, STEPS * 8, batch))
        summary = Trainer(config, run_dir).fit(module, batches, loss_fn, validate, steps)
    except Interrupted:
        return
    torch.save({"weights": module.state_dict(), "summary": summary}, out / f"rank{distributed.rank()}.pt")


def read(out: Path, rank: int = 0) -> dict:
    return torch.load(out / f"rank{rank}.pt", weights_only=False)


def test_two_processes_take_the_steps_of_one_with_both_batches(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    train(tmp_path / "one", batch=16, dropout=0.0)
    in_processes(2, train, tmp_path / "two", 8, 0.0)

    one, two = read(tmp_path / "one"), [read(tmp_path / "two", r) for r in range(2)]
    for name, value in one["weights"].items():
        assert torch.equal(two[0]["weights"][name], two[1]["weights"][name])  # the processes agree exactly
        assert torch.allclose(two[0]["weights"][name], value, atol=1e-5)  # and match one process
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in one["summary"]["history"]]
    for got in two[0]["summary"]["history"]:
        want = strip[got["epoch"] - 1]
        assert got["loss"] == pytest.approx(want["loss"], rel=1e-5)
        assert got["valid_ndcg@10"] == pytest.approx(want["valid_ndcg@10"], rel=1e-5)
    assert two[1]["summary"]["best_epoch"] == one["summary"]["best_epoch"]


def test_two_processes_resume_exactly(tmp_path):
    for name in ("whole", "killed"):
        (tmp_path / name / "out").mkdir(parents=True)
    in_processes(2, train, tmp_path / "whole" / "out", 8, 0.3, tmp_path / "whole")
    in_processes(2, train, tmp_path / "killed" / "out", 8, 0.3, tmp_path / "killed", (2, 1))
    checkpoint = torch.load(tmp_path / "killed" / CHECKPOINT, weights_only=False)
    assert checkpoint["state"]["epoch"] == 2 and len(checkpoint["rng"]) == 2  # each process's streams
    assert not (tmp_path / "killed" / "out" / "rank0.pt").exists()
    in_processes(2, train, tmp_path / "killed" / "out", 8, 0.3, tmp_path / "killed")

    for rank in range(2):
        whole, resumed = read(tmp_path / "whole" / "out", rank), read(tmp_path / "killed" / "out", rank)
        assert all(torch.equal(whole["weights"][k], v) for k, v in resumed["weights"].items())


def test_shard_gives_every_process_the_same_number_of_batches():
    assert list(distributed.shard(range(7), 3)) == [0, 1, 2]  # one process: all it asks for
    assert distributed.any_process(True) and distributed.from_main(5) == 5 and distributed.gather(1) == [1]


def test_genrec_train_under_torchrun_writes_one_run(tmp_path):
    if not (data_dir() / "movielens-100k").is_dir():
        pytest.skip("movielens-100k is not available")
    run = tmp_path / "run"
    genrec = Path(sys.executable).parent / "genrec"  # the console script beside this interpreter
    settings = ["hidden=16", "train.epochs=2", "train.progress=false", "train.batch_size=64",
                "samples=sequences"]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "--no-python", str(genrec), "train", "--model", "sasrec", "--dataset", "movielens-100k",
               "--run-dir", str(run), *[a for s in settings for a in ("--set", s)]]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["train"]["epochs"] == 2 and metrics["test"]["n_users"] == 943
    assert len(torch.load(run / CHECKPOINT, weights_only=False)["rng"]) == 2
    assert (run / "log.txt").read_text().count("epoch 2:") == 1  # process 0 alone logs
