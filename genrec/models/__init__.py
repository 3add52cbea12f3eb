"""Recommenders, one module each, all behind ``Recommender``; looked up by name for the CLI."""

from __future__ import annotations

import importlib

from genrec.errors import GenrecError
from genrec.models.base import Recommender, ScoringRecommender

# name -> "module:Class"; imported on demand so that `genrec --help` stays fast
MODELS = {
    "popularity": "genrec.models.popularity:Popularity",
    "sasrec": "genrec.models.sasrec:SASRec",
    "tiger": "genrec.models.tiger:Tiger",
    "gram": "genrec.models.gram:Gram",
}


def model_class(name: str) -> type[Recommender]:
    if name not in MODELS:
        raise GenrecError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}")
    module, cls = MODELS[name].split(":")
    return getattr(importlib.import_module(module), cls)


__all__ = ["MODELS", "Recommender", "ScoringRecommender", "model_class"]
