"""What masking already-seen items is worth: how much of a model's top 10 the user already has, and
the metrics with those items masked.

    OMP_NUM_THREADS=1 python benchmarks/history_masking.py RUN_DIR --variant loss=ce [--splits test]

No user-item pair repeats in the Amazon 2014 5-core sets, so an item in the history is never the
target, and masking it can only move real candidates up. The published tables differ on this:
TIGER's, GRAM's and RecBole's full ranking keeps them, RecTools-based benchmarks recommend with a
``filter_viewed`` switch. For each split the saved run recommends twice, unmasked and masked; the
record (variant ``<--variant>,exclude_history``) holds the masked metrics, with the unmasked ones and
the share of unmasked top-10 slots that hold history items in its ``extra``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from genrec.data import leave_one_out
from genrec.data.dataset import EvalSet
from genrec.evaluation.metrics import per_user_metrics, summarise, target_ranks
from genrec.evaluation.records import write_record
from genrec.models.base import Recommender
from genrec.runs import load_run

TOP = 10
BATCH = 1024
PAD = -2  # neither an item nor the -1 that pads a short top-k


def history_share(items: np.ndarray, histories: np.ndarray) -> np.ndarray:
    """Per user, how many of the ``items`` columns are in that user's row of ``histories``."""
    return (items[:, :, None] == histories[:, None, :]).any(axis=2).sum(axis=1)


def recommend_all(model: Recommender, evalset: EvalSet, k: int, exclude_history: bool
                  ) -> tuple[np.ndarray, int, float]:
    """Target ranks of every user, the number of history items among the top ``TOP``, and seconds."""
    start, ranks, seen = time.perf_counter(), np.empty(len(evalset)), 0
    for lo in range(0, len(evalset), BATCH):
        rows = np.arange(lo, min(lo + BATCH, len(evalset)))
        histories = evalset.histories.select(rows)
        items, _ = model.recommend(histories, k, exclude_history=exclude_history)
        ranks[rows] = target_ranks(items, evalset.targets[rows])
        seen += int(history_share(items[:, :TOP], histories.to_padded(pad=PAD)).sum())
    return ranks, seen, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--variant", default="", help="the variant of the run's own record, e.g. loss=ce")
    parser.add_argument("--splits", nargs="+", choices=("valid", "test"), default=["valid", "test"],
                        help="test only saves half the time of a generative model's two decodings")
    args = parser.parse_args()
    model, dataset, config = load_run(args.run_dir)
    splits, ks = leave_one_out(dataset), tuple(config.ks)
    variant = ",".join(part for part in (args.variant, "exclude_history") if part)
    for split in args.splits:
        evalset = getattr(splits, split)
        kept, seen, _ = recommend_all(model, evalset, max(ks), exclude_history=False)
        masked, _, seconds = recommend_all(model, evalset, max(ks), exclude_history=True)
        metrics, unmasked = (summarise(per_user_metrics(r, ks)) for r in (masked, kept))
        share = seen / (len(evalset) * TOP)
        path = write_record(config.dataset, config.model, variant, split, metrics, eval_seconds=seconds,
                            extra={"run_dir": str(args.run_dir), "unmasked": unmasked,
                                   f"history_share@{TOP}": share})
        print(f"{split}: ndcg@10 {unmasked['ndcg@10']:.4f} unmasked -> {metrics['ndcg@10']:.4f} masked, "
              f"recall@10 {unmasked['recall@10']:.4f} -> {metrics['recall@10']:.4f}; "
              f"{share:.1%} of the unmasked top {TOP} is history -> {path}")


if __name__ == "__main__":
    main()
