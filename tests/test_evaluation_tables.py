"""Result tables and the BENCHMARKS.md renderer: our numbers, cited numbers, speed and notes."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from genrec.errors import GenrecError
from genrec.evaluation.records import read_records, write_record
from genrec.evaluation.tables import metric_columns, records_from_run, results_table, results_tables

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def render_module():
    spec = importlib.util.spec_from_file_location("render", BENCHMARKS / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_columns_are_ordered_by_cutoff_then_kind():
    records = [{"metrics": {"ndcg@10": 0, "recall@20": 0, "recall@5": 0, "recall@10": 0}},
               {"metrics": {"seconds": 0, "ndcg@5": 0, "users": 0}}]
    assert metric_columns(records) == ["recall@5", "ndcg@5", "recall@10", "ndcg@10", "recall@20",
                                       "seconds", "users"]


def test_table_shows_our_and_cited_rows():
    ours = {"dataset": "d", "model": "sasrec", "variant": "loss=ce", "split": "test", "train_seconds": 61.0,
            "eval_seconds": 2.25, "metrics": {"recall@10": 0.08234, "ndcg@10": 0.04121},
            "command": "genrec train", "commit": "a" * 40 + "+dirty", "date": "2026-01-01T00:00:00+00:00",
            "machine": {"cpu_cores": 2, "memory_gib": 23.5, "load_avg_1min": 1.5}}
    cited = {"model": "TIGER", "source": "TIGER paper", "metrics": {"ndcg@10": 0.0384}}
    lines = results_table([ours], published=[cited]).splitlines()
    assert lines[0] == "| model | recall@10 | ndcg@10 | train s | eval s | source |"
    assert lines[2] == "| sasrec (loss=ce) | 0.0823 | 0.0412 | 61.00 | 2.25 | measured [1] |"
    assert lines[3] == "| TIGER | – | 0.0384 | – | – | cited: TIGER paper |"
    assert lines[5].startswith("1. sasrec (loss=ce): `genrec train` at commit `aaaaaaaaaa+dirty`, 2026-01-01")
    assert "2 cores" in lines[5] and "load 1.5" in lines[5]


def test_render_writes_benchmarks_md_from_records(tmp_path, monkeypatch, render_module):
    results = tmp_path / "results"
    write_record("amazon2014/beauty", "sasrec", "loss=ce", "test", {"recall@10": 0.0823, "ndcg@10": 0.0412},
                 train_seconds=5100, eval_seconds=3.2, command="genrec train --model sasrec",
                 results_dir=results)
    write_record("amazon2014/beauty", "sasrec", "loss=ce", "valid", {"recall@10": 0.0951, "ndcg@10": 0.0514},
                 results_dir=results)
    write_record("amazon2014/beauty", "data-loader", "", "all", {"seconds": 0.0789, "users": 22363},
                 results_dir=results)
    (tmp_path / "notes.md").write_text("## Notes\n\nOur SASRec is below RecBole because of X.\n")
    out = tmp_path / "BENCHMARKS.md"
    argv = ["render.py", "--results", str(results), "--notes", str(tmp_path / "notes.md"), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    render_module.main()
    text = out.read_text()
    quality, speed = text.split("## Speed")
    assert "| sasrec (loss=ce) | – | – | 0.0823 | 0.0412 | 5,100 | 3.20 | measured [1] |" in quality
    assert "| sasrec (loss=ce) | 0.0951 | 0.0514 |" in quality  # the compact validation table
    assert "`genrec train --model sasrec`" in quality
    # from published.yaml, beside ours
    assert "| GRAM | 0.0641 | 0.0451 | 0.0890 | 0.0531 | – | – | cited: GRAM" in quality
    assert "| amazon2014/beauty | – | all | 0.0789 | 22,363 | [1] |" in speed
    assert "Our SASRec is below RecBole because of X." in speed  # notes, verbatim
    assert "data-loader" not in quality


def test_published_figures_are_well_formed(render_module):
    published, sources = render_module.load_published(BENCHMARKS / "published.yaml")
    assert set(published) == {"amazon2014/beauty", "amazon2014/toys", "amazon2014/sports"}
    for rows in published.values():
        for row in rows:
            assert row["source"] in sources.values()
            assert row["metrics"] and all(name in {"recall@5", "ndcg@5", "recall@10", "ndcg@10"}
                                          for name in row["metrics"])
            assert all(0 < value < 0.2 for value in row["metrics"].values())


def test_render_of_the_repository_records(render_module, tmp_path):
    """Every committed record renders (a malformed one would break BENCHMARKS.md for everyone)."""
    records = read_records(BENCHMARKS / "results")
    published, sources = render_module.load_published(BENCHMARKS / "published.yaml")
    text = render_module.render(records, published, sources, "")
    assert text.count("### amazon2014/") >= 3


def test_every_paired_test_in_published_yaml_names_records_with_ranks(render_module):
    """A misspelt model name or a record without ranks would show dashes in BENCHMARKS.md."""
    import yaml

    spec = yaml.safe_load((BENCHMARKS / "published.yaml").read_text())["paired_tests"]
    text = render_module.paired_tables(read_records(BENCHMARKS / "results"), spec)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "against A" not in line]
    assert rows and not [row for row in rows if "| – |" in row]


def test_tables_across_run_directories(tmp_path):
    for name, ndcg in (("pop", 0.0053), ("sasrec-ce", 0.0412)):
        (tmp_path / name).mkdir()
        run = {"model": name.split("-")[0], "dataset": "amazon2014/beauty", "train": {"train_seconds": 7.0},
               "valid": {"metrics": {"ndcg@10": ndcg + 0.01}, "eval_seconds": 1.0},
               "test": {"metrics": {"ndcg@10": ndcg}, "eval_seconds": 1.0}}
        (tmp_path / name / "metrics.json").write_text(json.dumps(run))
    records = [r for name in ("pop", "sasrec-ce") for r in records_from_run(tmp_path / name)]
    text = results_tables(records, published={"amazon2014/beauty": [
        {"model": "TIGER", "source": "TIGER paper", "metrics": {"ndcg@10": 0.0384}}]})
    test_part, valid_part = text.split("**amazon2014/beauty, valid**")
    assert "| sasrec (sasrec-ce) | 0.0412 | 7.00 | 1.00 | measured [2] |" in test_part
    assert "| TIGER | 0.0384 |" in test_part and "TIGER" not in valid_part  # cited figures are test figures
    assert "| pop (pop) | 0.0153 |" in valid_part
    with pytest.raises(GenrecError, match="no metrics.json"):
        records_from_run(tmp_path)


def test_seed_spread_summarises_one_recipe_across_seeds(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("seed_spread", BENCHMARKS / "seed_spread.py")
    seed_spread = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seed_spread)
    for seed, ndcg in ((1, 0.040), (2, 0.042), (3, 0.044)):
        write_record("amazon2014/beauty", "sasrec", f"loss=ce,train.seed={seed}", "test",
                     {"ndcg@10": ndcg, "recall@20": 0.1}, results_dir=tmp_path)
    write_record("amazon2014/beauty", "sasrec", "loss=bce,train.seed=1", "test", {"ndcg@10": 0.9},
                 results_dir=tmp_path)
    records = seed_spread.seed_records("amazon2014/beauty", "sasrec", "loss=ce,train.seed=*", "test",
                                       results_dir=tmp_path)
    assert [r["variant"] for r in records] == [f"loss=ce,train.seed={s}" for s in (1, 2, 3)]
    rows = {row["metric"]: row for row in seed_spread.spread(records, {"ndcg@10": 0.042})}
    assert rows["ndcg@10"]["n"] == 3
    assert rows["ndcg@10"]["mean"] == pytest.approx(0.042)
    assert rows["ndcg@10"]["sd"] == pytest.approx(0.002)
    assert rows["ndcg@10"]["mean - reference"] == pytest.approx(0.0, abs=1e-12)
    assert rows["ndcg@10"]["p"] == pytest.approx(1.0)
    assert "reference" not in rows["recall@20"]


def test_ablation_table_finds_each_run_by_its_label_or_named_variant(render_module):
    """One table per recipe; ablations run under a recipe carry the recipe's label; a part may name
    another record, or none."""
    def record(variant, ndcg5):
        return {"model": "gram", "split": "test", "dataset": "d", "variant": variant,
                "metrics": {"recall@5": 0.1, "ndcg@5": ndcg5, "ndcg@10": 0.2}}
    records = [record("recipe-long-name", 0.0400), record("without-linking,recipe", 0.0300),
               record("without-item-prompts,recipe,user_prompt=true", 0.0200),
               record("without-user-prompt,recipe", 0.0100)]
    recipe = {"control": "recipe-long-name", "label": "recipe", "note": "Read me.",
              "variants": {"without-item-prompts": "without-item-prompts,recipe,user_prompt=true",
                           "without-user-prompt": None}}
    paper = {"full": [0.06, 0.05], "without-linking": [0.06, 0.04], "without-item-prompts": [0.05, 0.04],
             "without-user-prompt": [0.06, 0.05]}
    spec = {"paper": paper, "recipes": [{"control": "old-recipe"}, recipe]}
    text = render_module.ablation_tables(records, {"source": "s", "d": spec}, {"s": "the paper"})
    old, text = text.split("(our full recipe: row `recipe-long-name`)")  # one table per recipe, in order
    assert "(our full recipe: row `old-recipe`)" in old and "0.0300" not in old
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert "0.0400" in rows["full"]
    assert "0.0300" in rows["without-linking"] and "-25%" in rows["without-linking"]
    assert "0.0200" in rows["without-item-prompts"] and "-50%" in rows["without-item-prompts"]
    assert "0.0100" not in text  # the recipe has no user prompt: that row names no record
    assert "Read me." in text


def test_paired_tables_test_named_records_on_their_kept_ranks(render_module, tmp_path):
    """B against A from the ranks files beside two records; a pair with a name of no record shows dashes."""
    import numpy as np

    from genrec.evaluation.significance import PerUser, save_ranks

    users = np.arange(400)
    ranks = {"sasrec": np.where(users % 4 == 0, 0.0, np.inf), "gram": np.where(users % 2 == 0, 0.0, np.inf)}
    for model, rank in ranks.items():
        hit = np.isfinite(rank).astype(float)
        path = write_record("d", model, "v", "test", {"recall@10": hit.mean(), "ndcg@10": hit.mean()},
                            command="x", results_dir=tmp_path)
        save_ranks(PerUser(model, "d", users, {"recall@10": hit, "ndcg@10": hit}),
                   str(path).removesuffix(".json") + ".ranks.npz")
    records = read_records(tmp_path)
    spec = {"metrics": ["ndcg@10"], "d": [{"a": "sasrec (v)", "b": "gram (v)"}]}
    row = next(line for line in render_module.paired_tables(records, spec).splitlines() if "gram (v)" in line)
    assert "| 0.2500 | 0.5000 | +100.0% |" in row
    missing = render_module.paired_tables(records, {"d": [{"a": "tiger", "b": "gram (v)"}]})
    assert "| gram (v) | tiger | ndcg@10 | – | – | – | – | – |" in missing
