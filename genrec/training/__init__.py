"""Training: the shared loop, learning-rate schedules, checkpoints, resume, early stopping."""

from genrec.training.config import TrainConfig
from genrec.training.trainer import Trainer

__all__ = ["TrainConfig", "Trainer"]
