"""Benchmark records: one JSON file per measured result, from which BENCHMARKS.md is rendered.

A record says what was measured (dataset, model, variant, split, metrics) and everything needed to
trust and repeat it: the exact command, the commit (``+dirty`` when the code had uncommitted
changes), the date and the machine with its load at the time. The file name is derived from
dataset/model/variant/split, so re-running a benchmark replaces its record instead of adding one.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import platform
import re
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from genrec.errors import GenrecError
from genrec.io import write_json

RESULTS_DIR = "benchmarks/results"
REQUIRED = ("dataset", "model", "variant", "split", "metrics")
_REPO_ROOT = Path(__file__).resolve().parents[2]
# rendered output, not code: changes here do not make a measurement "dirty"
_NOT_CODE = (RESULTS_DIR, "BENCHMARKS.md")
_ENV = ("OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "GENREC_DATA")  # settings that change a result


def write_record(dataset: str, model: str, variant: str, split: str, metrics: dict[str, float], *,
                 train_seconds: float | None = None, eval_seconds: float | None = None,
                 command: str | None = None, extra: dict | None = None,
                 results_dir: str | Path = RESULTS_DIR) -> Path:
    """Write (or replace) the record of one result and return its path.

    ``model`` is e.g. ``sasrec`` or ``tokenizer:rq-kmeans``, ``variant`` e.g. ``loss=ce`` (``""``
    for the default), ``split`` ``test`` or ``valid`` for quality results. Speed benchmarks use their
    own metric names (``seconds``, ``users_per_second``), both sides of a comparison in one record.
    """
    for name, value in (("dataset", dataset), ("model", model), ("split", split)):
        if not isinstance(value, str) or not value.strip():
            raise GenrecError(f"benchmark record: {name} must be a non-empty string, got {value!r}")
    record = {
        "dataset": dataset, "model": model, "variant": variant or "", "split": split,
        "metrics": _clean_metrics(metrics),
        "train_seconds": _seconds(train_seconds), "eval_seconds": _seconds(eval_seconds),
        "command": command or default_command(),
        "commit": git_commit(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "extra": extra or {},
    }
    path = Path(results_dir) / record_filename(dataset, model, record["variant"], split)
    write_json(path, record)
    return path


def read_records(results_dir: str | Path = RESULTS_DIR) -> list[dict]:
    """Every record under ``results_dir``, sorted by dataset, model, variant and split."""
    records = []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise GenrecError(f"{path}: not a benchmark record ({e})") from None
        missing = [key for key in REQUIRED if not isinstance(record, dict) or key not in record]
        if missing:
            raise GenrecError(f"{path}: not a benchmark record (missing {', '.join(missing)})")
        records.append({**record, "path": str(path)})
    return sorted(records, key=lambda r: (r["dataset"], r["model"], r["variant"], r["split"]))


def record_filename(dataset: str, model: str, variant: str, split: str) -> str:
    """Readable and unique: a slug of the four keys plus a short hash of them (slugs can collide)."""
    keys = [dataset, model, variant or "default", split]
    slug = "__".join(re.sub(r"[^A-Za-z0-9.@]+", "-", key).strip("-") for key in keys)
    digest = hashlib.sha1("\0".join(keys).encode()).hexdigest()[:8]
    return f"{slug}__{digest}.json"


def default_command() -> str:
    """The current process's command line, shell-quoted, written as someone would type it again."""
    argv = list(sys.argv) or ["python"]
    script = Path(argv[0])
    if script.suffix == ".py":  # `python path/to/script.py ...`
        argv = ["python", _relative(script), *argv[1:]]
    elif script.parent.resolve() == Path(sys.executable).parent.resolve():  # a console script: `genrec ...`
        argv[0] = script.name
    env = [f"{name}={os.environ[name]}" for name in _ENV if name in os.environ]
    return shlex.join(env + argv)


def git_commit() -> str:
    """``git rev-parse HEAD`` of the checkout, plus ``+dirty`` when its code has uncommitted changes."""
    try:
        head = _git("rev-parse", "HEAD")
        changes = _git("status", "--porcelain", "--", ".", *[f":(exclude){p}" for p in _NOT_CODE])
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if changes else "")


def machine_info() -> dict[str, Any]:
    """Enough to judge a timing: cores, memory, CPU model, load at the time, library versions."""
    import torch

    info: dict[str, Any] = {
        "cpu_cores": os.cpu_count(),
        "memory_gib": _meminfo_gib(),
        "cpu_model": _cpu_model(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _clean_metrics(metrics: dict) -> dict[str, float | int]:
    if not isinstance(metrics, dict) or not metrics:
        raise GenrecError(f"benchmark record: metrics must be a non-empty dict, got {metrics!r}")
    out: dict[str, float | int] = {}
    for name, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise GenrecError(f"benchmark record: metric {name!r} is not a number ({value!r})") from None
        if not math.isfinite(number):
            raise GenrecError(f"benchmark record: metric {name!r} is {number}")
        out[str(name)] = int(value) if isinstance(value, numbers.Integral) else number
    return out


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=_REPO_ROOT, capture_output=True, text=True, check=True,
                          timeout=30).stdout.strip()


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _meminfo_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)  # kB -> GiB
    except OSError:
        pass
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
