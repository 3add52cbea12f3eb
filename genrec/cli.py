"""The ``genrec`` command. Thin: every command parses its flags and calls the library."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from genrec.errors import GenrecError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Generative recommendation: semantic IDs, generative models, evaluation.")
data_app = typer.Typer(no_args_is_help=True, help="Inspect datasets.")
app.add_typer(data_app, name="data")

DataDir = Annotated[Optional[str], typer.Option("--data-dir", help="Dataset folder (default: $GENREC_DATA, "
                                                "../shared/data, or the per-user cache).")]
DataOptions = Annotated[Optional[list[str]], typer.Option(
    "--data-option", "-o", help="A loader option, key=value (repeatable): kcore, user_col, item_col, "
    "time_col, items, item_id_col, sep, download; e.g. -o user_col=uid -o kcore=5 for a CSV log.")]
Overrides = Annotated[Optional[list[str]], typer.Option("--set", help="Override a config value: key=value, "
                                                         "e.g. --set train.lr=0.001 (repeatable).")]


def friendly_errors(command):
    """Bad input ends with one clear line, not a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except GenrecError as e:
            typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None

    return wrapper


def parse_options(options: list[str] | None) -> dict:
    """``["kcore=5", "user_col=uid"]`` -> ``{"kcore": 5, "user_col": "uid"}`` (values parsed as YAML)."""
    from genrec.config import apply_overrides

    return apply_overrides({}, list(options or []))


@data_app.command("info")
@friendly_errors
def data_info(dataset: str, data_dir: DataDir = None, data_option: DataOptions = None) -> None:
    """Users, items, interactions, sequence lengths and density of a dataset."""
    from genrec.data import load_dataset

    ds = load_dataset(dataset, data_dir=data_dir, **parse_options(data_option))
    stats = ds.stats()
    typer.echo(f"dataset       {ds.name}  ({ds.source})")
    typer.echo(f"users         {stats['users']:,}")
    typer.echo(f"items         {stats['items']:,}")
    typer.echo(f"interactions  {stats['interactions']:,}")
    typer.echo(f"density       {stats['density']:.6f}")
    typer.echo(f"seq length    min {stats['seq_len_min']}  median {stats['seq_len_median']:g}  "
               f"mean {stats['seq_len_mean']:.2f}  max {stats['seq_len_max']}")


@app.command()
@friendly_errors
def train(
    model: Annotated[str, typer.Option(help="popularity, sasrec, tiger, ...")] = "sasrec",
    dataset: Annotated[str, typer.Option(help="Dataset name or path.")] = "amazon2014/beauty",
    set_: Overrides = None,
    config: Annotated[Optional[Path], typer.Option(help="A YAML config (e.g. a run's config.yaml).")] = None,
    run_dir: Annotated[Optional[Path], typer.Option(help="Where the run is written.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --run-dir from its last "
                                         "checkpoint.")] = False,
    exclude_history: Annotated[bool, typer.Option(help="Mask already-seen items at evaluation.")] = False,
    loss: Annotated[Optional[str], typer.Option(help="Shorthand for --set loss=... (sasrec: ce or "
                                                "bce).")] = None,
    tokenizer: Annotated[Optional[str], typer.Option(help="Shorthand for --set tokenizer=... (semantic-ID "
                                                     "models).")] = None,
    data_dir: DataDir = None,
    data_option: DataOptions = None,
) -> None:
    """Train a model, evaluate it on validation and test, and write a run directory."""
    from genrec.runs import resolve_config, train_run

    overrides = list(set_ or [])
    overrides += [f"loss={loss}"] if loss else []
    overrides += [f"tokenizer={tokenizer}"] if tokenizer else []
    run_config = resolve_config(model, dataset, overrides, config, data_dir, exclude_history,
                                parse_options(data_option))
    train_run(run_config, run_dir, resume=resume)


@app.command("evaluate")
@friendly_errors
def evaluate_cmd(
    run_dir: Path,
    exclude_history: Annotated[Optional[bool], typer.Option("--exclude-history/--keep-history",
                                                            help="Mask already-seen items.")] = None,
) -> None:
    """Evaluate a saved run on validation and test and print the table.

    Under the other masking setting than the run's own, results go beside its files (metrics-masked.json).
    """
    from genrec.runs import evaluate_run, results_table

    typer.echo(results_table(evaluate_run(run_dir, exclude_history)))


@app.command()
@friendly_errors
def compare(
    run_a: Path,
    run_b: Path,
    metric: Annotated[Optional[list[str]], typer.Option(help="Metric to test, e.g. ndcg@10 (repeatable; "
                                                        "default: all).")] = None,
) -> None:
    """Paired significance tests of run B against run A on their per-user test metrics (each a run
    directory, its per_user.npz, or a benchmark record's .ranks.npz)."""
    from genrec.evaluation.significance import compare_runs, comparison_table

    typer.echo(comparison_table(compare_runs(run_a, run_b, metric), str(run_a), str(run_b)))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": False})
@friendly_errors
def recommend(
    ctx: typer.Context,
    run_dir: Path,
    history: Annotated[Optional[list[str]], typer.Option(help="Original item ids, oldest first: "
                                                         "--history A B C.")] = None,
    k: int = 10,
    exclude_history: bool = False,
) -> None:
    """Top-k items for one history, with their titles."""
    from genrec.serving.recommend import recommend_for_history

    items = list(history or []) + list(ctx.args)
    if not items:
        raise GenrecError("give the history as --history ITEM ITEM ...")
    rows = recommend_for_history(run_dir, items, k, exclude_history)
    typer.echo("\t".join(rows[0].keys()) if rows else "no recommendations")
    for row in rows:
        typer.echo("\t".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row.values()))


@app.command()
@friendly_errors
def serve(
    run_dir: Path,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve a saved run over HTTP: POST /recommend {"history": [...], "k": 10}, GET /health."""
    import uvicorn

    from genrec.serving.http import create_app

    uvicorn.run(create_app(run_dir), host=host, port=port)


@app.command("run")
@friendly_errors
def run_cmd(
    dataset: Annotated[str, typer.Option(help="Dataset name or path.")] = "amazon2014/beauty",
    models: Annotated[str, typer.Option(help="Comma-separated models, trained one after "
                                        "another.")] = "popularity,sasrec",
    out: Annotated[Path, typer.Option(help="Folder for the run directories.")] = Path("runs"),
    max_minutes: Annotated[Optional[float], typer.Option(help="Training time limit of each trained model "
                                                         "(default: each model's own).")] = None,
    data_dir: DataDir = None,
    data_option: DataOptions = None,
) -> None:
    """The main job: train and evaluate several models on one dataset and print one comparison table."""
    from genrec.models import model_class
    from genrec.runs import compare_table, default_run_dir, resolve_config, train_run

    results = []
    for name in [m.strip() for m in models.split(",") if m.strip()]:
        trained = "train" in model_class(name).Config.__dataclass_fields__
        overrides = [f"train.max_minutes={max_minutes}"] if max_minutes is not None and trained else []
        config = resolve_config(name, dataset, overrides, data_dir=data_dir,
                                data_options=parse_options(data_option))
        results.append(train_run(config, default_run_dir(config, out)))
    typer.echo(compare_table(results))


@app.command()
@friendly_errors
def tokenize(
    dataset: Annotated[str, typer.Option(help="Dataset name or path.")] = "amazon2014/beauty",
    method: Annotated[str, typer.Option(help="rq-kmeans, rq-vae, pq, opq or hierarchical.")] = "rq-kmeans",
    set_: Overrides = None,
    encoder: Annotated[str, typer.Option(help="minilm, a sentence-transformers model or folder, cf:RUN_DIR "
                                         "for a SASRec run's item table, or a fusion such as "
                                         "minilm+cf:RUN*0.5.")] = "minilm",
    out: Annotated[Optional[Path], typer.Option(help="Folder for the IDs (default semantic_ids/<dataset>-"
                                                "<method>).")] = None,
    report: Annotated[bool, typer.Option(help="Print the quality report.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Build semantic IDs for every item of a dataset and save them with a quality report."""
    from genrec.config import apply_overrides
    from genrec.data import load_dataset
    from genrec.io import write_json, write_text
    from genrec.semantic_ids.build import build_semantic_ids
    from genrec.semantic_ids.report import build_report, report_markdown

    ds = load_dataset(dataset, data_dir=data_dir)
    ids = build_semantic_ids(ds, method, apply_overrides({}, list(set_ or [])), encoder)
    out = out or Path("semantic_ids") / f"{ds.name.replace('/', '-')}-{method}"
    ids.save(out)
    quality = build_report(ids, [ds.title(i) for i in range(ds.n_items)])
    write_json(out / "report.json", quality)
    write_text(out / "report.md", report_markdown(quality))
    typer.echo(report_markdown(quality) if report else
               f"{ids.n_items:,} {method} IDs, collision rate {ids.stats['collision_rate']:.4f}, "
               f"written to {out}")


def main() -> None:
    sys.exit(app())
