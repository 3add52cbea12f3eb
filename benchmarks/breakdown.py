"""Where models win and lose: NDCG@10 by history length and by the target's popularity, and how much
of a long history a model reads.

    OMP_NUM_THREADS=1 python benchmarks/breakdown.py RUN_DIR [RUN_DIR ...] [--keep 20 5 3] [--long 11]

For each finished run, on validation and test: NDCG@10 per history-length bucket (a user's
validation history is one item shorter than their test history), and per bucket of the target's
count in the training sequences. With ``--keep``, the users with at least ``--long`` history items
are evaluated again on only their last K items: a model that reads its whole history loses as K
shrinks. Prints Markdown tables; an analysis of saved runs, not a benchmark record.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from genrec.data import leave_one_out
from genrec.data.dataset import EvalSet
from genrec.evaluation.breakdown import HISTORY_EDGES, POPULARITY_EDGES, bucket_means
from genrec.evaluation.protocol import evaluate
from genrec.runs import load_run

METRIC = "ndcg@10"


def table(title: str, rows: dict[str, list[tuple[str, int, float]]]) -> str:
    """One row per split, one column per bucket: ``value (users)``."""
    labels = list(dict.fromkeys(label for cells in rows.values() for label, _, _ in cells))
    lines = [title, "", "| split | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for split, cells in rows.items():
        found = {label: f"{value:.4f} ({n})" for label, n, value in cells}
        lines.append(f"| {split} | " + " | ".join(found.get(label, "–") for label in labels) + " |")
    return "\n".join(lines)


def breakdowns(name: str, model, splits) -> str:
    popularity = np.bincount(splits.train.values, minlength=model.n_items)
    by_length, by_popularity = {}, {}
    for split in ("valid", "test"):
        evalset = getattr(splits, split)
        result = evaluate(model, evalset, split, ks=(10,), progress=False)
        values = result.per_user[METRIC]
        everyone = [("all", len(evalset), result.metrics[METRIC])]
        by_length[split] = bucket_means(values, evalset.histories.lengths, HISTORY_EDGES) + everyone
        by_popularity[split] = bucket_means(values, popularity[evalset.targets], POPULARITY_EDGES)
    return "\n\n".join([table(f"{name}: {METRIC} by history length (users)", by_length),
                        table(f"{name}: {METRIC} by the target's training count (users)", by_popularity)])


def truncation(name: str, model, splits, keep: list[int], long: int) -> str:
    lines = [f"{name}: {METRIC} of users with at least {long} history items, on their last K items only", "",
             "| split | users | " + " | ".join(f"K={k}" for k in keep) + " |", "|---" * (len(keep) + 2) + "|"]
    for split in ("valid", "test"):
        evalset = getattr(splits, split)
        rows = np.flatnonzero(evalset.histories.lengths >= long)
        cells = []
        for k in keep:
            tail = EvalSet(evalset.users[rows], evalset.histories.select(rows).tail(k), evalset.targets[rows])
            cells.append(evaluate(model, tail, split, ks=(10,), progress=False).metrics[METRIC])
        lines.append(f"| {split} | {len(rows)} | " + " | ".join(f"{v:.4f}" for v in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--keep", type=int, nargs="*", default=[], help="history items kept for long users")
    parser.add_argument("--long", type=int, default=11, help="history length of a long user")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for run in args.runs:
        model, dataset, config = load_run(run)
        splits = leave_one_out(dataset)
        name = f"{config.model} ({run})"
        print(breakdowns(name, model, splits), "\n", flush=True)
        if args.keep:
            print(truncation(name, model, splits, args.keep, args.long), "\n", flush=True)


if __name__ == "__main__":
    main()
