"""SemanticIds: the artefact every tokenizer writes and every semantic-ID model reads.

An item's ID is a short tuple of codes, one per level; level ``l`` has its own vocabulary of
``vocab_sizes[l]`` codes. IDs may have a fixed length (RQ, PQ) or a variable one (hierarchical
clustering). Lexical methods also name every code with a word, so an ID can be read as text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genrec.data.ragged import Ragged
from genrec.errors import GenrecError
from genrec.io import atomic_write, write_json

CODES_FILE, META_FILE = "codes.npz", "semantic_ids.json"


@dataclass
class SemanticIds:
    codes: Ragged  # row = internal item id, values = code per level
    vocab_sizes: list[int]  # codes available at each level
    method: str  # e.g. "rq-kmeans"
    params: dict = field(default_factory=dict)  # the tokenizer's configuration
    encoder: str = ""  # the text/collaborative embedding the codes were built from
    token_names: list[list[str]] | None = None  # per level, code -> word (lexical methods)
    stats: dict = field(default_factory=dict)  # e.g. collision rate before disambiguation

    def __post_init__(self) -> None:
        lengths = self.codes.lengths
        if len(lengths) and lengths.min() < 1:
            raise GenrecError("every item needs at least one code")
        if len(lengths) and lengths.max() > len(self.vocab_sizes):
            raise GenrecError("an ID is longer than the number of levels")
        level = np.arange(len(self.codes.values)) - np.repeat(self.codes.offsets[:-1], lengths)
        if len(level) and (self.codes.values >= np.asarray(self.vocab_sizes)[level]).any():
            raise GenrecError("a code is outside its level's vocabulary")
        self._index = {tuple(self.codes[i].tolist()): i for i in range(len(self.codes))}
        if len(self._index) != len(self.codes):
            raise GenrecError("semantic IDs are not unique; disambiguate collisions first")

    @classmethod
    def from_array(cls, codes: np.ndarray, vocab_sizes: list[int], method: str, **kwargs) -> SemanticIds:
        """Fixed-length IDs from an ``[n_items, n_levels]`` array."""
        n, length = codes.shape
        return cls(Ragged.from_lengths(codes.reshape(-1), np.full(n, length)), list(vocab_sizes), method,
                   **kwargs)

    @property
    def n_items(self) -> int:
        return len(self.codes)

    @property
    def n_levels(self) -> int:
        return len(self.vocab_sizes)

    @property
    def fixed_length(self) -> int | None:
        lengths = self.codes.lengths
        return int(lengths[0]) if len(lengths) and (lengths == lengths[0]).all() else None

    def as_array(self) -> np.ndarray:
        """``[n_items, n_levels]`` codes; only for fixed-length IDs."""
        if self.fixed_length is None:
            raise GenrecError(f"{self.method} IDs have variable length; use .codes")
        return self.codes.values.reshape(self.n_items, self.fixed_length)

    def item_of(self, code: tuple[int, ...] | list[int]) -> int | None:
        """The item with exactly this ID, or None."""
        return self._index.get(tuple(int(c) for c in code))

    def id_text(self, item: int) -> str:
        """A readable ID: its words for lexical methods, else ``<a_12><b_3>...``."""
        codes = self.codes[item].tolist()
        if self.token_names is not None:
            return " ".join(self.token_names[level][c] for level, c in enumerate(codes))
        return "".join(f"<{chr(ord('a') + level)}_{c}>" for level, c in enumerate(codes))

    def save(self, directory: str | Path) -> None:
        """Write atomically: a temporary file per artefact, then a rename."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "method": self.method, "params": self.params, "encoder": self.encoder,
            "vocab_sizes": self.vocab_sizes, "token_names": self.token_names, "stats": self.stats,
            "n_items": self.n_items,
        }
        atomic_write(directory / CODES_FILE,
                     lambda f: np.savez(f, values=self.codes.values, offsets=self.codes.offsets))
        write_json(directory / META_FILE, meta)

    @classmethod
    def load(cls, directory: str | Path) -> SemanticIds:
        directory = Path(directory)
        if not (directory / META_FILE).is_file():
            raise GenrecError(f"no semantic IDs in {directory} (missing {META_FILE})")
        meta = json.loads((directory / META_FILE).read_text())
        with np.load(directory / CODES_FILE) as arrays:
            codes = Ragged(arrays["values"], arrays["offsets"])
        return cls(codes, meta["vocab_sizes"], meta["method"], meta["params"], meta["encoder"],
                   meta["token_names"], meta["stats"])

