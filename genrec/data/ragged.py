"""Variable-length integer sequences stored as one flat array plus offsets.

User histories are short and numerous; a list of Python lists costs an object per item and makes
every batch operation a Python loop. ``Ragged`` keeps them in two NumPy arrays instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ragged:
    """Row ``i`` is ``values[offsets[i]:offsets[i + 1]]``."""

    values: np.ndarray  # int64, all rows concatenated
    offsets: np.ndarray  # int64, length n_rows + 1, offsets[0] == 0

    def __post_init__(self) -> None:
        if self.offsets.ndim != 1 or len(self.offsets) == 0 or self.offsets[0] != 0:
            raise ValueError("offsets must be a 1-d array starting at 0")
        if self.offsets[-1] != len(self.values):
            raise ValueError(f"offsets end at {self.offsets[-1]} but there are {len(self.values)} values")

    @classmethod
    def from_lists(cls, rows: list[list[int]] | list[np.ndarray]) -> Ragged:
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        values = (np.concatenate([np.asarray(r, dtype=np.int64) for r in rows]) if rows
                  else np.zeros(0, np.int64))
        return cls(values.astype(np.int64, copy=False), offsets)

    @classmethod
    def from_lengths(cls, values: np.ndarray, lengths: np.ndarray) -> Ragged:
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(np.asarray(values, dtype=np.int64), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i] : self.offsets[i + 1]]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def to_lists(self) -> list[list[int]]:
        return [self[i].tolist() for i in range(len(self))]

    def select(self, rows: np.ndarray) -> Ragged:
        """The given rows, in the given order (vectorised gather)."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, lengths = self.offsets[rows], self.lengths[rows]
        return Ragged.from_lengths(self.values[_ranges(starts, lengths)], lengths)

    def slice_rows(self, start: np.ndarray, stop: np.ndarray) -> Ragged:
        """Row i becomes ``self[i][start[i]:stop[i]]``; ``start``/``stop`` are per-row positions."""
        start = np.asarray(start, dtype=np.int64)
        stop = np.asarray(stop, dtype=np.int64)
        lengths = np.maximum(stop - start, 0)
        return Ragged.from_lengths(self.values[_ranges(self.offsets[:-1] + start, lengths)], lengths)

    def drop_last(self, n: int) -> Ragged:
        """Every row without its last ``n`` values (rows shorter than that become empty)."""
        lengths = self.lengths
        return self.slice_rows(np.zeros_like(lengths), np.maximum(lengths - n, 0))

    def tail(self, max_len: int) -> Ragged:
        """Keep at most the last ``max_len`` values of every row (the most recent items)."""
        lengths = self.lengths
        return self.slice_rows(np.maximum(lengths - max_len, 0), lengths)

    def prefix_samples(self) -> tuple[np.ndarray, np.ndarray]:
        """Every ``(row, end)`` with ``1 <= end < len(row)``, row by row: the history ``self[row][:end]``
        and its next item ``self[row][end]`` (next-item training on every prefix: A -> B, A B -> C, ...)."""
        counts = np.maximum(self.lengths - 1, 0)
        rows = np.repeat(np.arange(len(self)), counts)
        ends = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
        return rows, ends

    def last(self) -> np.ndarray:
        """The last value of every row; rows must be non-empty."""
        if (self.lengths == 0).any():
            raise ValueError("last() needs non-empty rows")
        return self.values[self.offsets[1:] - 1]

    def to_padded(self, max_len: int | None = None, pad: int = 0, align: str = "right") -> np.ndarray:
        """A dense ``[n_rows, max_len]`` array; rows longer than ``max_len`` keep their last values.

        ``align="right"`` puts each row's last value in the last column (what causal models want);
        ``align="left"`` starts every row at column 0.
        """
        rows = self.tail(max_len) if max_len is not None else self
        lengths = rows.lengths
        width = int(max_len if max_len is not None else (lengths.max() if len(lengths) else 0))
        out = np.full((len(rows), width), pad, dtype=np.int64)
        row_index = np.repeat(np.arange(len(rows)), lengths)
        position = np.arange(len(rows.values)) - np.repeat(rows.offsets[:-1], lengths)
        if align == "right":
            position = position + np.repeat(width - lengths, lengths)
        elif align != "left":
            raise ValueError(f"align must be 'left' or 'right', not {align!r}")
        out[row_index, position] = rows.values
        return out


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + l)`` for every (s, l), without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    row_starts = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + row_starts
