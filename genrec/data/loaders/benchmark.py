"""Benchmark folders: ``sequences.txt`` (``user item item ...`` per line, time order) plus
``items.jsonl`` (one JSON object an item with ``id`` and text fields), as in ``amazon2014/beauty``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genrec.data.dataset import SequenceDataset
from genrec.data.loaders.jsonlines import json_object
from genrec.data.ragged import Ragged
from genrec.errors import DataError

SEQUENCES, ITEMS = "sequences.txt", "items.jsonl"


def is_benchmark_folder(folder: Path) -> bool:
    return (folder / SEQUENCES).is_file() and (folder / ITEMS).is_file()


def load_benchmark_folder(folder: str | Path, name: str | None = None) -> SequenceDataset:
    folder = Path(folder)
    item_ids, records = _read_items(folder / ITEMS)
    index = {original: i for i, original in enumerate(item_ids)}
    user_ids, sequences = _read_sequences(folder / SEQUENCES, index)
    return SequenceDataset(
        name=name or folder.name,
        item_ids=np.asarray(item_ids, dtype=object),
        item_records=records,
        user_ids=np.asarray(user_ids, dtype=object),
        sequences=sequences,
        source=str(folder),
    )


def _read_items(path: Path) -> tuple[list[str], list[dict]]:
    ids: list[str] = []
    records: list[dict] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            record = json_object(line, path, line_no)
            if "id" not in record:
                raise DataError("missing item id", path, line_no, "id")
            item_id = str(record.pop("id"))
            if item_id in seen:
                raise DataError(f"duplicate item id {item_id} (first on line {seen[item_id]})",
                                path, line_no, "id")
            seen[item_id] = line_no
            ids.append(item_id)
            records.append(record)
    if not ids:
        raise DataError("no items", path)
    return ids, records


def _read_sequences(path: Path, index: dict[str, int]) -> tuple[list[str], Ragged]:
    users: list[str] = []
    values: list[int] = []
    lengths: list[int] = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            tokens = line.split()
            if not tokens:
                continue
            if len(tokens) < 2:
                raise DataError("a user with no items", path, line_no)
            try:
                values.extend(index[t] for t in tokens[1:])
            except KeyError as e:
                raise DataError(f"item {e.args[0]} is not in {ITEMS}", path, line_no, "item_id") from None
            users.append(tokens[0])
            lengths.append(len(tokens) - 1)
    if not users:
        raise DataError("no user sequences", path)
    return users, Ragged.from_lengths(np.asarray(values, dtype=np.int64), np.asarray(lengths, dtype=np.int64))
