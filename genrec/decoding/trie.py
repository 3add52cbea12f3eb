"""The prefix tree of all valid semantic IDs, as flat tensors for batched constrained decoding.

Beam search asks, for thousands of beams at once, "which codes may follow this prefix?" and "which
node does this code lead to?". Dicts per beam would make that a Python loop; here every node has a
number (breadth-first, so a level's nodes are contiguous), its children are a CSR range of edges
sorted by code, and the edge keys ``parent * width + code`` are globally sorted, so both questions
are answered for any batch of nodes by a gather or one ``searchsorted``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genrec.errors import GenrecError
from genrec.semantic_ids.codes import SemanticIds

ROOT = 0


@dataclass
class Trie:
    child_ptr: torch.Tensor  # [n_nodes + 1] int64: node n's edges are child_ptr[n]:child_ptr[n + 1]
    edge_code: torch.Tensor  # [n_edges] int64: the code on each edge, ascending within a node
    edge_child: torch.Tensor  # [n_edges] int64: the node each edge leads to
    edge_key: torch.Tensor  # [n_edges] int64: parent * width + code, globally ascending
    node_item: torch.Tensor  # [n_nodes] int64: the item whose ID ends at this node, -1 for inner nodes
    vocab_sizes: list[int]  # codes per level
    width: int  # max(vocab_sizes): the row width of per-beam score tables

    @classmethod
    def from_semantic_ids(cls, ids: SemanticIds) -> Trie:
        """Build the trie of fixed- or variable-length IDs; IDs must be prefix-free (an ID ends at a leaf)."""
        codes, lengths = ids.codes, ids.codes.lengths
        if ids.n_items == 0 or (codes.values < 0).any():
            raise GenrecError("a trie needs at least one item and non-negative codes")
        n_items, depth = ids.n_items, int(lengths.max())
        padded = codes.to_padded(depth, pad=-1, align="left")
        # item_node[i, d] = node of item i's prefix of length d (d = 0 is the root), -1 past its end
        item_node = np.full((n_items, depth + 1), -1, dtype=np.int64)
        item_node[:, 0] = ROOT
        parents, child_codes, n_nodes = [], [], 1
        for d in range(1, depth + 1):
            rows = np.flatnonzero(lengths >= d)
            # a prefix is identified by (parent node, code): unique pairs in (parent, code) order
            pair = item_node[rows, d - 1] * (max(ids.vocab_sizes) + 1) + padded[rows, d - 1]
            unique, inverse = np.unique(pair, return_inverse=True)
            item_node[rows, d] = n_nodes + inverse
            parents.append(unique // (max(ids.vocab_sizes) + 1))
            child_codes.append(unique % (max(ids.vocab_sizes) + 1))
            n_nodes += len(unique)
        parent = np.concatenate(parents) if parents else np.zeros(0, np.int64)
        edge_code = np.concatenate(child_codes) if child_codes else np.zeros(0, np.int64)
        node_item = np.full(n_nodes, -1, dtype=np.int64)
        leaf = item_node[np.arange(n_items), lengths]
        node_item[leaf] = np.arange(n_items)
        counts = np.bincount(parent, minlength=n_nodes)
        inner_items = np.flatnonzero(counts[leaf] > 0)
        if len(inner_items):
            raise GenrecError(f"semantic IDs are not prefix-free: the ID of item {inner_items[0]} is a "
                              "prefix of another item's ID, so decoding could not tell where it ends")
        child_ptr = np.zeros(n_nodes + 1, dtype=np.int64)
        np.cumsum(counts, out=child_ptr[1:])
        width = max(ids.vocab_sizes)
        # breadth-first numbering makes edges (sorted by child) also sorted by (parent, code)
        return cls(*(torch.from_numpy(a) for a in (child_ptr, edge_code, np.arange(1, n_nodes),
                                                   parent * width + edge_code, node_item)),
                   vocab_sizes=list(ids.vocab_sizes), width=width)

    def to(self, device: torch.device | str) -> Trie:
        """The same trie with its tensors on ``device`` (beam search runs where the model runs)."""
        tensors = (self.child_ptr, self.edge_code, self.edge_child, self.edge_key, self.node_item)
        return Trie(*(t.to(device) for t in tensors), vocab_sizes=self.vocab_sizes, width=self.width)

    @property
    def n_nodes(self) -> int:
        return len(self.node_item)

    @property
    def max_depth(self) -> int:
        return len(self.vocab_sizes)

    def is_leaf(self, nodes: torch.Tensor) -> torch.Tensor:
        return self.node_item[nodes] >= 0

    def child(self, nodes: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """The node reached from ``nodes`` by ``codes`` (same shapes), -1 where there is no such edge."""
        key = nodes * self.width + codes
        index = torch.searchsorted(self.edge_key, key).clamp_max(max(len(self.edge_key) - 1, 0))
        found = (self.edge_key[index] == key) & (codes >= 0) & (codes < self.width)
        return torch.where(found, self.edge_child[index], torch.full_like(nodes, -1))

    def edges(self, nodes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """CSR expansion: for every child edge of every node, (position of the node, edge index)."""
        start, counts = self.child_ptr[nodes], self.child_ptr[nodes + 1] - self.child_ptr[nodes]
        rows = torch.repeat_interleave(torch.arange(len(nodes), device=nodes.device), counts)
        first = torch.cumsum(counts, 0) - counts
        return rows, start[rows] + torch.arange(len(rows), device=nodes.device) - first[rows]
