"""Hierarchical k-means with lexical tokens (GRAM's hierarchical semantics indexing).

Items are clustered recursively, ``k`` clusters per node, until a node holds at most ``k`` items;
then every item of that node becomes a leaf of its own. Every cluster (and leaf item) is named by a
word of its items' text: the word with the highest TF-IDF score where the documents are the node's
children (term frequency: the share of the child's items that contain the word; IDF over the
siblings, log((c + 1) / df)), so the word separates a child from its siblings, times the word's
corpus IDF, so that boilerplate found in every text ("title", "beauty") scores about zero. A word
already used on the path is skipped and siblings never share a word, so an ID reads like "lipstick
matte red" and is unique; no ID is a prefix of another, since a path ends only at a single item.

Vocabulary: level ``l`` has its own word list ``token_names[l]`` (the distinct names used at that
depth, in corpus-vocabulary order), so the same word always has the same code at a level, and
``vocab_sizes[l]`` is only as large as needed. Where no unused word of the child's text is left
(empty or duplicate texts), the child is named by a number ("1", "2", ...); words always start
with a letter, so numbers never clash with words.

``flat=True`` clusters only once and then names items inside their cluster: the IDs of GRAM's
"without hierarchy" ablation (two tokens per item, one for an item alone in its cluster).
"""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from genrec.data.ragged import Ragged
from genrec.errors import GenrecError
from genrec.semantic_ids.base import Tokenizer, TokenizerOutput
from genrec.semantic_ids.kmeans import kmeans

_WORD = re.compile(r"[^\W\d_][^\W_]+")  # starts with a letter, at least two characters
STOP_WORDS = frozenset(
    "a about above after again against all am an and any are as at be because been before being below "
    "between both but by can could did do does doing down during each few for from further had has have "
    "having he her here hers herself him himself his how i if in into is it its itself just me more most "
    "my myself no nor not now of off on once only or other our ours ourselves out over own same she "
    "should so some such than that the their theirs them themselves then there these they this those "
    "through to too under until up very was we were what when where which while who whom why will with "
    "you your yours yourself yourselves".split()
)


@dataclass
class HierarchicalConfig:
    k: int = 128  # clusters per node; GRAM tunes {32, 128, 512} and releases 128
    flat: bool = False  # one level of k-means, then items named within their cluster
    kmeans_iters: int = 25
    seed: int = 0


def term_matrix(texts: list[str]) -> tuple[sp.csr_matrix, np.ndarray]:
    """Binary item x word matrix (lower-cased words of two or more characters, no stop words)."""
    tokens = [[w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS] for text in texts]
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    vocab, columns = np.unique(np.array([w for row in tokens for w in row], dtype=str), return_inverse=True)
    rows = np.repeat(np.arange(len(texts)), lengths)
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, columns)),
                           shape=(len(texts), len(vocab)))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix, vocab


def name_children(presence: np.ndarray, sizes: np.ndarray, weight: np.ndarray,
                  banned: np.ndarray) -> np.ndarray:
    """One distinct column per child (``-1`` where none is left), by TF-IDF against the siblings.

    ``presence`` [c, V]: how many of a child's items contain each word; ``weight`` [V]: corpus IDF;
    ``banned`` [V]: words on the path. Greedy: every unnamed child proposes its best free word; when
    several propose the same word the highest score takes it (ties: the first child); repeat.
    """
    n_children = len(presence)
    siblings_with = (presence > 0).sum(0)
    score = (presence / sizes[:, None]) * np.log((n_children + 1) / np.maximum(siblings_with, 1)) * weight
    score[:, banned] = -np.inf
    score[presence == 0] = -np.inf  # a child's name comes from its own items' text
    names = np.full(n_children, -1)
    open_rows = np.arange(n_children) if score.shape[1] else np.zeros(0, dtype=np.int64)
    while len(open_rows):
        best = score[open_rows].argmax(1)
        best_score = score[open_rows, best]
        alive = np.isfinite(best_score)
        open_rows, best, best_score = open_rows[alive], best[alive], best_score[alive]
        if not len(open_rows):
            break
        order = np.lexsort((open_rows, -best_score, best))  # by word, then score desc, then child
        first = np.ones(len(order), dtype=bool)
        first[1:] = best[order][1:] != best[order][:-1]
        winners, words = open_rows[order][first], best[order][first]
        names[winners] = words
        score[:, words] = -np.inf
        open_rows = np.setdiff1d(open_rows, winners)
    return names


class HierarchicalKMeans(Tokenizer):
    """Variable-length lexical IDs from recursive k-means; unique by construction."""

    name = "hierarchical"
    Config = HierarchicalConfig

    def fit(self, embeddings: np.ndarray, texts: list[str]) -> TokenizerOutput:
        cfg: HierarchicalConfig = self.config
        start = time.perf_counter()
        x = _checked(embeddings, texts, cfg.k)
        terms, vocab = term_matrix(texts)
        corpus_idf = np.log((len(texts) + 1) / (np.diff(terms.tocsc().indptr) + 1))
        # every ID token, as parallel lists: item, level, name (a word's column, or len(vocab) + j for "j+1")
        out_item, out_level, out_name = [], [], []
        # nodes to split: their items, depth, and the words on the path to them
        queue = deque([(np.arange(len(x)), 0, np.zeros(0, dtype=np.int64))])
        n_nodes = numbered = 0
        while queue:
            items, depth, path = queue.popleft()
            if len(items) > cfg.k and not (cfg.flat and depth >= 1):
                child = self._cluster(x[items], cfg.seed + n_nodes)
            else:
                child = np.arange(len(items))  # a leaf node: every item is a child of its own
            n_nodes += 1
            names = _names(terms[items], child, corpus_idf, path)
            missing = names < 0
            names[missing] = len(vocab) + np.arange(missing.sum())  # "1", "2", ... among these siblings
            numbered = max(numbered, int(missing.sum()))
            out_item.append(items)
            out_level.append(np.full(len(items), depth))
            out_name.append(names[child])
            sizes = np.bincount(child)
            groups = np.split(items[np.argsort(child, kind="stable")], np.cumsum(sizes)[:-1])
            for c in np.flatnonzero(sizes > 1):
                queue.append((groups[c], depth + 1, np.append(path, names[c])))
        token_names = list(vocab) + [str(j) for j in range(1, numbered + 1)]
        name = np.concatenate(out_name)
        codes, level_names = _to_codes(np.concatenate(out_item), np.concatenate(out_level), name, len(x),
                                       token_names)
        lengths = codes.lengths
        stats = {
            "seconds": time.perf_counter() - start, "nodes": n_nodes, "levels": len(level_names),
            "mean_length": float(lengths.mean()), "max_length": int(lengths.max()),
            "length_counts": np.bincount(lengths).tolist(),
            "numbered_tokens": int((name >= len(vocab)).sum()),
            "vocabulary_words": len(vocab),
        }
        return TokenizerOutput(codes, [len(names) for names in level_names], level_names, stats)

    def _cluster(self, x: torch.Tensor, seed: int) -> np.ndarray:
        """k-means labels renumbered 0..c-1; a node k-means cannot split (identical points) is cut evenly."""
        _, assign = kmeans(x, self.config.k, self.config.kmeans_iters, seed=seed)
        labels = np.unique(assign.numpy(), return_inverse=True)[1]
        if labels.max() == 0:
            labels = np.arange(len(x)) * self.config.k // len(x)
        return labels


def _names(terms: sp.csr_matrix, child: np.ndarray, corpus_idf: np.ndarray, path: np.ndarray) -> np.ndarray:
    """The word column naming each child of a node (``-1`` where none is left); ``terms`` are its items'."""
    n_children = int(child.max()) + 1
    membership = sp.csr_matrix((np.ones(len(child), dtype=np.float32), (child, np.arange(len(child)))),
                               shape=(n_children, len(child)))
    counts = (membership @ terms).tocsc()
    columns = np.flatnonzero(np.diff(counts.indptr))  # the words present in this node
    chosen = name_children(counts[:, columns].toarray(), np.bincount(child), corpus_idf[columns],
                           np.isin(columns, path))
    names = np.full(n_children, -1)
    names[chosen >= 0] = columns[chosen[chosen >= 0]]
    return names


def _to_codes(item: np.ndarray, level: np.ndarray, name: np.ndarray, n_items: int,
              token_names: list[str]) -> tuple[Ragged, list[list[str]]]:
    """Per-level vocabularies (names used at that depth) and each item's codes in level order."""
    n_levels = int(level.max()) + 1
    order = np.lexsort((level, item))
    item, level, name = item[order], level[order], name[order]
    level_words = [np.unique(name[level == lv]) for lv in range(n_levels)]
    codes = np.empty(len(name), dtype=np.int64)
    for lv, words in enumerate(level_words):
        at = level == lv
        codes[at] = np.searchsorted(words, name[at])
    lengths = np.bincount(item, minlength=n_items)
    return Ragged.from_lengths(codes, lengths), [[token_names[w] for w in words] for words in level_words]


def _checked(embeddings: np.ndarray, texts: list[str], k: int) -> torch.Tensor:
    """The embeddings as a float tensor, or a clear error for bad shapes, NaN or a bad ``k``."""
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise GenrecError(f"hierarchical: needs a non-empty [n_items, dim] embedding matrix, got {x.shape}")
    if len(texts) != len(x):
        raise GenrecError(f"hierarchical: {len(texts)} texts for {len(x)} embeddings")
    if not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x).all(1))[0])
        raise GenrecError(f"hierarchical: the embedding of item {bad} has NaN or infinite values")
    if k < 2:
        raise GenrecError(f"hierarchical: k must be at least 2, got {k}")
    return torch.from_numpy(x)
