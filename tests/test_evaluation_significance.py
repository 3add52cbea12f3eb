"""Paired significance tests on constructed per-user vectors with known answers, and `genrec compare`."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from genrec.cli import app
from genrec.errors import GenrecError
from genrec.evaluation.metrics import per_user_metrics
from genrec.evaluation.significance import compare_runs, load_per_user, paired_test, save_ranks

N = 400


def _hits(seed: int, rate: float = 0.05) -> np.ndarray:
    return (np.random.default_rng(seed).random(N) < rate).astype(np.float64)


def _write_run(path, users, dataset="amazon2014/beauty", **metrics):
    path.mkdir()
    np.savez(path / "per_user.npz", users=users, **metrics)
    (path / "metrics.json").write_text(json.dumps({"dataset": dataset}))
    return path


def test_identical_runs_show_no_difference():
    a = _hits(0)
    t = paired_test(a, a.copy(), "recall@10")
    assert (t.mean_diff, t.relative_change, t.t_pvalue, t.wilcoxon_pvalue, t.n) == (0.0, 0.0, 1.0, 1.0, N)


def test_clear_shift_is_significant_and_signed():
    a = _hits(0)
    b = a.copy()
    b[np.flatnonzero(a == 0)[:40]] = 1.0  # 40 more users hit: 10 points of recall more
    t = paired_test(a, b, "recall@10")
    assert t.mean_diff == pytest.approx(0.1) and t.relative_change == pytest.approx(0.1 / a.mean())
    assert t.t_pvalue < 0.05 and t.wilcoxon_pvalue < 0.05 and t.t_statistic > 0
    assert paired_test(b, a).t_statistic < 0  # B worse than A: negative direction


def test_t_statistic_matches_the_formula_and_symmetric_changes_cancel():
    rng = np.random.default_rng(1)
    a, b = rng.random(N), rng.random(N)
    d = b - a
    assert paired_test(a, b).t_statistic == pytest.approx(d.mean() / (d.std(ddof=1) / np.sqrt(N)))
    a = rng.integers(1, 8, N) / 8  # dyadic values, so the changes below are exact
    up_down = a + np.where(np.arange(N) % 2 == 0, 0.125, -0.125)  # half up, half down by the same amount
    t = paired_test(a, up_down)
    assert t.mean_diff == 0.0 and t.t_pvalue == pytest.approx(1.0) and t.wilcoxon_pvalue == pytest.approx(1.0)


def test_runs_are_aligned_on_users(tmp_path):
    users = np.arange(N)
    a, b = _hits(0), _hits(1)
    run_a = _write_run(tmp_path / "a", users, **{"ndcg@10": a})
    shuffled = np.random.default_rng(2).permutation(N)
    run_b = _write_run(tmp_path / "b", users[shuffled], **{"ndcg@10": b[shuffled]})
    [t] = compare_runs(run_a, run_b)
    assert t.mean_diff == pytest.approx(b.mean() - a.mean())
    assert t.t_statistic == pytest.approx(paired_test(a, b).t_statistic)  # pairs, not just means, match


def test_different_users_or_datasets_are_clear_errors(tmp_path):
    run_a = _write_run(tmp_path / "a", np.arange(N), **{"ndcg@10": _hits(0)})
    run_b = _write_run(tmp_path / "b", np.arange(1, N + 1), **{"ndcg@10": _hits(1)})
    with pytest.raises(GenrecError, match="different users"):
        compare_runs(run_a, run_b)
    run_c = _write_run(tmp_path / "c", np.arange(N), dataset="amazon2014/toys", **{"ndcg@10": _hits(1)})
    with pytest.raises(GenrecError, match="different datasets"):
        compare_runs(run_a, run_c)
    with pytest.raises(GenrecError, match="no per-user metrics"):
        compare_runs(run_a, tmp_path / "missing")


def test_compare_command(tmp_path):
    users = np.arange(N)
    a = _hits(0)
    b = a.copy()
    b[np.flatnonzero(a == 0)[:40]] = 1.0
    run_a = _write_run(tmp_path / "a", users, **{"recall@10": a, "ndcg@10": a * 0.5})
    run_b = _write_run(tmp_path / "b", users, **{"recall@10": b, "ndcg@10": b * 0.5})
    runner = CliRunner()
    result = runner.invoke(app, ["compare", str(run_a), str(run_b), "--metric", "recall@10"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("| recall@10"))
    assert f"| {a.mean():.4f} | {b.mean():.4f} | +0.1000 |" in row
    assert "ndcg@10" not in result.output
    bad = runner.invoke(app, ["compare", str(run_a), str(run_b), "--metric", "mrr@3"])
    assert bad.exit_code == 2 and "error:" in bad.output and "not in both runs" in bad.output


def test_ranks_file_keeps_every_metric_and_compares_like_the_run(tmp_path):
    """A benchmark record keeps its run's per-user results as one byte a user; reading them back
    must give the run's metrics exactly, and ``compare`` the same tests as on the run directory."""
    rng = np.random.default_rng(0)
    ranks = np.where(rng.random(N) < 0.3, rng.integers(0, 20, N), np.inf)
    users = rng.permutation(N)
    run_a = _write_run(tmp_path / "a", users, **per_user_metrics(ranks))
    run_b = _write_run(tmp_path / "b", np.arange(N), **per_user_metrics(np.roll(ranks, 7)))
    kept = save_ranks(load_per_user(run_a), tmp_path / "a.ranks.npz")
    assert kept.stat().st_size < 4 * N  # about a byte a user and a compressed id
    again = load_per_user(kept)
    original = load_per_user(run_a)
    assert np.array_equal(again.users, original.users) and again.values.keys() == original.values.keys()
    for name, values in original.values.items():
        assert np.allclose(again.values[name], values, rtol=0, atol=1e-12), name
    assert compare_runs(kept, run_b) == compare_runs(run_a, run_b)


def test_ranks_file_takes_its_dataset_from_the_record_beside_it(tmp_path):
    run = _write_run(tmp_path / "run", np.arange(N), dataset="amazon2014/toys",
                     **per_user_metrics(np.full(N, np.inf)))
    kept = save_ranks(load_per_user(run), tmp_path / "toys-record.ranks.npz")
    (tmp_path / "toys-record.json").write_text(json.dumps({"dataset": "amazon2014/toys"}))
    other = _write_run(tmp_path / "beauty", np.arange(N), **per_user_metrics(np.full(N, np.inf)))
    assert load_per_user(kept).dataset == "amazon2014/toys"
    with pytest.raises(GenrecError, match="different datasets"):
        compare_runs(kept, other)
