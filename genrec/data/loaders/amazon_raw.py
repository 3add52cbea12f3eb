"""The original Amazon review files of 2014 (McAuley lab), one category at a time.

``reviews_<Category>_5.json.gz``: one JSON object a line (``reviewerID``, ``asin``, ``unixReviewTime``,
review text ...). ``meta_<Category>.json.gz``: one Python dict literal a line (single quotes, so not
JSON), parsed with ``ast.literal_eval``, never ``eval``. Sequences are ordered by review time, ties in
file order, then k-core filtered (5 by default, as in the papers). Item text keeps its HTML entities;
the text stage unescapes them.
"""

from __future__ import annotations

import ast
import gzip
import logging
import os
import re
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from genrec.data.dataset import SequenceDataset
from genrec.data.filtering import ItemTable, build_sequences
from genrec.data.loaders.download import download
from genrec.data.loaders.jsonlines import json_object
from genrec.errors import DataError, GenrecError
from genrec.paths import cache_dir, data_dir

log = logging.getLogger("genrec")

URL = "http://snap.stanford.edu/data/amazon/productGraph/categoryFiles/"
RAW_FOLDER = "amazon2014-raw"  # under the data folder; downloads go here
ALIASES = {"beauty": "Beauty", "toys": "Toys_and_Games", "sports": "Sports_and_Outdoors"}
USER, ITEM, TIME = "reviewerID", "asin", "unixReviewTime"
META_FIELDS = ("title", "brand", "categories", "description", "price")
_SCHEMA = pa.schema([(USER, pa.string()), (ITEM, pa.string()), (TIME, pa.float64())])
_META_ASIN = re.compile(r"""^\{\s*['"]asin['"]\s*:\s*['"]([^'"]*)['"]""")
# the also-bought/also-viewed graph, in the files' exact shape: {'also_bought': ['B00..', ...], ...}
_META_RELATED = re.compile(r"'related': \{(?:'\w+': \[(?:'\w+'(?:, )?)*\](?:, )?)*\}(?:, )?")


def category_name(name: str) -> str:
    """``beauty`` -> ``Beauty``, ``Toys and Games`` -> ``Toys_and_Games``: the spelling in the file names."""
    return ALIASES.get(name.lower(), name.strip().replace(" ", "_"))


def file_names(category: str) -> tuple[str, str]:
    return f"reviews_{category}_5.json.gz", f"meta_{category}.json.gz"


def is_amazon_raw(path: Path) -> bool:
    """A ``reviews_*.json.gz`` file, or a folder holding one."""
    if path.is_file():
        return path.name.startswith("reviews_") and path.name.endswith(".json.gz")
    return path.is_dir() and any(path.glob("reviews_*.json.gz"))


def fetch_category(category: str, data_dir_override: str | Path | None = None, *,
                   download_missing: bool = True, progress: bool = True) -> Path:
    """The reviews file of ``category``, downloading it and its meta file when missing.

    Looked for in ``<data dir>/amazon2014-raw`` and then in the per-user cache. Downloads go to the data
    folder only when one was chosen (``--data-dir``, ``GENREC_DATA``), else to the cache: the default
    data folder may be a shared, read-only one.
    """
    category = category_name(category)
    cache = cache_dir() / "data" / RAW_FOLDER
    folders = list(dict.fromkeys([data_dir(data_dir_override) / RAW_FOLDER, cache]))
    names = file_names(category)
    for folder in folders:
        if all((folder / n).is_file() for n in names):
            return folder / names[0]
    if not download_missing:
        raise GenrecError(f"no {names[0]} and {names[1]} in {' or '.join(map(str, folders))}")
    target = folders[0] if data_dir_override or os.environ.get("GENREC_DATA") else cache
    for n in names:
        download(URL + n, target / n, progress=progress)
    return target / names[0]


def load_amazon_raw(path: str | Path, *, kcore: int = 5, name: str | None = None) -> SequenceDataset:
    """A reviews file (or a folder holding exactly one) plus the ``meta_`` file beside it.

    Without a meta file the items have no text (a warning says so); items missing from it get an empty
    record. Only the items that survive k-core filtering are looked up in the meta file.
    """
    reviews = _reviews_file(Path(path))
    category = reviews.name.removeprefix("reviews_").removesuffix(".json.gz").removesuffix("_5")
    users, items, times = read_reviews(reviews)
    meta = reviews.with_name(f"meta_{category}.json.gz")
    if not meta.is_file():
        log.warning("%s not found: items will have no title or other text", meta)
    # read once k-core filtering has said which items remain
    table = (lambda item_ids: read_meta(meta, set(item_ids.tolist()))) if meta.is_file() else None
    return build_sequences(users, items, times, name=name or f"amazon-raw:{category}", source=reviews,
                           kcore=kcore, item_table=table)


def read_reviews(path: Path) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """(reviewer ids, asins, review times) in file order.

    Arrow's JSON reader does the parsing in C++; when it rejects the file, a line-by-line pass finds the
    line and field to report.
    """
    try:
        table = pa_json.read_json(path, read_options=pa_json.ReadOptions(use_threads=False),
                                  parse_options=pa_json.ParseOptions(explicit_schema=_SCHEMA,
                                                                     unexpected_field_behavior="ignore"))
    except (pa.ArrowInvalid, OSError, EOFError) as e:
        if not _locate_review_error(path):
            raise DataError("no reviews", path) from None
        raise DataError(f"unreadable reviews file ({e})", path) from None
    if table.num_rows == 0:
        raise DataError("no reviews", path)
    if any(table.column(c).null_count for c in (USER, ITEM, TIME)) or \
            any(pc.any(pc.equal(table.column(c), "")).as_py() for c in (USER, ITEM)):
        _locate_review_error(path)
        raise DataError(f"reviews without {USER}, {ITEM} or {TIME}", path)
    return table.column(USER).to_pandas(), table.column(ITEM).to_pandas(), table.column(TIME).to_numpy()


def read_meta(path: Path, wanted: set[str]) -> ItemTable:
    """Text fields of the items in ``wanted``; only their lines are parsed.

    A meta file lists every product of the category (ten times the reviewed ones and more), and
    ``literal_eval`` is slow, so a regex reads each line's leading ``asin`` first and skips the rest; the
    ``related`` graph (often hundreds of ids, unused here) is cut out before parsing, which halves the
    time. The pattern matches only a dict of lists of quoted word ids, a shape no title or description
    has in practice.
    """
    ids: list[str] = []
    records: list[dict] = []
    first_line: dict[str, int] = {}
    for line_no, line in _lines(path):
        match = _META_ASIN.match(line)
        if match and match.group(1) not in wanted:
            continue
        try:
            record = ast.literal_eval(_META_RELATED.sub("", line, count=1))
        except (ValueError, SyntaxError, MemoryError, RecursionError) as e:
            raise DataError(f"not a Python dict literal ({type(e).__name__}: {e})", path, line_no) from None
        if not isinstance(record, dict):
            raise DataError("not a Python dict literal", path, line_no)
        asin = record.get(ITEM)
        if not isinstance(asin, str) or not asin:
            raise DataError("missing product id", path, line_no, ITEM)
        if asin not in wanted:
            continue
        if asin in first_line:
            raise DataError(f"duplicate product {asin!r} (first on line {first_line[asin]})",
                            path, line_no, ITEM)
        first_line[asin] = line_no
        ids.append(asin)
        records.append({k: record[k] for k in META_FIELDS if record.get(k) not in (None, "", [])})
    missing = len(wanted) - len(ids)
    if missing:
        log.warning("%s: %d of %d reviewed products have no metadata", path, missing, len(wanted))
    return ItemTable(np.asarray(ids, dtype=object), records)


def _locate_review_error(path: Path) -> int:
    """Raise a DataError at the first line that is not a review object with the three fields; else
    return the number of reviews (0 for a file with none)."""
    n = 0
    for line_no, line in _lines(path):
        n += 1
        review = json_object(line, path, line_no)
        for field in (USER, ITEM):
            if not isinstance(review.get(field), str) or not review[field]:
                raise DataError("missing, empty or not a string", path, line_no, field)
        t = review.get(TIME)
        if t is None:
            raise DataError("missing", path, line_no, TIME)
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            raise DataError(f"{t!r} is not a number (Unix seconds)", path, line_no, TIME)
    return n


def _lines(path: Path):
    """(line number, text) of the non-blank lines of a gzip file, with read errors as DataError."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                if line.strip():
                    yield line_no, line
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"not a complete gzip file ({e})", path) from None
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 text ({e.reason})", path) from None


def _reviews_file(path: Path) -> Path:
    if path.is_file():
        return path
    if not path.is_dir():
        raise DataError("no such file or folder", path)
    found = sorted(path.glob("reviews_*.json.gz"))
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise DataError(f"expected exactly one reviews_<Category>_5.json.gz, found {names}; name the file",
                        path)
    return found[0]
