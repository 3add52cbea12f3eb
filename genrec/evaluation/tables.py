"""Markdown tables of results across benchmark records or run directories.

Quality tables have one row per model+variant and one column per metric, one table per dataset and
split; published figures can sit beside ours, labelled as citations. Each of our rows points to a
provenance line (command, commit, date, machine) listed under the table.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from genrec.errors import GenrecError

_RANKING = re.compile(r"^(recall|ndcg|hr|mrr)@(\d+)$")
_ORDER = {"recall": 0, "hr": 0, "ndcg": 1, "mrr": 2}
MISSING = "–"


def is_quality(record: dict) -> bool:
    """A quality record reports ranking metrics (``recall@10``, ...); anything else is a speed record."""
    return any(_RANKING.match(name) for name in record["metrics"])


def metric_columns(records: Iterable[dict]) -> list[str]:
    """The union of metric names; ranking metrics by K then kind (R@5, N@5, R@10, ...), then the others
    in the order the records list them."""
    names = list(dict.fromkeys(name for r in records for name in r["metrics"]))

    def key(name: str) -> tuple:
        m = _RANKING.match(name)
        return (0, int(m[2]), _ORDER[m[1]], name) if m else (1, 0, 0, names.index(name))

    return sorted(names, key=key)


def group(records: Iterable[dict], *keys: str) -> dict[tuple, list[dict]]:
    """Records grouped by the values of ``keys``, groups in sorted order, records in their order."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for record in records:
        groups[tuple(record[k] for k in keys)].append(record)
    return dict(sorted(groups.items()))


def label(record: dict) -> str:
    return f"{record['model']} ({record['variant']})" if record.get("variant") else record["model"]


def results_table(records: list[dict], *, published: Iterable[dict] = (), columns: list[str] | None = None,
                  details: bool = True) -> str:
    """One Markdown table of ``records`` (one dataset and split), then any ``published`` rows.

    ``published`` rows are dicts with ``model``, ``source`` and ``metrics``; they are cited, not
    measured, and say so. ``details`` adds train/eval seconds and a numbered provenance list.
    """
    published = list(published)
    columns = columns or metric_columns(records + published)
    header = ["model", *columns] + (["train s", "eval s", "source"] if details else [])
    rows = []
    for i, record in enumerate(records, 1):
        row = [label(record), *(_number(record["metrics"].get(c)) for c in columns)]
        if details:
            seconds = [_number(record.get("train_seconds")), _number(record.get("eval_seconds"))]
            row += [*seconds, f"measured [{i}]"]
        rows.append(row)
    for pub in published:
        row = [pub["model"], *(_number(pub["metrics"].get(c)) for c in columns)]
        rows.append(row + ([MISSING, MISSING, f"cited: {pub['source']}"] if details else []))
    text = markdown_table(header, rows)
    if details and records:
        text += "\n" + "\n".join(f"{i}. {provenance(r)}" for i, r in enumerate(records, 1)) + "\n"
    return text


def speed_table(records: list[dict]) -> str:
    """One Markdown table of speed records (one benchmark), with their provenance listed under it."""
    columns = metric_columns(records)
    rows = [[r["dataset"], r.get("variant") or MISSING, r["split"],
             *(_number(r["metrics"].get(c)) for c in columns), f"[{i}]"] for i, r in enumerate(records, 1)]
    text = markdown_table(["dataset", "variant", "split", *columns, "run"], rows)
    return text + "\n" + "\n".join(f"{i}. {provenance(r)}" for i, r in enumerate(records, 1)) + "\n"


def results_tables(records: list[dict], published: dict[str, list[dict]] | None = None) -> str:
    """Every quality record: one table per dataset and split, published test figures beside ours."""
    published = published or {}
    parts = []
    for (dataset, split), rows in group([r for r in records if is_quality(r)], "dataset", "split").items():
        cited = published.get(dataset, []) if split == "test" else []
        parts.append(f"**{dataset}, {split}**\n\n" + results_table(rows, published=cited))
    return "\n".join(parts)


def provenance(record: dict) -> str:
    """One line that lets a reader repeat and judge a result."""
    m = record.get("machine") or {}
    machine = ", ".join(part for part in (
        f"{m['cpu_cores']} cores {m.get('cpu_model', '')}".rstrip() if m.get("cpu_cores") else "",
        m.get("gpu", ""),
        f"{m['memory_gib']} GiB" if m.get("memory_gib") else "",
        f"load {m['load_avg_1min']}" if m.get("load_avg_1min") is not None else "",
        f"torch threads {m['torch_threads']}" if m.get("torch_threads") else "",
        f"torch {m['torch']}" if m.get("torch") else "") if part)
    commit = str(record.get("commit", "unknown"))
    short = commit[:10] + ("+dirty" if commit.endswith("+dirty") else "")
    return (f"{label(record)}: `{record.get('command', '?')}` at commit `{short}`, "
            f"{record.get('date', '?')}, {machine or 'machine unknown'}")


def records_from_run(run_dir: str | Path) -> list[dict]:
    """A run directory's ``metrics.json`` as records (variant = the run's folder name), for tables."""
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        raise GenrecError(f"{run_dir}: no metrics.json; is it a finished genrec run?")
    run = json.loads(path.read_text())
    command = f"genrec train --config {Path(run_dir) / 'config.yaml'}"
    return [{"dataset": run["dataset"], "model": run["model"], "variant": Path(run_dir).name, "split": split,
             "metrics": run[split]["metrics"], "train_seconds": run.get("train", {}).get("train_seconds"),
             "eval_seconds": run[split].get("eval_seconds"), "command": command}
            for split in ("valid", "test") if split in run]


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _number(value: float | int | None) -> str:
    """Metrics in [0, 1] to 4 decimals; seconds and rates readable; integers with separators."""
    if value is None:
        return MISSING
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.4f}"
