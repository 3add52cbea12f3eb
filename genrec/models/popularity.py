"""Most-popular items: the floor every sequential model must clear."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genrec.data.dataset import SequenceDataset, Splits
from genrec.data.ragged import Ragged
from genrec.io import atomic_write
from genrec.models.base import ScoringRecommender


@dataclass
class PopularityConfig:
    pass


class Popularity(ScoringRecommender):
    """Scores every item by its number of training interactions, whatever the history."""

    name = "popularity"
    Config = PopularityConfig

    def __init__(self, config: PopularityConfig, dataset: SequenceDataset) -> None:
        super().__init__(config, dataset)
        self.counts = np.zeros(self.n_items, dtype=np.float32)

    def fit(self, dataset: SequenceDataset, splits: Splits, run_dir: Path | None = None) -> dict:
        self.counts = np.bincount(splits.train.values, minlength=self.n_items).astype(np.float32)
        return {"epochs": 0}

    def score(self, histories: Ragged) -> torch.Tensor:
        return torch.from_numpy(self.counts).expand(len(histories), -1)

    def save(self, directory: Path) -> None:
        atomic_write(Path(directory) / "counts.npy", lambda f: np.save(f, self.counts))

    @classmethod
    def load(cls, directory: Path, dataset: SequenceDataset) -> Popularity:
        model = cls(PopularityConfig(), dataset)
        model.counts = np.load(Path(directory) / "counts.npy")
        return model
