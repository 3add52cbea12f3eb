"""One entry point, ``load_dataset``, that finds a dataset by name or path and picks its loader."""

from __future__ import annotations

from pathlib import Path

from genrec.data.dataset import SequenceDataset
from genrec.data.loaders.benchmark import is_benchmark_folder, load_benchmark_folder
from genrec.errors import GenrecError
from genrec.paths import data_dir


def resolve(name_or_path: str, data_dir_override: str | Path | None = None) -> Path:
    """A dataset name such as ``amazon2014/beauty`` is looked up in the data folder; a path is used as is."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    return data_dir(data_dir_override) / name_or_path


def load_dataset(name_or_path: str, data_dir: str | Path | None = None) -> SequenceDataset:
    folder = resolve(name_or_path, data_dir)
    if is_benchmark_folder(folder):
        return load_benchmark_folder(folder, name=name_or_path)
    raise GenrecError(f"no dataset at {folder}: expected sequences.txt and items.jsonl")
