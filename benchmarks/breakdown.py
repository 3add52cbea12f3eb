"""Where models win and lose: NDCG@10 by history length and by the target's popularity, and how much
of a long history a model reads.

    OMP_NUM_THREADS=1 python benchmarks/breakdown.py RUN_DIR [RUN_DIR ...] [--keep 20 5 3] [--long 11]
    OMP_NUM_THREADS=1 python benchmarks/breakdown.py RUN_DIR [RUN_DIR ...] --saved

For each finished run, on validation and test: NDCG@10 per history-length bucket (a user's
validation history is one item shorter than their test history), and per bucket of the target's
count in the training sequences. With ``--keep``, the users with at least ``--long`` history items
are evaluated again on only their last K items: a model that reads its whole history loses as K
shrinks. ``--saved`` decodes nothing: it breaks down the per-user test metrics the run saved
(``per_user.npz``), which takes seconds where re-evaluating a generative model takes minutes.
Prints Markdown tables; an analysis of saved runs, not a benchmark record.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from genrec.data import leave_one_out
from genrec.data.dataset import EvalSet
from genrec.errors import GenrecError
from genrec.evaluation.breakdown import HISTORY_EDGES, POPULARITY_EDGES, bucket_means
from genrec.evaluation.protocol import evaluate
from genrec.runs import PER_USER, load_run, load_run_data

METRIC = "ndcg@10"


def table(title: str, rows: dict[str, list[tuple[str, int, float]]]) -> str:
    """One row per split, one column per bucket: ``value (users)``."""
    labels = list(dict.fromkeys(label for cells in rows.values() for label, _, _ in cells))
    lines = [title, "", "| split | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for split, cells in rows.items():
        found = {label: f"{value:.4f} ({n})" for label, n, value in cells}
        lines.append(f"| {split} | " + " | ".join(found.get(label, "–") for label in labels) + " |")
    return "\n".join(lines)


def breakdowns(name: str, per_split: dict[str, np.ndarray], splits, n_items: int) -> str:
    """The tables for per-user NDCG@10 ``per_split[split]``, in the order of that split's users."""
    popularity = np.bincount(splits.train.values, minlength=n_items)
    by_length, by_popularity = {}, {}
    for split, values in per_split.items():
        evalset = getattr(splits, split)
        everyone = [("all", len(evalset), float(values.mean()))]
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


def evaluated(model, splits) -> dict[str, np.ndarray]:
    return {split: evaluate(model, getattr(splits, split), split, ks=(10,), progress=False).per_user[METRIC]
            for split in ("valid", "test")}


def saved(run: str, splits) -> dict[str, np.ndarray]:
    """The run's saved per-user test metric, in the order of the test users."""
    with np.load(Path(run) / PER_USER) as table:
        users, values = table["users"], table[METRIC]
    order = np.argsort(users)
    rows = order[np.searchsorted(users[order], splits.test.users).clip(0, len(users) - 1)]
    if len(users) != len(splits.test.users) or not np.array_equal(users[rows], splits.test.users):
        raise GenrecError(f"{run}/{PER_USER}: its users are not this dataset's test users")
    return {"test": values[rows]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--keep", type=int, nargs="*", default=[], help="history items kept for long users")
    parser.add_argument("--long", type=int, default=11, help="history length of a long user")
    parser.add_argument("--saved", action="store_true",
                        help="test only, from the run's saved per-user metrics (no decoding)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for run in args.runs:
        if args.saved:
            (dataset, config), model = load_run_data(run), None
        else:
            model, dataset, config = load_run(run)
        splits = leave_one_out(dataset)
        name = f"{config.model} ({run})"
        per_split = saved(run, splits) if args.saved else evaluated(model, splits)
        print(breakdowns(name, per_split, splits, dataset.n_items), "\n", flush=True)
        if args.keep and model is not None:
            print(truncation(name, model, splits, args.keep, args.long), "\n", flush=True)


if __name__ == "__main__":
    main()
