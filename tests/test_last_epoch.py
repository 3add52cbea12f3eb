"""benchmarks/last_epoch.py: a run's checkpointed last-epoch weights, evaluated like the run itself."""

import importlib.util
import json
from pathlib import Path

import torch
from typer.testing import CliRunner

from genrec.cli import app
from genrec.evaluation.records import read_records

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_last_epoch_of_a_run_that_kept_it_reproduces_the_run(beauty, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("last_epoch", BENCHMARKS / "last_epoch.py")
    last_epoch = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(last_epoch)
    run = tmp_path / "run"
    # a few steps, then one validation: the kept epoch is the last, so both evaluations must agree
    trained = CliRunner().invoke(app, ["train", "--model", "sasrec", "--run-dir", str(run), "--set",
                                       "train.max_steps=5", "--set", "train.batch_size=64"])
    assert trained.exit_code == 0, trained.output
    results = tmp_path / "results"
    last_epoch.main([str(run), "--variant", "tiny", "--results-dir", str(results)])
    records = {r["split"]: r for r in read_records(results)}
    own = json.loads((run / "metrics.json").read_text())
    for split in ("valid", "test"):
        assert records[split]["variant"] == "tiny,last_epoch"
        assert records[split]["extra"]["epoch"] == records[split]["extra"]["kept_epoch"] == 1
        for metric, value in own[split]["metrics"].items():
            assert abs(records[split]["metrics"][metric] - value) < 1e-9, (split, metric)
    assert list(results.glob("*test*.ranks.npz"))

    # and the weights it reads are the checkpoint's, not the saved model's
    checkpoint = torch.load(run / "checkpoints" / "last.pt", weights_only=False)
    checkpoint["module"] = {k: torch.randn_like(v) if v.is_floating_point() else v
                            for k, v in checkpoint["module"].items()}
    torch.save(checkpoint, run / "checkpoints" / "last.pt")
    last_epoch.main([str(run), "--variant", "tiny", "--results-dir", str(results)])
    test = next(r for r in read_records(results) if r["split"] == "test")
    assert test["metrics"]["ndcg@10"] != own["test"]["metrics"]["ndcg@10"]
