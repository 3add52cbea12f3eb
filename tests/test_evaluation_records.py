"""Benchmark records: round trip, provenance fields, replacement on re-run, clear errors."""

import json
import os
import re
import sys
from datetime import datetime

import pytest

from genrec.errors import GenrecError
from genrec.evaluation.records import read_records, record_filename, write_record


def test_round_trip_with_provenance(tmp_path):
    metrics = {"recall@10": 0.0823, "users": 22363}
    path = write_record("amazon2014/beauty", "sasrec", "loss=ce", "test", metrics,
                        train_seconds=12.3456, eval_seconds=1.5, command="genrec train --model sasrec",
                        extra={"epochs": 21}, results_dir=tmp_path)
    [record] = read_records(tmp_path)
    assert record["path"] == str(path)
    assert (record["dataset"], record["model"], record["variant"], record["split"]) == (
        "amazon2014/beauty", "sasrec", "loss=ce", "test")
    assert record["metrics"] == metrics and isinstance(record["metrics"]["users"], int)
    assert (record["train_seconds"], record["eval_seconds"]) == (12.346, 1.5)
    assert record["command"] == "genrec train --model sasrec" and record["extra"] == {"epochs": 21}
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?|unknown", record["commit"])
    assert datetime.fromisoformat(record["date"]).utcoffset().total_seconds() == 0  # UTC
    machine = record["machine"]
    assert machine["cpu_cores"] == os.cpu_count() and machine["memory_gib"] > 0
    assert machine["load_avg_1min"] >= 0 and machine["torch"] and machine["python"].startswith("3.")


def test_rerun_replaces_and_other_keys_add(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/somewhere/benchmarks/sasrec.py", "--epochs", "2 3"])
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    write_record("amazon2014/beauty", "sasrec", "loss=ce", "test", {"ndcg@10": 0.01}, results_dir=tmp_path)
    write_record("amazon2014/beauty", "sasrec", "loss=ce", "test", {"ndcg@10": 0.02}, results_dir=tmp_path)
    write_record("amazon2014/beauty", "sasrec", "loss=bce", "test", {"ndcg@10": 0.03}, results_dir=tmp_path)
    records = read_records(tmp_path)
    assert [(r["variant"], r["metrics"]["ndcg@10"]) for r in records] == [("loss=bce", 0.03),
                                                                           ("loss=ce", 0.02)]
    assert records[0]["command"] == "OMP_NUM_THREADS=1 python /somewhere/benchmarks/sasrec.py --epochs '2 3'"
    assert len(list(tmp_path.iterdir())) == 2  # atomic writes leave no temporary files behind


def test_file_names_are_readable_and_do_not_collide():
    name = record_filename("amazon2014/beauty", "tokenizer:rq-kmeans", "", "test")
    assert name.startswith("amazon2014-beauty__tokenizer-rq-kmeans__default__test__")
    assert name.endswith(".json")
    assert record_filename("a/b", "m", "", "test") != record_filename("a-b", "m", "", "test")


@pytest.mark.parametrize("kwargs, message", [
    (dict(dataset=""), "dataset"),
    (dict(metrics={}), "non-empty dict"),
    (dict(metrics={"recall@10": "high"}), "not a number"),
    (dict(metrics={"recall@10": float("nan")}), "nan"),
])
def test_bad_records_are_refused(tmp_path, kwargs, message):
    args = dict(dataset="d", model="m", variant="", split="test", metrics={"recall@10": 0.1}) | kwargs
    with pytest.raises(GenrecError, match=message):
        write_record(**args, results_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_a_broken_file_is_named(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(GenrecError, match="x.json"):
        read_records(tmp_path)
    (tmp_path / "x.json").write_text(json.dumps({"dataset": "d"}))
    with pytest.raises(GenrecError, match="missing model"):
        read_records(tmp_path)
