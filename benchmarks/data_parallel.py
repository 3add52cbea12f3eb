"""Training speed on this 2-core CPU: one process with two threads against two data-parallel
processes (torchrun) with one thread each, at the same global batch.

    python benchmarks/data_parallel.py [--model tiger] [--dataset amazon2014/beauty] [--steps 300]
        [--set architecture=decoder-only train.batch_size=16 ...] [--results-dir benchmarks/results]

Each arm is a fresh process (two, under torchrun, for the data-parallel arm) that trains the model
twice from the same seed with ``train.max_steps``: ``--steps // 5`` steps, then ``--steps``. The
difference of the two times is the cost of the extra steps alone (set-up, semantic IDs and the closing
validation cancel). The data-parallel arm gives each process half of ``train.batch_size``, so both arms
take the same optimiser steps over the same samples. Record ``training:<model>`` / ``data-parallel``
(split ``train``): ``samples_per_second`` (one process, two threads), ``data_parallel_samples_per_second``
and ``speedup``. Run it on an idle machine: the record keeps the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from genrec.config import from_dict
from genrec.data import SequenceDataset, leave_one_out, load_dataset
from genrec.evaluation.records import write_record
from genrec.models import model_class
from genrec.runs import resolve_config
from genrec.training import distributed

# small validation samples: validation runs once a fit and cancels in the difference, but need not be long
QUICK_VALIDATION = {"tiger": ["valid_users=64"], "gram": ["valid_users=64"]}


def global_batch(settings: list[str]) -> int:
    """The ``train.batch_size=N`` among the overrides (0 when absent)."""
    return int(next((s.split("=", 1)[1] for s in settings if s.startswith("train.batch_size=")), 0))


def timed_fit(model_name: str, dataset: SequenceDataset, overrides: list[str], steps: int) -> float:
    """Seconds of one ``fit`` of a fresh model limited to ``steps`` optimiser steps."""
    config = resolve_config(model_name, dataset.name, [*overrides, f"train.max_steps={steps}",
                                                       "train.progress=false", "train.patience=0"])
    cls = model_class(config.model)
    params = from_dict(cls.Config, config.params, where=f"{cls.name} config")
    splits = leave_one_out(dataset)
    model = cls(params, dataset)
    start = time.perf_counter()
    summary = model.fit(dataset, splits, None)
    seconds = time.perf_counter() - start
    if summary["stopped"] != "steps":
        raise SystemExit(f"the fit stopped by {summary['stopped']}, not after {steps} steps: "
                         "raise train.epochs")
    return seconds


def worker(args: argparse.Namespace) -> None:
    """One arm: the short fit, then the long one; process 0 prints both times as JSON."""
    distributed.setup()
    torch.set_num_threads(args.threads)
    overrides = [*QUICK_VALIDATION.get(args.model, []), *args.set, f"train.threads={args.threads}"]
    dataset = load_dataset(args.dataset)
    short = timed_fit(args.model, dataset, overrides, args.steps // 5)
    long = timed_fit(args.model, dataset, overrides, args.steps)
    if distributed.is_main():
        print(json.dumps({"short": short, "long": long}))


def arm(args: argparse.Namespace, processes: int) -> dict:
    """Run one arm in fresh processes and return its short and long fit times."""
    batch = global_batch(args.set)
    if batch % processes:
        raise SystemExit(f"train.batch_size={batch} does not split over {processes} processes")
    settings = [s for s in args.set if not s.startswith("train.batch_size=")]
    settings.append(f"train.batch_size={batch // processes}")
    command = [sys.executable, str(Path(__file__).resolve()), "worker", "--model", args.model,
               "--dataset", args.dataset, "--steps", str(args.steps), "--threads", str(2 // processes),
               "--set", *settings]
    if processes > 1:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                   str(processes), *command[1:]]
    env = {**os.environ, "OMP_NUM_THREADS": str(2 // processes)}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{processes}-process arm failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", default="compare", choices=["compare", "worker"])
    parser.add_argument("--model", default="tiger")
    parser.add_argument("--dataset", default="amazon2014/beauty")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2, help="(worker) torch threads a process")
    parser.add_argument("--set", nargs="*", default=["architecture=decoder-only", "train.batch_size=16"],
                        help="config overrides; train.batch_size is the global batch")
    parser.add_argument("--results-dir", default="benchmarks/results")
    args = parser.parse_args()
    if args.role == "worker":
        worker(args)
        return
    batch = global_batch(args.set)
    if not batch:
        raise SystemExit("give the global batch as --set train.batch_size=N")
    extra_samples = (args.steps - args.steps // 5) * batch
    one, two = arm(args, 1), arm(args, 2)
    if min(one["long"] - one["short"], two["long"] - two["short"]) <= 0:
        raise SystemExit(f"the long fits were not slower than the short ones ({one}, {two}): "
                         "raise --steps so that the extra steps outweigh the noise")
    rates = {name: extra_samples / (times["long"] - times["short"])
             for name, times in (("one", one), ("two", two))}
    metrics = {"samples_per_second": rates["one"], "data_parallel_samples_per_second": rates["two"],
               "speedup": rates["two"] / rates["one"]}
    path = write_record(args.dataset, f"training:{args.model}", "data-parallel", "train", metrics,
                        extra={"overrides": args.set, "steps": args.steps, "global_batch": batch,
                               "one_process": {"threads": 2, **one},
                               "two_processes": {"threads_each": 1, **two}},
                        results_dir=args.results_dir)
    print(" ".join(f"{k}={v:.3f}" for k, v in metrics.items()), "->", path)


if __name__ == "__main__":
    main()
