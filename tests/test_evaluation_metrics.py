"""Ranking metrics on hand-computed cases, and the protocol end to end with a tiny fixed-score model."""

import numpy as np
import pytest
import torch

from genrec.data import Ragged, SequenceDataset
from genrec.data.dataset import EvalSet
from genrec.evaluation.metrics import per_user_metrics, summarise, target_ranks
from genrec.evaluation.protocol import evaluate
from genrec.models.base import ScoringRecommender


def test_target_ranks_found_and_absent():
    recommended = np.array([[5, 3, 7], [1, 2, 3], [4, 8, -1]])
    ranks = target_ranks(recommended, np.array([5, 3, 9]))
    assert ranks.tolist() == [0.0, 2.0, np.inf]


def test_ndcg_and_recall_by_hand():
    per_user = per_user_metrics(np.array([0.0, 2.0, np.inf, 4.0]), ks=(1, 3, 5))
    assert per_user["ndcg@3"] == pytest.approx([1.0, 1 / np.log2(4), 0.0, 0.0])  # rank 2 -> 0.5
    assert per_user["ndcg@5"] == pytest.approx([1.0, 0.5, 0.0, 1 / np.log2(6)])
    assert per_user["recall@1"].tolist() == [1, 0, 0, 0]
    assert per_user["recall@3"].tolist() == [1, 1, 0, 0]  # rank 2 is inside the top 3 ...
    assert per_user["recall@5"].tolist() == [1, 1, 0, 1]  # ... rank 4 only inside the top 5
    means = summarise(per_user)
    assert means["recall@3"] == pytest.approx(0.5) and means["ndcg@1"] == pytest.approx(0.25)


class FixedScores(ScoringRecommender):
    """Scores item i as -i whatever the history: the ranking is always 0, 1, 2, ..."""

    name = "fixed"
    Config = dict

    def fit(self, dataset, splits, run_dir=None):
        return {}

    def score(self, histories):
        return -torch.arange(self.n_items, dtype=torch.float32).expand(len(histories), -1)

    def save(self, directory):
        pass

    @classmethod
    def load(cls, directory, dataset):
        raise NotImplementedError


@pytest.fixture
def model():
    n_items = 8
    dataset = SequenceDataset("toy", np.arange(n_items).astype(str).astype(object), [{}] * n_items,
                              np.array(["u"], dtype=object), Ragged.from_lists([[0, 1]]))
    return FixedScores({}, dataset)


def test_exclude_history_moves_targets_up_through_evaluate(model):
    evalset = EvalSet(users=np.arange(3), histories=Ragged.from_lists([[0], [0, 1], [2, 5]]),
                      targets=np.array([1, 2, 2]))
    plain = evaluate(model, evalset, "test", ks=(1, 5), progress=False)
    assert plain.per_user["ndcg@5"] == pytest.approx([1 / np.log2(3), 1 / np.log2(4), 1 / np.log2(4)])
    masked = evaluate(model, evalset, "test", ks=(1, 5), exclude_history=True, progress=False)
    # user 0: item 0 masked -> target 1 first; user 1: 0 and 1 masked -> target 2 first;
    # user 2: the target itself is in the history, so masking removes it (a miss)
    assert masked.per_user["ndcg@5"] == pytest.approx([1.0, 1.0, 0.0])
    assert masked.per_user["recall@1"].tolist() == [1, 1, 0]
    assert masked.metrics["recall@5"] == pytest.approx(2 / 3) and masked.exclude_history


def test_batching_does_not_change_results(model):
    rng = np.random.default_rng(0)
    histories = Ragged.from_lists([rng.integers(0, 8, 3) for _ in range(7)])
    evalset = EvalSet(users=np.arange(7), histories=histories, targets=rng.integers(0, 8, 7))
    one = evaluate(model, evalset, "valid", exclude_history=True, batch_size=1024, progress=False)
    small = evaluate(model, evalset, "valid", exclude_history=True, batch_size=2, progress=False)
    for name in one.per_user:
        np.testing.assert_array_equal(one.per_user[name], small.per_user[name])
    assert one.users.tolist() == list(range(7))
