import numpy as np
import pytest

from genrec.evaluation.breakdown import bucket_means


def test_buckets_hold_the_means_of_their_users():
    values = np.array([1.0, 0.0, 0.5, 0.25, 0.75, 0.0])
    lengths = np.array([1, 3, 4, 5, 9, 30])
    rows = bucket_means(values, lengths, edges=(1, 4, 6, 21))
    assert rows == [("1-3", 2, 0.5), ("4-5", 2, 0.375), ("6-20", 1, 0.75), ("21+", 1, 0.0)]


def test_empty_buckets_are_skipped():
    rows = bucket_means(np.array([1.0, 0.0]), np.array([1, 30]), edges=(1, 4, 21))
    assert [label for label, _, _ in rows] == ["1-3", "21+"]


def test_lengths_below_the_first_edge_are_left_out_and_singletons_are_labelled_plainly():
    rows = bucket_means(np.array([1.0, 0.0]), np.array([0, 2]), edges=(1, 2, 3))
    assert rows == [("2", 1, 0.0)]


def test_mismatched_inputs_are_refused():
    with pytest.raises(ValueError, match="3 metric values for 2 keys"):
        bucket_means(np.zeros(3), np.zeros(2, dtype=int), edges=(0, 1))
