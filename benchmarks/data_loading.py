"""How long ``load_dataset`` takes on the three Amazon 2014 benchmarks (target: Beauty in <= 3 s).

    OMP_NUM_THREADS=1 python benchmarks/data_loading.py

For each dataset: the first load in this process (``cold_seconds``; the OS page cache is not dropped,
so the files may already be in memory) and the best of 5 further loads (``seconds``). One record per
dataset, model ``data-loader``.
"""

from __future__ import annotations

import time

from genrec.data import load_dataset
from genrec.evaluation.records import write_record

DATASETS = ("amazon2014/beauty", "amazon2014/toys", "amazon2014/sports")
REPEATS = 5
TARGET_SECONDS = {"amazon2014/beauty": 3.0}


def time_loads(name: str, repeats: int = REPEATS) -> tuple[dict, float, float]:
    """(dataset stats, first load seconds, best of ``repeats`` later loads)."""
    times = []
    for _ in range(1 + repeats):
        start = time.perf_counter()
        dataset = load_dataset(name)
        times.append(time.perf_counter() - start)
    return dataset.stats(), times[0], min(times[1:])


def main() -> None:
    for name in DATASETS:
        stats, cold, best = time_loads(name)
        metrics = {"seconds": best, "cold_seconds": cold, "users": stats["users"], "items": stats["items"],
                   "interactions": stats["interactions"]}
        path = write_record(name, "data-loader", "", "all", metrics,
                            extra={"repeats": REPEATS, "target_seconds": TARGET_SECONDS.get(name)})
        target = TARGET_SECONDS.get(name)
        verdict = f" (target <= {target} s: {'met' if best <= target else 'MISSED'})" if target else ""
        print(f"{name}: best of {REPEATS} {best:.3f} s, cold {cold:.3f} s{verdict} -> {path}")


if __name__ == "__main__":
    main()
