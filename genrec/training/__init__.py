"""Training: the shared loop, learning-rate schedules, checkpoints, resume, early stopping."""
