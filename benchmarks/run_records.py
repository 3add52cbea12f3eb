"""Shared by the model benchmarks: train (or resume, or reuse) one run directory and record its results.

A benchmark killed half-way is simply started again: finished runs are reused, an unfinished one
resumes from its checkpoint. Run on its own, it keeps the per-user test ranks of a run recorded
before the benchmarks kept them:

    python benchmarks/run_records.py RUN_DIR benchmarks/results/<test record>.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from genrec.evaluation.records import write_record
from genrec.evaluation.significance import load_per_user, ranks_path, save_ranks
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
               **{k: train[k] for k in ("epochs", "best_epoch", "kept_epoch", "stopped") if k in train},
               **(extra or {})}
    for split in ("valid", "test"):
        path = write_record(config.dataset, config.model, variant, split, metrics[split]["metrics"],
                            train_seconds=train.get("train_seconds"),
                            eval_seconds=metrics[split]["eval_seconds"], extra=details)
    keep_ranks(run_dir, path)
    return metrics


def keep_ranks(run_dir: Path | None, test_record: Path) -> None:
    """Keep the run's per-user test ranks beside its test record (``<record>.ranks.npz``, a byte a
    user), so that ``genrec compare`` can pair two records after their run directories are gone."""
    if run_dir is None:
        return
    path = save_ranks(load_per_user(run_dir), ranks_path(test_record))
    print(f"per-user test ranks -> {path}")


def slug(dataset: str) -> str:
    return dataset.replace("/", "-")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="keep a run's per-user test ranks beside its test record")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("test_record", type=Path)
    args = parser.parse_args()
    keep_ranks(args.run_dir, args.test_record)
