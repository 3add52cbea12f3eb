import torch

from genrec.semantic_ids.kmeans import kmeans, nearest


def _inertia(x, centroids):
    return float(nearest(x, centroids)[1].sum())


def test_lloyd_iterates_until_converged_and_improves_on_one_step():
    x = torch.randn(3000, 16, generator=torch.Generator().manual_seed(0))
    one_step, _ = kmeans(x, 32, iters=1, seed=0)
    converged, assign = kmeans(x, 32, iters=50, seed=0, tol=0.0)
    assert _inertia(x, converged) < 0.97 * _inertia(x, one_step)
    assert torch.bincount(assign, minlength=32).min() > 0  # every code used


def test_recovers_well_separated_clusters():
    g = torch.Generator().manual_seed(1)
    centres = torch.randn(8, 4, generator=g) * 20
    x = (centres[:, None, :] + torch.randn(8, 200, 4, generator=g)).reshape(-1, 4)
    _, assign = kmeans(x, 8, seed=3)
    truth = torch.arange(8).repeat_interleave(200)
    pairs = set(zip(truth.tolist(), assign.tolist()))
    assert len(pairs) == 8  # one cluster per true group, no group split
