"""Shared fixtures: the real benchmark data, found as users find it."""

from __future__ import annotations

import os

import pytest
import torch

from genrec.data import load_dataset
from genrec.paths import data_dir

os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` run where torch sees a GPU and are skipped, saying so, everywhere else."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def beauty():
    if not (data_dir() / "amazon2014" / "beauty").is_dir():
        pytest.skip("the Amazon 2014 benchmark data is not available")
    return load_dataset("amazon2014/beauty")
