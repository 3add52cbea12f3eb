"""Readers that turn files on disk into a SequenceDataset, one module a format.

``genrec.data.load_dataset`` picks among them by name or path; call one directly for its options.
"""

from genrec.data.loaders.amazon_raw import fetch_category, load_amazon_raw
from genrec.data.loaders.benchmark import load_benchmark_folder
from genrec.data.loaders.interactions import load_interactions
from genrec.data.loaders.recbole import load_recbole

__all__ = ["fetch_category", "load_amazon_raw", "load_benchmark_folder", "load_interactions", "load_recbole"]
