"""Training hyperparameters shared by every trained model (each model's Config holds one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class TrainConfig:
    epochs: int = 50
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_ratio: float = 0.05  # fraction of all steps with a linear warm-up
    schedule: Literal["cosine", "linear", "constant", "inverse-sqrt"] = "cosine"
    grad_clip: float = 1.0  # max gradient norm; 0 disables clipping
    patience: int = 5  # stop after this many validations without a better validation NDCG@10
    # the weights fit ends with: "best", those of the best validation NDCG@10; "last", the last epoch's,
    # for a fixed schedule whose validation sample is too small to rank its last epochs (validation
    # still runs, for the history and for patience)
    keep: Literal["best", "last"] = "best"
    eval_every: int = 1  # validate every this many epochs
    eval_batch_size: int = 1024
    # wall-clock limit on the whole fit (epochs, validations, checkpoints), keeping the best checkpoint;
    # training stops early enough for one more validation and checkpoint to fit; 0 = no limit
    max_minutes: float = 0.0
    max_steps: int = 0  # stop after this many optimiser steps (smoke tests, timing); 0 = no limit
    seed: int = 42
    threads: int = 0  # torch intra-op threads; 0 = torch's default
    progress: bool = True
