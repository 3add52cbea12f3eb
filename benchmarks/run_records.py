"""Shared by the model benchmarks: train (or resume, or reuse) one run directory and record its results.

A benchmark killed half-way is simply started again: finished runs are reused, an unfinished one
resumes from its checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

from genrec.evaluation.records import write_record
from genrec.runs import CONFIG, METRICS, RunConfig, train_run

DATASETS = ("amazon2014/beauty", "amazon2014/toys", "amazon2014/sports")


def run_and_record(config: RunConfig, run_dir: Path, variant: str, extra: dict | None = None) -> dict:
    """Train ``config`` into ``run_dir`` (reusing a finished run), write its valid and test records."""
    if (run_dir / METRICS).is_file():
        print(f"{run_dir}: finished run found, recording it again")
        metrics = json.loads((run_dir / METRICS).read_text())
    else:
        metrics = train_run(config, run_dir, resume=(run_dir / CONFIG).is_file())
    train = metrics["train"]
    details = {"run_dir": str(run_dir), "params": metrics["params"],
               **{k: train[k] for k in ("epochs", "best_epoch", "stopped") if k in train}, **(extra or {})}
    for split in ("valid", "test"):
        write_record(config.dataset, config.model, variant, split, metrics[split]["metrics"],
                     train_seconds=train.get("train_seconds"), eval_seconds=metrics[split]["eval_seconds"],
                     extra=details)
    return metrics


def slug(dataset: str) -> str:
    return dataset.replace("/", "-")
