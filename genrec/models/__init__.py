"""Recommenders, one module each, all behind ``Recommender``; looked up by name for the CLI."""

from __future__ import annotations

from genrec.models.base import Recommender, ScoringRecommender
from genrec.registry import lookup

# name -> "module:Class"; imported on demand so that `genrec --help` stays fast
MODELS = {
    "popularity": "genrec.models.popularity:Popularity",
    "sasrec": "genrec.models.sasrec:SASRec",
    "tiger": "genrec.models.tiger:Tiger",
    "gram": "genrec.models.gram:Gram",
}


def model_class(name: str) -> type[Recommender]:
    return lookup(MODELS, name, "model")


__all__ = ["MODELS", "Recommender", "ScoringRecommender", "model_class"]
