"""GRAM (Lee et al., ACL 2025): semantic-to-lexical translation and multi-granular late fusion.

Modules: ``lexical_ids`` (items as words), ``similar`` (collaborative neighbours), ``prompts`` (user
and item prompts), ``vocab`` (the backbone's vocabulary), ``model`` (encoder, fusion, decoder) and
``recommender`` (the ``Recommender`` registered as ``gram``).
"""

from genrec.models.gram.recommender import Gram, GramConfig

__all__ = ["Gram", "GramConfig"]
