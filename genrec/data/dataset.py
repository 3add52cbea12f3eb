"""SequenceDataset: an item table plus time-ordered user sequences, and the leave-one-out split.

Every loader produces one of these; every model and the evaluation consume only this. Items are
numbered 0..n_items-1 internally; their original ids stay in ``item_ids`` for everything a user sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genrec.data.ragged import Ragged


@dataclass
class SequenceDataset:
    name: str
    item_ids: np.ndarray  # original item ids (str), index = internal id
    item_records: list[dict]  # text fields per item (title, brand, categories, ...), index = internal id
    user_ids: np.ndarray  # original user ids (str), index = row of ``sequences``
    sequences: Ragged  # internal item ids per user, oldest first
    timestamps: Ragged | None = None  # same shape as ``sequences`` where the source has times
    source: str = ""  # where it was loaded from, for reports

    def __post_init__(self) -> None:
        if len(self.item_records) != len(self.item_ids):
            raise ValueError("item_records and item_ids differ in length")
        if len(self.user_ids) != len(self.sequences):
            raise ValueError("user_ids and sequences differ in length")

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_interactions(self) -> int:
        return len(self.sequences.values)

    def item_index(self) -> dict[str, int]:
        """Original item id -> internal id."""
        return {str(original): i for i, original in enumerate(self.item_ids)}

    def title(self, item: int) -> str:
        record = self.item_records[item]
        return str(record.get("title") or record.get("short_text_idgenrec") or self.item_ids[item])

    def stats(self) -> dict[str, float]:
        lengths = self.sequences.lengths
        return {
            "users": self.n_users,
            "items": self.n_items,
            "interactions": self.n_interactions,
            "density": self.n_interactions / max(1, self.n_users * self.n_items),
            "seq_len_min": int(lengths.min()) if len(lengths) else 0,
            "seq_len_mean": float(lengths.mean()) if len(lengths) else 0.0,
            "seq_len_median": float(np.median(lengths)) if len(lengths) else 0.0,
            "seq_len_max": int(lengths.max()) if len(lengths) else 0,
        }


@dataclass(frozen=True)
class EvalSet:
    """One held-out target per user, with the full history before it (models cap the length)."""

    users: np.ndarray  # row of the user in the dataset
    histories: Ragged
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.targets)

    def sample(self, n: int, seed: int) -> EvalSet:
        """A fixed random subset of ``n`` users, in their original order (all when ``n`` is 0 or at
        least the set's size): validation on a sample keeps early stopping cheap for decoding models."""
        if n <= 0 or n >= len(self):
            return self
        rows = np.sort(np.random.default_rng(seed).choice(len(self), n, replace=False))
        return EvalSet(self.users[rows], self.histories.select(rows), self.targets[rows])


@dataclass(frozen=True)
class Splits:
    train: Ragged  # per user, seq[:-2]: what models may learn from
    valid: EvalSet  # history seq[:-2], target seq[-2]
    test: EvalSet  # history seq[:-1], target seq[-1]


def leave_one_out(dataset: SequenceDataset) -> Splits:
    """The standard split of the field: last item = test, the one before = validation.

    Users with fewer than 3 items cannot supply a training history, a validation and a test target;
    they are left out of evaluation and keep their whole sequence for training.
    """
    seqs = dataset.sequences
    lengths = seqs.lengths
    evaluable = np.flatnonzero(lengths >= 3)
    train_lengths = np.where(lengths >= 3, lengths - 2, lengths)
    train = seqs.slice_rows(np.zeros_like(lengths), train_lengths)
    sub = seqs.select(evaluable)
    valid = EvalSet(evaluable, sub.drop_last(2), sub.values[sub.offsets[1:] - 2])
    test = EvalSet(evaluable, sub.drop_last(1), sub.last())
    return Splits(train=train, valid=valid, test=test)
