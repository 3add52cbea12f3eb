"""The one interface every recommender implements; evaluation and serving use nothing else."""

from __future__ import annotations

import dataclasses
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from genrec.config import validate
from genrec.data.dataset import SequenceDataset, Splits
from genrec.data.ragged import Ragged
from genrec.errors import GenrecError


def torch_device(name: str, fallback: bool = False) -> torch.device:
    """The device a model's ``device`` setting names: ``cpu``, ``cuda``, ``cuda:N``, or ``auto`` (a GPU
    when torch sees one). ``fallback``: a GPU that is not there becomes the CPU, so that a model trained
    on a GPU machine still loads on a laptop; otherwise asking for one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise GenrecError(f"device: {name!r} is not a device (cpu, cuda, cuda:N or auto)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        if fallback:
            logging.getLogger("genrec").warning("device=%s: no CUDA GPU here, using the CPU", name)
            return torch.device("cpu")
        raise GenrecError(f"device={name}, but torch {torch.__version__} sees no CUDA GPU here; "
                          "set device=cpu (or auto)")
    return device


@contextmanager
def eval_mode(module: torch.nn.Module) -> Iterator[None]:
    """Run a block with ``module`` in eval mode (no dropout), restoring its mode after, even on error."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


class Recommender(ABC):
    """Learns from training sequences and recommends the next items for raw histories.

    ``name`` is the registry key (``genrec train --model NAME``); ``Config`` is the dataclass of its
    hyperparameters, saved with every run.
    """

    name: ClassVar[str]
    Config: ClassVar[type]

    def __init__(self, config: Any, dataset: SequenceDataset) -> None:
        if dataclasses.is_dataclass(config):
            validate(config, self.name)
        self.config = config
        self.n_items = dataset.n_items

    @abstractmethod
    def fit(self, dataset: SequenceDataset, splits: Splits, run_dir: Path | None = None) -> dict:
        """Train on ``splits.train`` (validating on ``splits.valid``); returns a training summary.

        ``run_dir`` is where checkpoints and logs go, so that a killed run can resume.
        """

    @abstractmethod
    def recommend(self, histories: Ragged, k: int,
                  exclude_history: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items for every history, best first: ``(items [n, k] int64, scores [n, k] float32)``.

        Where fewer than ``k`` items can be produced, the row is padded with item ``-1``.
        """

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Everything needed to recommend again, written into ``directory``."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, dataset: SequenceDataset) -> Recommender:
        """The inverse of ``save``."""


class ScoringRecommender(Recommender):
    """A recommender that can score the whole catalogue at once (SASRec, popularity, ...)."""

    @abstractmethod
    def score(self, histories: Ragged) -> torch.Tensor:
        """``[n, n_items]`` scores, higher is better."""

    @torch.no_grad()
    def recommend(self, histories: Ragged, k: int,
                  exclude_history: bool = False) -> tuple[np.ndarray, np.ndarray]:
        scores = self.score(histories).float()
        if exclude_history:
            scores = scores.clone()  # score() may return a shared or expanded tensor
            rows = np.repeat(np.arange(len(histories)), histories.lengths)
            scores[torch.from_numpy(rows), torch.from_numpy(histories.values)] = -torch.inf
        top = torch.topk(scores, min(k, scores.shape[1]), dim=1)
        items, values = top.indices.numpy().astype(np.int64), top.values.numpy().astype(np.float32)
        items[~np.isfinite(values)] = -1
        return items, values
