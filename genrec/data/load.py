"""One entry point, ``load_dataset``, that finds a dataset by name or path and picks its loader.

What ``name_or_path`` may be, tried in this order:

- ``amazon-raw:<Category>`` (``amazon-raw:Beauty``, ``amazon-raw:toys``): the original Amazon 2014 files
  of that category from ``<data dir>/amazon2014-raw`` or the per-user cache, downloaded when missing;
- a path, or a name under the data folder (``amazon2014/beauty``, ``movielens-100k``), that is
  - a benchmark folder (``sequences.txt`` + ``items.jsonl``);
  - a ``.csv``/``.tsv``/``.parquet`` interaction log;
  - a RecBole ``.inter`` file or a folder holding one;
  - a ``reviews_<Category>_5.json.gz`` file or a folder holding one (with ``meta_<Category>.json.gz``).

Options go to the chosen loader; ``None`` means "not given" so a CLI can pass all its flags through.
  kcore        drop users and items with fewer interactions, repeatedly (raw Amazon: 5, others: 0 = off)
  user_col, item_col, time_col   column names of a log or ``.inter`` file (user_id, item_id, timestamp);
               ``time_col=""`` keeps each user's rows in file order
  items, item_id_col, sep        item table file, its id column (default item_col), a separator (CSV/TSV)
  download     fetch missing raw Amazon files (default True)
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable

from genrec.data.dataset import SequenceDataset
from genrec.data.loaders.amazon_raw import fetch_category, is_amazon_raw, load_amazon_raw
from genrec.data.loaders.benchmark import is_benchmark_folder, load_benchmark_folder
from genrec.data.loaders.interactions import is_table_file, load_interactions
from genrec.data.loaders.recbole import is_recbole, load_recbole
from genrec.errors import GenrecError
from genrec.paths import data_dir

AMAZON_RAW = "amazon-raw:"


def resolve(name_or_path: str, data_dir_override: str | Path | None = None) -> Path:
    """A dataset name such as ``amazon2014/beauty`` is looked up in the data folder; a path is used as is."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    return data_dir(data_dir_override) / name_or_path


def load_dataset(name_or_path: str, data_dir: str | Path | None = None, **options: Any) -> SequenceDataset:
    options = {k: v for k, v in options.items() if v is not None}
    name = str(name_or_path)
    if name.startswith(AMAZON_RAW):
        download = options.pop("download", True)
        reviews = fetch_category(name[len(AMAZON_RAW):], data_dir, download_missing=download)
        return _call(load_amazon_raw, reviews, name, options)
    options.pop("download", None)
    path = resolve(name, data_dir)
    if is_benchmark_folder(path):
        return _call(load_benchmark_folder, path, name, options)
    if path.is_file() and is_table_file(path):
        return _call(load_interactions, path, name, options)
    if is_recbole(path):
        return _call(load_recbole, path, name, options)
    if is_amazon_raw(path):
        return _call(load_amazon_raw, path, name, options)
    raise GenrecError(
        f"no dataset at {path}: expected a benchmark folder (sequences.txt + items.jsonl), a .csv/.tsv/"
        f".parquet interaction log, a RecBole .inter file or folder, reviews_<Category>_5.json.gz, "
        f"or {AMAZON_RAW}<Category>"
    )


def _call(loader: Callable[..., SequenceDataset], path: Path, name: str, options: dict) -> SequenceDataset:
    """Run ``loader``, refusing options it does not take (a typo should not be silently ignored)."""
    accepted = [p for p, spec in inspect.signature(loader).parameters.items()
                if spec.kind is inspect.Parameter.KEYWORD_ONLY and p != "name"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        takes = f"it takes {', '.join(accepted)}" if accepted else "it takes none"
        raise GenrecError(f"option{'s' * (len(unknown) > 1)} {', '.join(unknown)} not used for {path} "
                          f"({loader.__name__}); {takes}")
    return loader(path, name=name, **options)
