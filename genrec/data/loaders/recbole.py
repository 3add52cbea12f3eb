"""RecBole atomic files: ``<name>.inter`` (interactions) and optionally ``<name>.item`` (item features).

Both are tab-separated with a typed header such as ``user_id:token\titem_id:token\ttimestamp:float``;
values are unquoted and ``token_seq`` fields are space-separated strings, kept as read.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from genrec.data.dataset import SequenceDataset
from genrec.data.filtering import build_sequences
from genrec.data.loaders.interactions import check_known_items, ids, item_table, numbers, read_table
from genrec.errors import DataError

INTER, ITEM = ".inter", ".item"


def is_recbole(path: Path) -> bool:
    """An ``.inter`` file, or a folder holding one."""
    return path.suffix == INTER if path.is_file() else path.is_dir() and any(path.glob(f"*{INTER}"))


def load_recbole(
    path: str | Path,
    *,
    user_col: str = "user_id",
    item_col: str = "item_id",
    time_col: str | None = "timestamp",
    kcore: int = 0,
    name: str | None = None,
) -> SequenceDataset:
    """Sequences from the ``.inter`` file (a folder must hold exactly one), item text from the ``.item``
    file beside it when there is one. Columns are named without their ``:type`` suffix; without a
    ``title`` field, the first field named ``*title`` (``movie_title``) becomes ``title``."""
    inter = _inter_file(Path(path))
    table = read_table(inter, [c for c in (user_col, item_col, time_col) if c],
                       numeric=[time_col] if time_col else [], sep="\t", typed_header=True)
    users, items = ids(table, user_col), ids(table, item_col)
    times = numbers(table, time_col) if time_col else None
    catalogue = None
    item_file = inter.with_suffix(ITEM)
    if item_file.is_file():
        types = _header_types(item_file)
        floats = [c for c, t in types.items() if t == "float"]
        items_table = read_table(item_file, [item_col], numeric=floats, sep="\t", typed_header=True,
                                 keep_all=True)
        if "title" not in types:  # e.g. movie_title: what a user reads as the item's name
            title = next((c for c in types if c.endswith("title")), None)
            if title:
                items_table = replace(items_table, frame=items_table.frame.rename(columns={title: "title"}))
        catalogue = item_table(items_table, item_col, floats)
        check_known_items(table, item_col, items, catalogue, item_file)
    return build_sequences(users, items, times, name=name or inter.stem, source=inter, kcore=kcore,
                           item_table=catalogue)


def _inter_file(path: Path) -> Path:
    if path.is_file():
        return path
    found = sorted(path.glob(f"*{INTER}"))
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise DataError(f"expected exactly one {INTER} file, found {names}; name the file instead", path)
    return found[0]


def _header_types(path: Path) -> dict[str, str]:
    """``{"item_id": "token", "movie_title": "token_seq", ...}`` from the first line."""
    with open(path, encoding="utf-8", errors="replace") as f:
        header = f.readline().rstrip("\r\n").split("\t")
    return dict((field.split(":", 1) + ["token"])[:2] for field in header if field)
