"""Trie-constrained beam search against exhaustive scoring, on random tries and random step models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from genrec.data.ragged import Ragged
from genrec.decoding import Trie, beam_search, exhaustive_scores
from genrec.errors import GenrecError
from genrec.semantic_ids.codes import SemanticIds


class RandomRNN:
    """A prefix-dependent random model: h <- tanh(h A + E[code]), log-probs = log_softmax(h B_level)."""

    def __init__(self, vocab_sizes: list[int], n_users: int, seed: int, dim: int = 8, sharpness: float = 3.0):
        g = torch.Generator().manual_seed(seed)
        self.width = max(vocab_sizes)
        self.a = torch.randn(dim, dim, generator=g) / dim**0.5
        self.e = torch.randn(self.width + 1, dim, generator=g)
        self.b = torch.randn(len(vocab_sizes), dim, self.width, generator=g) * sharpness
        self.h0 = torch.randn(n_users, 1, dim, generator=g)

    def start(self) -> dict:
        return {"h": self.h0, "level": 0}

    def step(self, codes, state):
        h = state["h"] if codes is None else torch.tanh(state["h"] @ self.a + self.e[codes + 1])
        return torch.log_softmax(h @ self.b[state["level"]], -1), {"h": h, "level": state["level"] + 1}

    def reorder(self, state, parents):
        h = state["h"]
        return {**state, "h": h.gather(1, parents[..., None].expand(-1, -1, h.shape[-1]))}


def random_ids(rng: np.random.Generator, n_items: int, vocab_sizes: list[int], variable: bool) -> SemanticIds:
    """Distinct IDs; variable-length ones are made prefix-free by keeping only trie leaves."""
    codes = np.stack([rng.integers(0, v, size=4 * n_items) for v in vocab_sizes], axis=1)
    if not variable:
        codes = np.unique(codes, axis=0)[:n_items]
        return SemanticIds.from_array(codes, vocab_sizes, "random")
    lengths = rng.integers(1, len(vocab_sizes) + 1, size=len(codes))
    rows = sorted({tuple(c[:length]) for c, length in zip(codes.tolist(), lengths)})
    leaves = [r for r in rows if not any(len(o) > len(r) and o[:len(r)] == r for o in rows)][:n_items]
    return SemanticIds(Ragged.from_lists(leaves), vocab_sizes, "random")


class TableModel:
    """Fixed next-code probabilities per prefix (``table[prefix]``, a tuple of codes), for hand-made cases."""

    def __init__(self, table: dict[tuple, list[float]], n_users: int):
        self.table, self.n_users = table, n_users

    def start(self) -> list:
        return [[()] for _ in range(self.n_users)]

    def step(self, codes, state):
        if codes is not None:
            fed = codes.tolist()
            state = [[p + (c,) if c >= 0 else p for p, c in zip(row, cs)] for row, cs in zip(state, fed)]
        width = max(len(v) for v in self.table.values())
        probs = [[self.table.get(p, [1.0] * width) for p in row] for row in state]
        return torch.tensor(probs).log(), state

    def reorder(self, state, parents):
        return [[row[i] for i in ps] for row, ps in zip(state, parents.tolist())]


def run(ids: SemanticIds, n_users: int, beam: int, k: int, seed: int, exclude: Ragged | None = None,
        sharpness: float = 3.0, length_penalty: float = 0.0):
    model = RandomRNN(ids.vocab_sizes, n_users, seed, sharpness=sharpness)
    trie = Trie.from_semantic_ids(ids)
    items, scores = beam_search(model, model.start(), trie, n_users, beam, k, exclude=exclude,
                                length_penalty=length_penalty)
    exact = exhaustive_scores(model, model.start(), ids, n_users, length_penalty=length_penalty)
    return items, scores, exact


def test_trie_maps_paths_to_items_and_rejects_invalid_codes():
    ids = SemanticIds(Ragged.from_lists([[0, 1], [0, 2, 0], [1], [0, 2, 1]]), [2, 3, 2], "hand")
    trie = Trie.from_semantic_ids(ids)
    walk = torch.zeros(4, dtype=torch.int64)
    codes = ids.codes.to_padded(3, pad=-1, align="left")
    for level in range(3):
        step = torch.from_numpy(codes[:, level])
        walk = torch.where(step >= 0, trie.child(walk, step), walk)
    assert trie.node_item[walk].tolist() == [0, 1, 2, 3]
    assert trie.child(torch.tensor([0, 0, 0]), torch.tensor([2, -1, 1])).tolist()[:2] == [-1, -1]
    assert trie.is_leaf(trie.child(torch.tensor([0]), torch.tensor([1]))).item()  # item 2 = [1]
    rows, edges = trie.edges(torch.tensor([0, int(trie.child(torch.tensor([0]), torch.tensor([0])))]))
    assert rows.tolist() == [0, 0, 1, 1] and trie.edge_code[edges].tolist() == [0, 1, 1, 2]


def test_trie_rejects_ids_that_are_prefixes_of_others():
    ids = SemanticIds(Ragged.from_lists([[0], [0, 1]]), [2, 2], "hand")
    with pytest.raises(GenrecError, match="prefix-free"):
        Trie.from_semantic_ids(ids)


@pytest.mark.parametrize("variable", [False, True])
def test_full_beam_equals_exhaustive_search(variable):
    rng = np.random.default_rng(0)
    ids = random_ids(rng, 60, [4, 5, 3], variable)
    items, scores, exact = run(ids, n_users=7, beam=ids.n_items, k=10, seed=1)
    top = exact.topk(10, dim=1)
    assert torch.equal(items, top.indices)
    torch.testing.assert_close(scores, top.values)


def test_length_penalty_ranks_by_mean_code_log_probability():
    rng = np.random.default_rng(0)
    ids = random_ids(rng, 60, [4, 5, 3], variable=True)
    plain, _, plain_exact = run(ids, n_users=7, beam=ids.n_items, k=10, seed=1)
    items, scores, exact = run(ids, n_users=7, beam=ids.n_items, k=10, seed=1, length_penalty=1.0)
    top = exact.topk(10, dim=1)
    assert torch.equal(items, top.indices)
    torch.testing.assert_close(scores, top.values)
    lengths = torch.from_numpy(ids.codes.lengths).float()
    torch.testing.assert_close(exact, plain_exact / lengths)
    assert not torch.equal(items, plain)  # the penalty changes the ranking, else this test would be vacuous


def test_a_complete_id_does_not_hold_a_beam():
    """Item A = [0] is complete after one step. Were it kept as one of the two beams, [2] would be pruned
    at step one and the search would miss D = [2, 0] (0.2), better than B and C (0.15 each)."""
    ids = SemanticIds(Ragged.from_lists([[0], [1, 0], [1, 1], [2, 0]]), [3, 2], "hand")
    table = {(): [0.5, 0.3, 0.2], (1,): [0.5, 0.5, 0.0], (2,): [1.0, 0.0, 0.0]}
    model = TableModel(table, n_users=1)
    items, scores = beam_search(model, model.start(), Trie.from_semantic_ids(ids), 1, beam_size=2, k=2)
    assert items.tolist() == [[0, 3]]
    torch.testing.assert_close(scores.exp(), torch.tensor([[0.5, 0.2]]))


def test_small_beam_differs_from_exhaustive_but_stays_consistent():
    """With a narrow beam the search is approximate (else the test above would be vacuous), yet every
    returned score is the item's exact score."""
    ids = random_ids(np.random.default_rng(3), 200, [6, 6, 6], False)
    items, scores, exact = run(ids, n_users=50, beam=2, k=2, seed=4, sharpness=0.5)
    assert not torch.equal(items, exact.topk(2, dim=1).indices)
    torch.testing.assert_close(scores, exact.gather(1, items))


def test_excluded_items_never_come_out():
    ids = random_ids(np.random.default_rng(5), 40, [3, 4, 4], False)
    n = 6
    free = run(ids, n, beam=40, k=5, seed=6)[0]
    exclude = Ragged.from_lists([row[:2].tolist() for row in free])  # ban each user's two best
    items, scores, exact = run(ids, n, beam=40, k=5, seed=6, exclude=exclude)
    for row, banned in zip(items.tolist(), exclude.to_lists()):
        assert not set(row) & set(banned)
    exact[torch.arange(n)[:, None], torch.tensor(exclude.to_lists())] = -torch.inf
    assert torch.equal(items, exact.topk(5, dim=1).indices)


def test_pads_when_fewer_items_than_k():
    ids = SemanticIds.from_array(np.array([[0, 0], [0, 1], [1, 1]]), [2, 2], "hand")
    items, scores, _ = run(ids, n_users=2, beam=2, k=5, seed=0)
    assert (items[:, 3:] == -1).all() and torch.isinf(scores[:, 3:]).all()
    assert sorted(items[0, :3].tolist()) == [0, 1, 2]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), n_items=st.integers(1, 40), beam=st.integers(1, 50), k=st.integers(1, 12),
       levels=st.integers(1, 4), variable=st.booleans())
def test_random_models_give_valid_distinct_items_and_the_exact_top_when_wide(seed, n_items, beam, k, levels,
                                                                            variable):
    rng = np.random.default_rng(seed)
    ids = random_ids(rng, n_items, rng.integers(2, 6, size=levels).tolist(), variable)
    items, scores, exact = run(ids, n_users=3, beam=beam, k=k, seed=seed)
    assert items.shape == (3, k)
    for row, row_scores in zip(items, scores):
        found = row[row >= 0]
        assert len(found) == len(set(found.tolist())) == min(k, max(beam, k), ids.n_items)
        assert (row[len(found):] == -1).all()  # padding only at the end
        assert (found < ids.n_items).all()
        assert (row_scores[: len(found)].diff() <= 1e-6).all()  # best first
    valid = items >= 0
    torch.testing.assert_close(scores[valid], exact.gather(1, items.clamp_min(0))[valid])
    if beam >= ids.n_items:  # wide enough: exactly the exhaustive top-k
        top = exact.topk(min(k, ids.n_items), dim=1)
        assert torch.equal(items[:, :top.indices.shape[1]], top.indices)
