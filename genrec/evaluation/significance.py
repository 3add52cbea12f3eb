"""Is run B really better than run A? Paired tests on the per-user metrics of the same users.

Both runs score the same held-out target per user, so the per-user differences are paired: a paired
t-test (on the mean difference) and a Wilcoxon signed-rank test (no normality assumption; users with
no difference are dropped, as usual) tell whether a gap in the means is more than noise.

Run directories are large and do not outlive the machine that trained them, so a benchmark record
keeps its run's per-user results beside it in a compact form (``save_ranks``): each user's target
rank in the top K, one byte a user, from which every Recall@k and NDCG@k with k <= K is recomputed
exactly. ``genrec compare`` reads a run directory, a ``per_user.npz`` or such a ranks file.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from genrec.errors import GenrecError
from genrec.evaluation.metrics import per_user_metrics
from genrec.io import atomic_write

PER_USER, METRICS = "per_user.npz", "metrics.json"  # as written by genrec.runs
MISSED = 255  # rank stored for a target outside the top K
RANKS = ".ranks.npz"  # a ranks file's suffix, beside the benchmark record ``<name>.json``


def ranks_path(record: str | Path) -> Path:
    """The ranks file kept beside the benchmark record ``<name>.json``: ``<name>.ranks.npz``."""
    record = Path(record)
    return record.with_name(record.stem + RANKS)


@dataclass(frozen=True)
class PerUser:
    """Per-user test metrics of one run: ``values[metric][i]`` belongs to ``users[i]``."""

    source: str
    dataset: str | None
    users: np.ndarray
    values: dict[str, np.ndarray]


@dataclass(frozen=True)
class PairedTest:
    metric: str
    n: int
    mean_a: float
    mean_b: float
    mean_diff: float  # mean of b - a
    relative_change: float | None  # mean_diff / mean_a; None where mean_a is 0
    t_statistic: float
    t_pvalue: float
    wilcoxon_statistic: float
    wilcoxon_pvalue: float


def load_per_user(run: str | Path) -> PerUser:
    """A run directory (its ``per_user.npz``, dataset from ``metrics.json``), a ``per_user.npz`` or a
    ranks file (``save_ranks``)."""
    run = Path(run)
    path = run / PER_USER if run.is_dir() else run
    if not path.is_file():
        raise GenrecError(f"{run}: no per-user metrics ({PER_USER}); evaluate the run first")
    with np.load(path, allow_pickle=False) as data:
        if "users" not in data.files:
            raise GenrecError(f"{path}: no 'users' array")
        if "rank" in data.files:  # a ranks file (save_ranks)
            rank = np.where(data["rank"] == MISSED, np.inf, data["rank"]).astype(np.float64)
            values = per_user_metrics(rank, tuple(int(k) for k in data["ks"]))
        else:
            values = {name: data[name].astype(np.float64) for name in data.files if name != "users"}
        users = data["users"]
    if any(len(v) != len(users) for v in values.values()):
        raise GenrecError(f"{path}: metric arrays and 'users' differ in length")
    # the run's metrics.json, or the benchmark record that a ranks file sits beside
    described = path.with_name(path.name.removesuffix(RANKS) + ".json") if path.name.endswith(RANKS) \
        else path.parent / METRICS
    dataset = json.loads(described.read_text()).get("dataset") if described.is_file() else None
    return PerUser(str(run), dataset, users, values)


def save_ranks(per_user: PerUser, path: str | Path) -> Path:
    """Keep ``per_user`` as ranks (uint8, ``MISSED`` outside the top K, K the largest cut-off it has):
    the target's 0-based rank r is exact from NDCG@K = 1 / log2(r + 2)."""
    ks = sorted(int(name.split("@")[1]) for name in per_user.values if name.startswith("ndcg@"))
    if not ks or ks[-1] >= MISSED:
        raise GenrecError(f"{per_user.source}: no NDCG@K with K < {MISSED} to keep ranks from")
    k = ks[-1]
    hit = per_user.values[f"recall@{k}"] > 0
    ndcg = np.where(hit, per_user.values[f"ndcg@{k}"], 1.0)
    rank = np.where(hit, np.rint(2.0 ** (1.0 / ndcg) - 2.0), MISSED).astype(np.uint8)
    path = Path(path)
    atomic_write(path, lambda f: np.savez_compressed(f, users=per_user.users.astype(np.int32), rank=rank,
                                                     ks=np.array(ks, dtype=np.int16)))
    return path


def align(a: PerUser, b: PerUser) -> np.ndarray:
    """Index into ``b`` that puts its users in ``a``'s order; an error unless both have the same users."""
    if a.dataset and b.dataset and a.dataset != b.dataset:
        raise GenrecError(f"cannot compare runs on different datasets: {a.dataset} ({a.source}) "
                          f"and {b.dataset} ({b.source})")
    if len(np.unique(a.users)) != len(a.users) or len(np.unique(b.users)) != len(b.users):
        raise GenrecError("per-user metrics list a user twice")
    if len(a.users) != len(b.users) or not np.array_equal(np.sort(a.users), np.sort(b.users)):
        raise GenrecError(f"the runs were evaluated on different users ({len(a.users):,} in {a.source}, "
                          f"{len(b.users):,} in {b.source}, {len(np.intersect1d(a.users, b.users)):,} "
                          "shared); compare runs on the same dataset and split")
    return np.argsort(b.users)[np.argsort(np.argsort(a.users))]


def paired_test(a: np.ndarray, b: np.ndarray, metric: str = "") -> PairedTest:
    """Paired t-test and Wilcoxon signed-rank test of ``b`` against ``a`` (same users, same order)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise GenrecError(f"paired test needs two equally long vectors of 2+ users, "
                          f"got {a.shape} and {b.shape}")
    diff = b - a
    if not diff.any():  # identical runs: no evidence of any difference (scipy would return NaN)
        t_stat, t_p, w_stat, w_p = 0.0, 1.0, 0.0, 1.0
    else:
        with warnings.catch_warnings():  # constant non-zero differences are a legitimate extreme case
            warnings.simplefilter("ignore", RuntimeWarning)
            t = stats.ttest_rel(b, a)
            w = stats.wilcoxon(diff, zero_method="wilcox")
        t_stat, t_p = float(t.statistic), float(t.pvalue)
        if not np.isfinite(t_p):  # every user moved by the same amount: the shift is certain
            t_stat, t_p = float(np.sign(diff.mean()) * np.inf), 0.0
        w_stat, w_p = float(w.statistic), float(w.pvalue)
    mean_a, mean_b = float(a.mean()), float(b.mean())
    return PairedTest(metric, len(a), mean_a, mean_b, mean_b - mean_a,
                      (mean_b - mean_a) / mean_a if mean_a else None, t_stat, t_p, w_stat, w_p)


def compare_runs(run_a: str | Path, run_b: str | Path, metrics: list[str] | None = None) -> list[PairedTest]:
    """Paired tests of run B against run A for ``metrics`` (default: every metric both runs have)."""
    a, b = load_per_user(run_a), load_per_user(run_b)
    order = align(a, b)
    shared = [m for m in a.values if m in b.values]
    for name in metrics or []:
        if name not in shared:
            raise GenrecError(f"metric {name!r} is not in both runs; available: {', '.join(shared)}")
    return [paired_test(a.values[m], b.values[m][order], m) for m in (metrics or shared)]


def comparison_table(tests: list[PairedTest], name_a: str = "A", name_b: str = "B") -> str:
    """Markdown: both means, the difference, and both p-values per metric."""
    lines = [f"B = {name_b} against A = {name_a} (paired over {tests[0].n:,} users)" if tests else "", "",
             "| metric | A | B | B - A | change | t-test p | Wilcoxon p |", "|---|---|---|---|---|---|---|"]
    for t in tests:
        change = f"{t.relative_change:+.1%}" if t.relative_change is not None else "n/a"
        lines.append(f"| {t.metric} | {t.mean_a:.4f} | {t.mean_b:.4f} | {t.mean_diff:+.4f} | {change} "
                     f"| {format_p(t.t_pvalue)} | {format_p(t.wilcoxon_pvalue)} |")
    return "\n".join(lines) + "\n"


def format_p(p: float) -> str:
    """Three decimals, or scientific notation below 0.001."""
    return f"{p:.2e}" if p < 1e-3 else f"{p:.3f}"
