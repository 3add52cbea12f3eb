"""What masking already-seen items is worth: how much of a model's top 10 the user already has, and
the metrics with those items masked (through the shared protocol, ``evaluate(exclude_history=True)``).

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
from pathlib import Path

import numpy as np

from genrec.data import leave_one_out
from genrec.data.dataset import EvalSet
from genrec.evaluation.metrics import per_user_metrics, summarise, target_ranks
from genrec.evaluation.protocol import evaluate
from genrec.evaluation.records import write_record
from genrec.models.base import Recommender
from genrec.runs import load_run

TOP = 10
BATCH = 1024
PAD = -2  # neither an item nor the -1 that pads a short top-k


def history_share(items: np.ndarray, histories: np.ndarray) -> np.ndarray:
    """Per user, how many of the ``items`` columns are in that user's row of ``histories``."""
    return (items[:, :, None] == histories[:, None, :]).any(axis=2).sum(axis=1)


def unmasked_pass(model: Recommender, evalset: EvalSet, ks: tuple[int, ...]) -> tuple[dict[str, float], int]:
    """The unmasked metrics and the number of history items among every user's top ``TOP``."""
    ranks, seen = np.empty(len(evalset)), 0
    for lo in range(0, len(evalset), BATCH):
        rows = np.arange(lo, min(lo + BATCH, len(evalset)))
        histories = evalset.histories.select(rows)
        items, _ = model.recommend(histories, max(ks))
        ranks[rows] = target_ranks(items, evalset.targets[rows])
        seen += int(history_share(items[:, :TOP], histories.to_padded(pad=PAD)).sum())
    return summarise(per_user_metrics(ranks, ks)), seen


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
        unmasked, seen = unmasked_pass(model, evalset, ks)
        masked = evaluate(model, evalset, split, ks=ks, exclude_history=True, batch_size=BATCH,
                          progress=False)
        metrics, share = masked.metrics, seen / (len(evalset) * TOP)
        path = write_record(config.dataset, config.model, variant, split, metrics,
                            eval_seconds=masked.seconds,
                            extra={"run_dir": str(args.run_dir), "unmasked": unmasked,
                                   f"history_share@{TOP}": share})
        print(f"{split}: ndcg@10 {unmasked['ndcg@10']:.4f} unmasked -> {metrics['ndcg@10']:.4f} masked, "
              f"recall@10 {unmasked['recall@10']:.4f} -> {metrics['recall@10']:.4f}; "
              f"{share:.1%} of the unmasked top {TOP} is history -> {path}")


if __name__ == "__main__":
    main()
