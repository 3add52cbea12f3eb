"""Generic interaction logs: a CSV/TSV or Parquet table with user, item and timestamp columns, plus an
optional item table (an id column and text fields) in the same formats.

The table helpers here (column checks, numeric timestamps, item tables) are shared with the RecBole
loader, whose atomic files are tab-separated tables with typed headers. Every problem is reported as one
``DataError`` naming the file, the line (the row for Parquet) and the column.
"""

from __future__ import annotations

import csv
import difflib
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from genrec.data.dataset import SequenceDataset
from genrec.data.filtering import ItemTable, build_sequences
from genrec.errors import DataError

PARQUET_SUFFIXES = (".parquet", ".pq")
TEXT_SEPARATORS = {".csv": ",", ".tsv": "\t"}


@dataclass(frozen=True)
class Table:
    """Columns read from one file, with what is needed to point at a line of it."""

    path: Path
    frame: pd.DataFrame  # column values as read: str for text files, native types for Parquet
    first_line: int  # line (row for Parquet) number of frame row 0: 2 below a header line, else 1

    def line(self, row: int) -> int:
        return self.first_line + int(row)


def is_table_file(path: Path) -> bool:
    return _kind(path) is not None


def read_table(path: str | Path, columns: Sequence[str], *, numeric: Sequence[str] = (),
               sep: str | None = None, typed_header: bool = False, keep_all: bool = False) -> Table:
    """Read ``columns`` (every column with ``keep_all``) from a CSV/TSV or Parquet file.

    Text cells are read as str, ``numeric`` columns as float64. Arrow's CSV reader does this several
    times faster than pandas; when it rejects the file (a malformed line, a non-number, bad UTF-8) or
    meets a blank line, pandas reads it again, line by line in step with the file, so that the error
    names the right line. ``typed_header`` strips RecBole's ``:type`` suffixes (``item_id:token`` ->
    ``item_id``) and reads the file unquoted as RecBole does. Missing columns are an error that lists
    the columns found.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("no such file", path)
    kind = _kind(path)
    if kind == "parquet":
        return _read_parquet(path, columns, keep_all)
    if kind is None and sep is None:
        raise DataError("unknown table format: expected .csv, .tsv or .parquet (or give sep=)", path)
    options = dict(sep=sep or TEXT_SEPARATORS[kind], encoding="utf-8", skip_blank_lines=False,
                   index_col=False, keep_default_na=False,
                   quoting=csv.QUOTE_NONE if typed_header else csv.QUOTE_MINIMAL)
    header = _read_csv(path, nrows=0, **options).columns.tolist()
    names = [c.split(":", 1)[0] for c in header] if typed_header else header
    _require(path, names, columns)
    usecols = [h for h, c in zip(header, names) if keep_all or c in columns]
    floats = [h for h, c in zip(header, names) if c in set(numeric) and h in usecols]
    frame = _read_csv_fast(path, header, usecols, floats, options["sep"], typed_header)
    if frame is None:
        frame = _read_csv_exact(path, header, usecols, floats, options)
    frame.columns = [names[header.index(h)] for h in usecols]
    if frame.empty:
        raise DataError("no rows", path)
    return Table(path, frame, first_line=2)


def ids(table: Table, column: str) -> pd.Series:
    """The id column, checked: an empty or missing id is an error at its line.

    Ids stay in the type they were read in (Arrow strings, integers) because factorising them is far
    cheaper than turning every value into a Python str; only the distinct ids become str, later.
    """
    values = table.frame[column]
    if pd.api.types.is_float_dtype(values) and values.notna().all() and (values % 1 == 0).all():
        values = values.astype(np.int64)  # Parquet ids stored as floats: 7.0 is the item "7"
    _raise_at_first(table, _missing(values), column, lambda v: "empty id")
    return values


def numbers(table: Table, column: str, *, allow_empty: bool = False) -> np.ndarray:
    """The column as float64 (Parquet datetimes as Unix seconds); a value that is not a number is an error
    at its line. With ``allow_empty``, empty cells become NaN instead."""
    raw = values = table.frame[column]
    if pd.api.types.is_datetime64_any_dtype(values):
        values = (values - pd.Timestamp(0, tz=values.dt.tz)) / pd.Timedelta(seconds=1)
    if not pd.api.types.is_numeric_dtype(values):
        values = pd.to_numeric(values, errors="coerce")
    parsed = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(parsed)
    if allow_empty:
        bad &= ~_missing(raw)
    _raise_at_first(table, bad, column, lambda v: "missing number" if _empty(v) else f"{v!r} is not a number")
    return parsed


def item_table(table: Table, id_column: str, float_fields: Sequence[str] = ()) -> ItemTable:
    """Item ids and their text fields (every other column; empty values left out of the records).

    ``float_fields`` are parsed as numbers (RecBole's ``:float`` columns); the rest stay as read.
    """
    item_ids = ids(table, id_column).astype(str).to_numpy(dtype=object)
    duplicated = pd.Series(item_ids).duplicated().to_numpy()
    if duplicated.any():
        row = int(np.argmax(duplicated))
        first = int(np.argmax(item_ids == item_ids[row]))
        first_line = table.line(table.frame.index[first])
        raise DataError(f"duplicate item id {item_ids[row]!r} (first on line {first_line})",
                        table.path, table.line(table.frame.index[row]), id_column)
    fields = table.frame.drop(columns=[id_column])
    for name in float_fields:
        if name in fields:
            fields[name] = numbers(table, name, allow_empty=True)
    records = [{k: v for k, v in row.items() if not _empty(v)} for row in fields.to_dict("records")]
    return ItemTable(item_ids, records)


def load_interactions(
    path: str | Path,
    *,
    user_col: str = "user_id",
    item_col: str = "item_id",
    time_col: str | None = "timestamp",
    items: str | Path | None = None,
    item_id_col: str | None = None,
    sep: str | None = None,
    kcore: int = 0,
    name: str | None = None,
) -> SequenceDataset:
    """A CSV/TSV/Parquet interaction log -> SequenceDataset.

    An empty ``time_col`` ("" or None) keeps each user's rows in file order. ``items`` names an item
    table whose id column is ``item_id_col`` (default: ``item_col``); every item in the log must appear
    in it. ``kcore`` drops users and items with fewer interactions (0: keep everything).
    """
    path = Path(path)
    table = read_table(path, [c for c in (user_col, item_col, time_col) if c],
                       numeric=[time_col] if time_col else [], sep=sep)
    users, item_values = ids(table, user_col), ids(table, item_col)
    times = numbers(table, time_col) if time_col else None
    catalogue = None
    if items is not None:
        id_col = item_id_col or item_col
        catalogue = item_table(read_table(items, [id_col], sep=sep, keep_all=True), id_col)
        check_known_items(table, item_col, item_values, catalogue, Path(items))
    return build_sequences(users, item_values, times, name=name or path.stem, source=path, kcore=kcore,
                           item_table=catalogue)


def check_known_items(table: Table, column: str, values: pd.Series, catalogue: ItemTable,
                      items_path: Path) -> None:
    """Every item of the log must have a row in the item table (checked on the distinct ids)."""
    distinct = pd.unique(values)
    unknown = distinct[pd.Index(catalogue.ids).get_indexer(pd.Index(distinct).astype(str)) < 0]
    if len(unknown):
        in_all = f"{len(unknown)} unknown item{'s' * (len(unknown) > 1)} in all"
        _raise_at_first(table, values.isin(unknown).to_numpy(), column,
                        lambda v: f"item {str(v)!r} is not in {items_path} ({in_all})")


def _kind(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".xz", ".zst", ".zip"):
        suffixes = suffixes[:-1]
    if not suffixes:
        return None
    if suffixes[-1] in PARQUET_SUFFIXES:
        return "parquet"
    return suffixes[-1] if suffixes[-1] in TEXT_SEPARATORS else None


def _read_csv_fast(path: Path, header: list[str], usecols: list[str], floats: list[str], sep: str,
                   typed_header: bool) -> pd.DataFrame | None:
    """Arrow's reader, or None where only the exact reader can report (or skip blank lines) correctly."""
    try:
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(use_threads=False, column_names=header, skip_rows=1),
            parse_options=pa_csv.ParseOptions(delimiter=sep, quote_char=False if typed_header else '"',
                                              ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(
                column_types={h: pa.float64() if h in floats else pa.string() for h in header},
                include_columns=usecols, null_values=[""], strings_can_be_null=False,
                quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, OSError):
        return None
    frame = table.to_pandas()
    return None if _blank_rows(frame).any() else frame


def _read_csv_exact(path: Path, header: list[str], usecols: list[str], floats: list[str],
                    options: dict) -> pd.DataFrame:
    """pandas' reader, whose row index stays in step with the file's lines, blank ones included."""
    try:
        frame = _read_csv(path, dtype={h: np.float64 if h in floats else object for h in header},
                          na_values={h: [""] for h in floats}, **options)
    except ValueError:  # a numeric column holds text: read it as text and let ``numbers`` point at it
        frame = _read_csv(path, dtype=object, **options)
    blank = _blank_rows(frame)
    return frame.loc[~blank, usecols]  # blank lines go, yet the index keeps counting them


def _blank_rows(frame: pd.DataFrame) -> np.ndarray:
    return np.all([_missing(frame[c]) for c in frame.columns], axis=0)


def _read_csv(path: Path, **options) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # rows longer than the header
            return pd.read_csv(path, **options)
    except pd.errors.ParserWarning:
        raise DataError("the rows have more fields than the header", path) from None
    except pd.errors.EmptyDataError:
        raise DataError("empty file", path) from None
    except pd.errors.ParserError as e:
        line = re.search(r"line (\d+)", str(e))
        raise DataError(f"malformed line ({str(e).split('C error: ')[-1].strip()})", path,
                        int(line.group(1)) if line else None) from None
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 text ({e.reason} at byte {e.start})", path) from None


def _read_parquet(path: Path, columns: Sequence[str], keep_all: bool) -> Table:
    try:
        names = pq.read_schema(path).names
        _require(path, names, columns)
        wanted = None if keep_all else [c for c in names if c in columns]
        frame = pq.read_table(path, columns=wanted).to_pandas()
    except (pa.ArrowInvalid, OSError) as e:
        raise DataError(f"not a readable Parquet file ({e})", path) from None
    if frame.empty:
        raise DataError("no rows", path)
    return Table(path, frame, first_line=1)


def _require(path: Path, found: list[str], wanted: Sequence[str]) -> None:
    for column in wanted:
        if column not in found:
            close = difflib.get_close_matches(column, found, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            if len(found) == 1 and any(c in found[0] for c in ",;\t|"):
                hint = "; is the separator right? (give sep=)"
            raise DataError(f"no column {column!r}; columns found: {', '.join(map(repr, found))}{hint}",
                            path, field=column)


def _raise_at_first(table: Table, bad: np.ndarray, column: str, message) -> None:
    if bad.any():
        row = int(np.argmax(bad))
        line = table.line(table.frame.index[row])
        raise DataError(message(table.frame[column].iloc[row]), table.path, line, column)


def _missing(values: pd.Series) -> np.ndarray:
    """Null cells and empty strings."""
    missing = np.array(values.isna().to_numpy(), dtype=bool)
    if not pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_datetime64_any_dtype(values):
        missing |= (values == "").to_numpy(dtype=bool, na_value=False)
    return missing


def _empty(value: object) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return np.ndim(value) == 0 and bool(pd.isna(value))
