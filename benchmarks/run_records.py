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


def finished_or_trained(config: RunConfig, run_dir: Path | None, resume: bool | None = None) -> dict:
    """The metrics of the finished run in ``run_dir``, else those of training ``config`` there
    (``resume=None``: resume when the directory holds an unfinished run)."""
    if run_dir is not None and (run_dir / METRICS).is_file():
        print(f"{run_dir}: finished run found, recording it again")
        return json.loads((run_dir / METRICS).read_text())
    if resume is None:
        resume = run_dir is not None and (run_dir / CONFIG).is_file()
    return train_run(config, run_dir, resume=resume)


def run_and_record(config: RunConfig, run_dir: Path, variant: str, extra: dict | None = None) -> dict:
    """Train ``config`` into ``run_dir`` (reusing a finished run), write its valid and test records."""
    metrics = finished_or_trained(config, run_dir)
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
