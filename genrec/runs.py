"""Run directories: train a model on a dataset, evaluate it, and keep everything needed to repeat it.

A run directory holds ``config.yaml`` (the fully resolved config), ``model/`` (the saved
recommender), ``checkpoints/`` (the trainer's, for ``--resume``), ``metrics.json`` and
``metrics.md`` (validation and test results), ``per_user.npz`` (per-user test metrics, for
significance tests) and ``log.txt``.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from genrec.config import apply_overrides, from_dict, load_yaml, save_yaml, to_dict
from genrec.data import SequenceDataset, leave_one_out, load_dataset
from genrec.errors import GenrecError
from genrec.evaluation.metrics import DEFAULT_KS
from genrec.evaluation.protocol import EvalResult, evaluate
from genrec.io import atomic_write, write_json, write_text
from genrec.models import Recommender, model_class
from genrec.training import distributed

log = logging.getLogger("genrec")

CONFIG, METRICS, METRICS_MD, PER_USER, LOG, MODEL_DIR = (
    "config.yaml", "metrics.json", "metrics.md", "per_user.npz", "log.txt", "model")


@dataclass
class RunConfig:
    model: str
    dataset: str
    data_dir: str | None = None
    ks: list[int] = field(default_factory=lambda: list(DEFAULT_KS))
    exclude_history: bool = False  # mask already-seen items at evaluation (off, as in the papers)
    params: dict = field(default_factory=dict)  # the model's own Config, resolved
    data_options: dict = field(default_factory=dict)  # loader options (kcore, column names, ...)


def resolve_config(model: str, dataset: str, overrides: list[str] = (), config_file: str | Path | None = None,
                   data_dir: str | None = None, exclude_history: bool = False,
                   data_options: dict | None = None) -> RunConfig:
    """Defaults of the model's Config, then the config file, then ``key=value`` overrides."""
    base = load_yaml(config_file) if config_file else {}
    cls = model_class(base.get("model", model))
    params = to_dict(cls.Config())
    params = _deep_update(params, base.get("params", {}))
    params = to_dict(from_dict(cls.Config, apply_overrides(params, list(overrides)),
                               where=f"{cls.name} config"))
    return RunConfig(model=cls.name, dataset=base.get("dataset", dataset),
                     data_dir=data_dir or base.get("data_dir"), ks=list(base.get("ks", DEFAULT_KS)),
                     exclude_history=bool(exclude_history or base.get("exclude_history", False)),
                     params=params, data_options={**base.get("data_options", {}), **(data_options or {})})


def default_run_dir(config: RunConfig, root: str | Path = "runs") -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{config.dataset.replace('/', '-')}-{config.model}-{stamp}"


def train_run(config: RunConfig, run_dir: str | Path | None = None, resume: bool = False) -> dict:
    """Train, evaluate on validation and test, and write the run directory. Returns metrics.json.

    Started by torchrun, every process trains its share of the batches and process 0 alone writes,
    evaluates and returns the metrics (the others return ``{}``)."""
    distributed.setup()
    run_dir = Path(distributed.from_main(str(run_dir) if run_dir else str(default_run_dir(config))))
    if resume:
        if not (run_dir / CONFIG).is_file():
            raise GenrecError(f"{run_dir}: nothing to resume (no {CONFIG})")
        config = from_dict(RunConfig, load_yaml(run_dir / CONFIG), where=str(run_dir / CONFIG))
    elif (run_dir / METRICS).exists():
        raise GenrecError(f"{run_dir} already holds a finished run; choose another --run-dir")
    if distributed.is_main():
        run_dir.mkdir(parents=True, exist_ok=True)
        save_yaml(run_dir / CONFIG, to_dict(config))
        _log_to(run_dir / LOG)
    cls = model_class(config.model)
    params = from_dict(cls.Config, config.params, where=f"{cls.name} config")
    seed_everything(getattr(getattr(params, "train", None), "seed", 42))

    dataset = load_dataset(config.dataset, data_dir=config.data_dir, **config.data_options)
    splits = leave_one_out(dataset)
    log.info("run %s: %s on %s (%d users, %d items)", run_dir, cls.name, config.dataset,
             dataset.n_users, dataset.n_items)
    model = cls(params, dataset)
    start = time.perf_counter()
    summary = model.fit(dataset, splits, run_dir)
    # this process's fit plus the epochs trained before a resume, so a resumed run reports its whole cost
    train_seconds = time.perf_counter() - start + summary.get("resumed_seconds", 0.0)
    if not distributed.is_main():
        return {}
    model.save(run_dir / MODEL_DIR)
    return _evaluate_and_write(model, dataset, config, run_dir, {**summary, "train_seconds": train_seconds})


def load_run(run_dir: str | Path) -> tuple[Recommender, SequenceDataset, RunConfig]:
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG).is_file() or not (run_dir / MODEL_DIR).is_dir():
        raise GenrecError(f"{run_dir} is not a finished genrec run (needs {CONFIG} and {MODEL_DIR}/)")
    dataset, config = load_run_data(run_dir)
    model = model_class(config.model).load(run_dir / MODEL_DIR, dataset)
    return model, dataset, config


def load_run_data(run_dir: str | Path) -> tuple[SequenceDataset, RunConfig]:
    """A run's resolved config and the dataset it names, without loading the model."""
    config = from_dict(RunConfig, load_yaml(Path(run_dir) / CONFIG), where=str(Path(run_dir) / CONFIG))
    return load_dataset(config.dataset, data_dir=config.data_dir, **config.data_options), config


def evaluate_run(run_dir: str | Path, exclude_history: bool | None = None) -> dict:
    """Re-evaluate a saved run and rewrite its metrics.

    Under the other masking setting than the run's own, the results go to ``metrics-masked.json``
    (or ``-unmasked``), ``metrics-masked.md`` and ``per_user-masked.npz``, so the run's own files (which
    benchmark records and ``genrec compare`` read) keep the protocol its config names.
    """
    model, dataset, config = load_run(run_dir)
    own = config.exclude_history
    if exclude_history is not None:
        config.exclude_history = exclude_history
    suffix = "" if config.exclude_history == own else "-masked" if config.exclude_history else "-unmasked"
    previous = _read_json(Path(run_dir) / METRICS)
    return _evaluate_and_write(model, dataset, config, Path(run_dir), previous.get("train", {}), suffix)


def _protocol_file(name: str, suffix: str) -> str:
    """``metrics.json`` -> ``metrics-masked.json`` for ``suffix="-masked"``."""
    stem, dot, extension = name.partition(".")
    return f"{stem}{suffix}{dot}{extension}"


def _evaluate_and_write(model: Recommender, dataset: SequenceDataset, config: RunConfig, run_dir: Path,
                        train_summary: dict, suffix: str = "") -> dict:
    splits = leave_one_out(dataset)
    ks = tuple(config.ks)
    results: dict[str, EvalResult] = {
        name: evaluate(model, evalset, name, ks=ks, exclude_history=config.exclude_history)
        for name, evalset in (("valid", splits.valid), ("test", splits.test))
    }
    metrics = {
        "model": config.model, "dataset": config.dataset, "params": config.params,
        "exclude_history": config.exclude_history, "train": train_summary,
        **{name: r.summary() for name, r in results.items()},
    }
    write_json(run_dir / _protocol_file(METRICS, suffix), metrics)
    write_text(run_dir / _protocol_file(METRICS_MD, suffix), results_table(metrics))
    test = results["test"]
    atomic_write(run_dir / _protocol_file(PER_USER, suffix),
                 lambda f: np.savez(f, users=test.users, **test.per_user))
    log.info("\n%s", results_table(metrics))
    return metrics


def results_table(metrics: dict) -> str:
    """A Markdown table of validation and test metrics for one run."""
    names = list(metrics["test"]["metrics"])
    lines = [f"{metrics['model']} on {metrics['dataset']} (exclude_history={metrics['exclude_history']})", "",
             "| split | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for split in ("valid", "test"):
        values = metrics[split]["metrics"]
        lines.append(f"| {split} | " + " | ".join(f"{values[n]:.4f}" for n in names) + " |")
    return "\n".join(lines) + "\n"


def compare_table(runs: list[dict], split: str = "test") -> str:
    """One Markdown table comparing finished runs (metrics.json contents) on one split."""
    names = list(runs[0][split]["metrics"])
    lines = [f"{split} on {runs[0]['dataset']} (full ranking, "
             f"exclude_history={runs[0]['exclude_history']})", "",
             "| model | " + " | ".join(names) + " | train s |", "|---|" + "---|" * (len(names) + 1)]
    for run in runs:
        values = run[split]["metrics"]
        variant = f" ({run['params']['loss']})" if "loss" in run["params"] else ""
        lines.append(f"| {run['model']}{variant} | " + " | ".join(f"{values[n]:.4f}" for n in names)
                     + f" | {run['train'].get('train_seconds', 0):.0f} |")
    return "\n".join(lines) + "\n"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _deep_update(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        nested = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _deep_update(out[key], value) if nested else value
    return out


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _log_to(path: Path) -> None:
    """Log to the run's log.txt as well as the console (once per file)."""
    log.setLevel(logging.INFO)
    if not any(isinstance(h, logging.FileHandler) and Path(h.baseFilename) == path.resolve()
               for h in log.handlers):
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
    if not any(type(h) is logging.StreamHandler for h in log.handlers):
        log.addHandler(logging.StreamHandler())
