"""Time of one SASRec training step on Beauty (the default CE recipe: 256 prefixes a step), and of its
parts, so that a change to the step cannot quietly slow down the 20-minute training target.

    OMP_NUM_THREADS=2 python benchmarks/sasrec_speed.py --threads 2

Steps are the first ``--steps`` batches of epoch 1 (after ``--warmup`` untimed ones), with the
trainer's optimiser and gradient clipping; the median step is recorded, with the forward pass, the
backward pass and the optimiser step, and an epoch's estimate (steps a epoch x median). One record,
model ``training:sasrec``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from genrec.data import leave_one_out, load_dataset
from genrec.evaluation.records import write_record
from genrec.models.sasrec import SASRec, SASRecConfig, bucketed_batches, trim
from genrec.runs import seed_everything
from genrec.training.trainer import make_optimizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="amazon2014/beauty")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seed_everything(0)
    dataset = load_dataset(args.dataset)
    splits = leave_one_out(dataset)
    config = SASRecConfig()
    model = SASRec(config, dataset)
    rows = model.training_rows(splits.train)
    batches = bucketed_batches((rows != 0).sum(axis=1), config.train.batch_size, np.random.default_rng(0))
    optimizer = make_optimizer(model.net, config.train)
    model.net.train()
    parts = {"forward": [], "backward": [], "optimizer": []}
    for i, batch in enumerate(batches[: args.warmup + args.steps]):
        tokens = torch.from_numpy(trim(rows[batch]))
        start = time.perf_counter()
        loss = model.loss(tokens)
        forward = time.perf_counter()
        optimizer.zero_grad()
        loss.backward()
        backward = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.net.parameters(), config.train.grad_clip)
        optimizer.step()
        end = time.perf_counter()
        if i >= args.warmup:
            for part, seconds in zip(parts, (forward - start, backward - forward, end - backward)):
                parts[part].append(seconds)
    step = np.array(parts["forward"]) + np.array(parts["backward"]) + np.array(parts["optimizer"])
    metrics = {"ms_per_step": 1000 * float(np.median(step)),
               **{f"{part}_ms": 1000 * float(np.median(v)) for part, v in parts.items()},
               "steps_per_epoch": len(batches),
               "epoch_seconds_estimate": float(np.median(step)) * len(batches)}
    path = write_record(args.dataset, "training:sasrec", "loss=ce", "train", metrics,
                        extra={"threads": args.threads, "steps": args.steps, "warmup": args.warmup,
                               "batch_size": config.train.batch_size, "samples": config.samples})
    print(f"{args.dataset}: {metrics['ms_per_step']:.1f} ms a step (forward {metrics['forward_ms']:.1f}, "
          f"backward {metrics['backward_ms']:.1f}, optimiser {metrics['optimizer_ms']:.1f}); "
          f"about {metrics['epoch_seconds_estimate']:.0f} s an epoch of {len(batches)} steps -> {path}")


if __name__ == "__main__":
    main()
