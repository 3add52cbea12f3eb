"""How far one recipe's results move with the seed: mean, spread and a test against a reference figure.

    python benchmarks/seed_spread.py amazon2014/beauty sasrec \
        "loss=ce,train.epochs=24,train.max_minutes=0,train.seed=*" \
        [--split test] [--against recbole]

Reads the records of ``benchmarks/results/`` whose variant matches the pattern (``*`` as in a shell:
one recipe, one record a seed), and prints for each metric the number of seeds, their mean, standard
deviation and range. ``--against recbole`` adds RecBole's reference figures for SASRec CE on Beauty
(the floor of ``benchmarks/sasrec.py``) with a one-sample t-test of the seeds' mean against each: a
single run, ours or RecBole's, is one draw, and a verdict between two recipes this close needs the
spread.
"""

from __future__ import annotations

import argparse
import fnmatch
from pathlib import Path

import numpy as np
from sasrec import TARGETS
from scipy import stats

from genrec.evaluation.records import RESULTS_DIR, read_records

REFERENCES = {"recbole": TARGETS}


def seed_records(dataset: str, model: str, pattern: str, split: str,
                 results_dir: str | Path = RESULTS_DIR) -> list[dict]:
    """The records of one recipe, one per seed, sorted by variant."""
    found = [r for r in read_records(results_dir) if r["dataset"] == dataset and r["model"] == model
             and r["split"] == split and fnmatch.fnmatchcase(r["variant"], pattern)]
    return sorted(found, key=lambda r: r["variant"])


def spread(records: list[dict], reference: dict[str, float] | None = None) -> list[dict]:
    """One row a metric: n, mean, sd, min, max, and against ``reference`` the difference and its p."""
    rows = []
    for name in records[0]["metrics"]:
        values = np.array([r["metrics"][name] for r in records if name in r["metrics"]], dtype=float)
        row = {"metric": name, "n": len(values), "mean": values.mean(),
               "sd": values.std(ddof=1) if len(values) > 1 else float("nan"),
               "min": values.min(), "max": values.max()}
        if reference and name in reference:
            row["reference"] = reference[name]
            row["mean - reference"] = row["mean"] - reference[name]
            row["p"] = (stats.ttest_1samp(values, reference[name]).pvalue if len(values) > 1
                        else float("nan"))
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("model")
    parser.add_argument("pattern", help="variant pattern, e.g. 'loss=ce,train.seed=*'")
    parser.add_argument("--split", default="test", choices=["test", "valid"])
    parser.add_argument("--against", choices=sorted(REFERENCES), default=None)
    args = parser.parse_args()
    records = seed_records(args.dataset, args.model, args.pattern, args.split)
    if not records:
        raise SystemExit(f"no {args.split} records of {args.model} on {args.dataset} match {args.pattern!r}")
    for record in records:
        print(f"{record['variant']}  (commit {record['commit'][:10]}, {record['date'][:10]})")
    rows = spread(records, REFERENCES.get(args.against))
    columns = list(max(rows, key=len))
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(_cell(row, column) for column in columns) + " |")


def _cell(row: dict, column: str) -> str:
    if column not in row:
        return "–"
    value = row[column]
    if column in ("metric", "n"):
        return str(value)
    if column == "p":
        return f"{value:.2g}"
    return f"{value:+.4f}" if column.startswith("mean -") else f"{value:.4f}"


if __name__ == "__main__":
    main()
