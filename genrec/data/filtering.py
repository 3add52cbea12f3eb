"""From a flat interaction table to a SequenceDataset: k-core filtering, time ordering, renumbering.

Every raw loader (Amazon reviews, CSV/Parquet logs, RecBole atomic files) reads its format into three
parallel columns (user, item, time) and hands them here, so all of them filter and order alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from genrec.data.dataset import SequenceDataset
from genrec.data.ragged import Ragged
from genrec.errors import DataError

log = logging.getLogger("genrec")


@dataclass(frozen=True)
class ItemTable:
    """Text fields of items by original id; items absent from it get an empty record."""

    ids: np.ndarray  # original item ids (str)
    records: list[dict]


def kcore_mask(users: np.ndarray, items: np.ndarray, k: int) -> np.ndarray:
    """Rows kept by iterated k-core filtering: every kept user and item has at least ``k`` kept rows.

    ``users`` and ``items`` are dense codes (0..n-1). Dropping a sparse item can make a user sparse and
    vice versa, so the counts are repeated until nothing changes (a fixed point, as in the papers).
    """
    keep = np.ones(len(users), dtype=bool)
    if k <= 1:
        return keep
    n_users, n_items = int(users.max(initial=-1)) + 1, int(items.max(initial=-1)) + 1
    while True:
        user_count = np.bincount(users[keep], minlength=n_users)
        item_count = np.bincount(items[keep], minlength=n_items)
        new_keep = keep & (user_count[users] >= k) & (item_count[items] >= k)
        if new_keep.sum() == keep.sum():
            return keep
        keep = new_keep


def time_order(users: np.ndarray, times: np.ndarray | None) -> np.ndarray:
    """Row order grouping users together, each user's rows by time; ties keep their order in the file.

    Two stable sorts (time, then user) give the stable tie-break that a single lexsort does not promise.
    """
    order = np.arange(len(users)) if times is None else np.argsort(times, kind="stable")
    return order[np.argsort(users[order], kind="stable")]


def build_sequences(
    users: np.ndarray | pd.Series,
    items: np.ndarray | pd.Series,
    times: np.ndarray | None,
    *,
    name: str,
    source: str | Path,
    kcore: int = 0,
    item_table: ItemTable | Callable[[np.ndarray], ItemTable] | None = None,
) -> SequenceDataset:
    """One row per interaction in file order -> time-ordered user sequences after ``kcore`` filtering.

    Users are numbered in order of first appearance in the file, items in order of first appearance
    in the ordered sequences, so the result is deterministic for a given file. Ids may be of any type
    (Arrow strings, integers); the dataset keeps them as str. Repeated interactions stay: buying an
    item twice is part of a sequence. ``item_table`` may be a function of the surviving item ids, for
    sources where reading item text is costly and k-core filtering leaves few of them.
    """
    user_codes, user_names = _factorize(users)
    item_codes, item_names = _factorize(items)
    keep = kcore_mask(user_codes, item_codes, kcore)
    if not keep.any():
        raise DataError(f"no interactions left after {kcore}-core filtering", source)
    if not keep.all():
        log.info("%s: %d-core filtering kept %d of %d interactions", source, kcore, keep.sum(), len(keep))
    user_codes, item_codes = user_codes[keep], item_codes[keep]
    times = None if times is None else times[keep]

    order = time_order(user_codes, times)
    user_codes, item_codes = user_codes[order], item_codes[order]
    # users were numbered by first appearance, so after the stable sort their codes increase: the
    # surviving users, in order, are np.unique of the codes.
    kept_users, lengths = np.unique(user_codes, return_counts=True)
    new_items, first_item = pd.factorize(item_codes, sort=False)
    item_ids = item_names[first_item]
    return SequenceDataset(
        name=name,
        item_ids=item_ids,
        item_records=_records(item_ids, item_table(item_ids) if callable(item_table) else item_table),
        user_ids=user_names[kept_users],
        sequences=Ragged.from_lengths(new_items.astype(np.int64), lengths),
        timestamps=None if times is None else _ragged_times(times[order], lengths),
        source=str(source),
    )


def _factorize(values: np.ndarray | pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes in order of first appearance, and the distinct values as str (an object array)."""
    codes, uniques = pd.factorize(values, sort=False)
    return codes.astype(np.int64, copy=False), pd.Index(uniques).astype(str).to_numpy(dtype=object)


def _records(item_ids: np.ndarray, table: ItemTable | None) -> list[dict]:
    if table is None:
        return [{} for _ in range(len(item_ids))]
    where = pd.Index(table.ids).get_indexer(item_ids)
    return [dict(table.records[w]) if w >= 0 else {} for w in where]


def _ragged_times(times: np.ndarray, lengths: np.ndarray) -> Ragged:
    """Whole seconds stay int64 like item ids; fractional times keep their float values."""
    integral = np.isfinite(times).all() and bool((times == np.floor(times)).all())
    values = times.astype(np.int64) if integral else times.astype(np.float64)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return Ragged(values, offsets)
