"""Batched k-means in torch: the workhorse of RQ-KMeans, OPQ, hierarchical IDs and RQ-VAE's init.

Distances are computed a chunk of points at a time as ``|x|^2 - 2 x.c + |c|^2`` (one matmul), so
a million 384-d vectors fit in a few hundred MiB. Initialisation is k-means++ on a sample.
"""

from __future__ import annotations

import torch

_CHUNK = 65536


def nearest(x: torch.Tensor, centroids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of the nearest centroid for every row of ``x`` and the squared distance to it."""
    c_sq = (centroids * centroids).sum(1)
    index = torch.empty(len(x), dtype=torch.long)
    dist = torch.empty(len(x), dtype=x.dtype)
    for lo in range(0, len(x), _CHUNK):
        chunk = x[lo : lo + _CHUNK]
        d = torch.addmm(c_sq, chunk, centroids.T, alpha=-2.0)  # |c|^2 - 2 x.c
        best, idx = d.min(1)
        index[lo : lo + _CHUNK] = idx
        dist[lo : lo + _CHUNK] = (best + (chunk * chunk).sum(1)).clamp_min_(0)
    return index, dist


def kmeans_plus_plus(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """k-means++ seeding: each new centre drawn with probability proportional to squared distance.

    Distances to a new centre are one matrix-vector product, and the draw is a binary search in the
    cumulative distances: no ``[n, d]`` temporary and no ``multinomial`` per centre.
    """
    centroids = torch.empty(k, x.shape[1], dtype=x.dtype)
    x_sq = (x * x).sum(1)
    centroids[0] = x[torch.randint(len(x), (1,), generator=generator)]
    closest = (x_sq - 2 * (x @ centroids[0]) + centroids[0] @ centroids[0]).clamp_min_(0)
    for i in range(1, k):
        cumulative = closest.cumsum(0)
        total = cumulative[-1]
        if total <= 0:  # fewer distinct points than centres: repeat one
            centroids[i:] = centroids[0]
            break
        pick = torch.searchsorted(cumulative, torch.rand(1, generator=generator, dtype=x.dtype) * total)
        centroids[i] = x[pick.clamp_max_(len(x) - 1)]
        distance = (x_sq - 2 * (x @ centroids[i]) + centroids[i] @ centroids[i]).clamp_min_(0)
        closest = torch.minimum(closest, distance)
    return centroids


def kmeans(
    x: torch.Tensor, k: int, iters: int = 25, seed: int = 0, init_sample: int = 50_000, tol: float = 1e-4
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's algorithm. Returns ``(centroids [k, d], assignment [n])``.

    Empty clusters are re-seeded with the points farthest from their centres, so every code is used
    whenever there are at least ``k`` distinct points.
    """
    if k > len(x):
        raise ValueError(f"cannot make {k} clusters from {len(x)} points")
    x = x.float()
    generator = torch.Generator().manual_seed(seed)
    sample = x[torch.randperm(len(x), generator=generator)[:init_sample]] if len(x) > init_sample else x
    centroids = kmeans_plus_plus(sample, k, generator)
    previous: float | None = None
    for _ in range(iters):
        assign, dist = nearest(x, centroids)
        counts = torch.bincount(assign, minlength=k)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        empty = counts == 0
        centroids = torch.where(empty[:, None], centroids, sums / counts.clamp_min(1)[:, None].to(x.dtype))
        if empty.any():
            far = torch.topk(dist, int(empty.sum())).indices
            centroids[empty] = x[far]
        inertia = float(dist.sum())
        if not empty.any() and previous is not None and previous - inertia <= tol * previous:
            break
        previous = inertia
    assign, _ = nearest(x, centroids)
    return centroids, assign
