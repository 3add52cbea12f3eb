"""Popularity (most-popular items) on the three Amazon 2014 benchmarks: the floor for every model.

    OMP_NUM_THREADS=1 python benchmarks/popularity.py [--datasets amazon2014/beauty ...]
        [--out runs/benchmarks]

One run directory per dataset under ``--out`` and records ``popularity`` (valid and test).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from run_records import DATASETS, run_and_record, slug

from genrec.runs import resolve_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--out", type=Path, default=Path("runs/benchmarks"), help="where run directories go")
    args = parser.parse_args()
    for dataset in args.datasets:
        run_dir = args.out / f"{slug(dataset)}-popularity"
        metrics = run_and_record(resolve_config("popularity", dataset), run_dir, "")
        test = metrics["test"]["metrics"]
        print(f"{dataset} popularity: test recall@10 {test['recall@10']:.4f} ndcg@10 {test['ndcg@10']:.4f}")


if __name__ == "__main__":
    main()
