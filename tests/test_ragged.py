import numpy as np
import pytest

from genrec.data import Ragged

ROWS = [[1, 2, 3], [], [4], [5, 6, 7, 8, 9]]


def test_round_trip_and_views():
    r = Ragged.from_lists(ROWS)
    assert r.to_lists() == ROWS
    assert r.lengths.tolist() == [3, 0, 1, 5]
    assert r.select(np.array([3, 0])).to_lists() == [[5, 6, 7, 8, 9], [1, 2, 3]]
    assert r.tail(2).to_lists() == [[2, 3], [], [4], [8, 9]]
    assert r.drop_last(1).to_lists() == [[1, 2], [], [], [5, 6, 7, 8]]


def test_padding_keeps_most_recent():
    r = Ragged.from_lists(ROWS)
    right = r.to_padded(3, pad=-1)
    assert right.tolist() == [[1, 2, 3], [-1, -1, -1], [-1, -1, 4], [7, 8, 9]]
    left = r.to_padded(3, pad=0, align="left")
    assert left.tolist() == [[1, 2, 3], [0, 0, 0], [4, 0, 0], [7, 8, 9]]


def test_last_needs_non_empty_rows():
    with pytest.raises(ValueError):
        Ragged.from_lists(ROWS).last()
    assert Ragged.from_lists([[1, 2], [3]]).last().tolist() == [2, 3]


def test_offsets_must_match_values():
    with pytest.raises(ValueError):
        Ragged(np.arange(3), np.array([0, 2]))
