import numpy as np

from genrec.data import Ragged, SequenceDataset, leave_one_out


def _dataset(rows):
    n_items = max(max(r) for r in rows if r) + 1
    return SequenceDataset("toy", np.arange(n_items).astype(str).astype(object), [{} for _ in range(n_items)],
                           np.arange(len(rows)).astype(str).astype(object), Ragged.from_lists(rows))


def test_leave_one_out_on_hand_made_sequences():
    splits = leave_one_out(_dataset([[0, 1, 2, 3, 4], [5, 6, 7], [8, 9]]))
    assert splits.train.to_lists() == [[0, 1, 2], [5], [8, 9]]  # short users keep everything for training
    assert splits.valid.users.tolist() == [0, 1]
    assert splits.valid.histories.to_lists() == [[0, 1, 2], [5]]
    assert splits.valid.targets.tolist() == [3, 6]
    assert splits.test.histories.to_lists() == [[0, 1, 2, 3], [5, 6]]
    assert splits.test.targets.tolist() == [4, 7]


def test_leave_one_out_on_beauty(beauty):
    splits = leave_one_out(beauty)
    seqs = beauty.sequences
    assert len(splits.test) == beauty.n_users == 22_363  # 5-core: everyone is evaluable
    for user in (0, 123, 22_362):
        seq = seqs[user]
        assert splits.test.targets[user] == seq[-1] and splits.valid.targets[user] == seq[-2]
        assert splits.test.histories[user].tolist() == seq[:-1].tolist()
        assert splits.train[user].tolist() == seq[:-2].tolist()
    # no training interaction reveals a validation or test target's position
    assert splits.train.lengths.sum() == seqs.lengths.sum() - 2 * beauty.n_users


def test_validation_sample_is_fixed_and_consistent(beauty):
    valid = leave_one_out(beauty).valid
    sample = valid.sample(1000, seed=42)
    assert len(sample) == 1000 and (np.diff(sample.users) > 0).all()
    again = valid.sample(1000, seed=42)
    np.testing.assert_array_equal(sample.users, again.users)
    assert not np.array_equal(sample.users, valid.sample(1000, seed=43).users)
    rows = np.searchsorted(valid.users, sample.users)  # each sampled user keeps its own history and target
    np.testing.assert_array_equal(sample.targets, valid.targets[rows])
    np.testing.assert_array_equal(sample.histories[7], valid.histories[int(rows[7])])
    assert valid.sample(0, seed=42) is valid and valid.sample(10**6, seed=42) is valid
