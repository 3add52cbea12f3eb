"""genrec: generative recommendation, from item text to semantic IDs to generated recommendations."""

__version__ = "0.1.0"
