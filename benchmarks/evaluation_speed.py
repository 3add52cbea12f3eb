"""Throughput of the evaluation protocol itself: a Popularity model on all 22,363 Beauty test users.

    OMP_NUM_THREADS=1 python benchmarks/evaluation_speed.py

Popularity costs almost nothing to score, so this measures the protocol's own overhead (batching,
top-k over the 12,101-item catalogue, ranks and metrics), with and without masking the history.
Best of 3 full evaluations each; one record, model ``evaluation:popularity``.
"""

from __future__ import annotations

import time

from genrec.data import leave_one_out, load_dataset
from genrec.evaluation.protocol import evaluate
from genrec.evaluation.records import write_record
from genrec.models.popularity import Popularity, PopularityConfig

DATASET = "amazon2014/beauty"
REPEATS = 3
BATCH_SIZE = 1024


def best_seconds(model: Popularity, evalset, exclude_history: bool) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        evaluate(model, evalset, "test", exclude_history=exclude_history, batch_size=BATCH_SIZE,
                 progress=False)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    dataset = load_dataset(DATASET)
    splits = leave_one_out(dataset)
    model = Popularity(PopularityConfig(), dataset)
    model.fit(dataset, splits)
    n = len(splits.test)
    plain, masked = best_seconds(model, splits.test, False), best_seconds(model, splits.test, True)
    metrics = {"users": n, "seconds": plain, "users_per_second": n / plain,
               "seconds_exclude_history": masked, "users_per_second_exclude_history": n / masked}
    path = write_record(DATASET, "evaluation:popularity", "", "test", metrics, eval_seconds=plain,
                        extra={"repeats": REPEATS, "batch_size": BATCH_SIZE, "ks": [5, 10, 20]})
    print(f"{DATASET}: {n:,} users in {plain:.3f} s ({n / plain:,.0f} users/s); "
          f"with exclude_history {masked:.3f} s ({n / masked:,.0f} users/s) -> {path}")


if __name__ == "__main__":
    main()
