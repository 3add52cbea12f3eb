"""Datasets: the item table, user sequences, splits and the loaders that build them."""

from genrec.data.dataset import EvalSet, SequenceDataset, Splits, leave_one_out
from genrec.data.load import load_dataset
from genrec.data.ragged import Ragged

__all__ = ["EvalSet", "Ragged", "SequenceDataset", "Splits", "leave_one_out", "load_dataset"]
