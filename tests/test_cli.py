import json

import pytest
from typer.testing import CliRunner

from genrec.cli import app

runner = CliRunner()


@pytest.mark.parametrize("name, users, items, interactions", [
    ("amazon2014/beauty", "22,363", "12,101", "198,502"),
    ("amazon2014/toys", "19,412", "11,924", "167,597"),
    ("amazon2014/sports", "35,598", "18,357", "296,337"),
])
def test_data_info_prints_the_published_counts(beauty, name, users, items, interactions):
    result = runner.invoke(app, ["data", "info", name])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(None, 1) for line in result.output.splitlines() if line.strip())
    assert (lines["users"].strip(), lines["items"].strip(),
            lines["interactions"].strip()) == (users, items, interactions)


def test_unknown_dataset_is_one_clear_line():
    result = runner.invoke(app, ["data", "info", "no/such/dataset"])
    assert result.exit_code == 2
    assert "error:" in result.output and "Traceback" not in result.output


def test_train_evaluate_recommend_popularity(beauty, tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--model", "popularity", "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["n_users"] == 22_363 and metrics["exclude_history"] is False
    assert 0 < metrics["test"]["metrics"]["recall@20"] < 0.05  # popularity is weak but not zero on Beauty

    masked = runner.invoke(app, ["evaluate", str(run), "--exclude-history"])
    assert masked.exit_code == 0 and "exclude_history=True" in masked.output
    # the run's own files keep its own protocol; the other one goes beside them
    assert json.loads((run / "metrics.json").read_text()) == metrics
    assert json.loads((run / "metrics-masked.json").read_text())["exclude_history"] is True
    assert (run / "per_user-masked.npz").is_file() and (run / "metrics-masked.md").is_file()

    rec = runner.invoke(app, ["recommend", str(run), "--history", "B004756YJA", "2", "--k", "3"])
    assert rec.exit_code == 0, rec.output
    rows = rec.output.strip().splitlines()
    assert rows[0].split("\t")[:2] == ["rank", "item_id"] and len(rows) == 4
    unknown = runner.invoke(app, ["recommend", str(run), "--history", "NOPE"])
    assert unknown.exit_code == 2 and "NOPE" in unknown.output


def test_loader_options_reach_the_loader_and_the_run(tmp_path):
    log = "tests/data/log.csv"
    opts = ["-o", "user_col=uid", "-o", "item_col=sku", "-o", "time_col=ts",
            "-o", "items=tests/data/items.csv"]
    info = runner.invoke(app, ["data", "info", log, *opts])
    assert info.exit_code == 0, info.output
    assert "error" not in info.output and "users" in info.output

    run = tmp_path / "run"
    trained = runner.invoke(app, ["train", "--model", "popularity", "--dataset", log,
                                  "--run-dir", str(run), *opts])
    assert trained.exit_code == 0, trained.output
    again = runner.invoke(app, ["evaluate", str(run)])  # the saved config must rebuild the same dataset
    assert again.exit_code == 0, again.output

    typo = runner.invoke(app, ["data", "info", log, "-o", "user=uid"])
    assert typo.exit_code == 2 and "user_col" in typo.output


def test_run_prints_one_comparison_table(beauty, tmp_path):
    result = runner.invoke(app, ["run", "--models", "popularity", "--max-minutes", "1",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "| popularity |" in result.output and len(list(tmp_path.iterdir())) == 1
