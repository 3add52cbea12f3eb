"""RQ-VAE (TIGER) on a real Beauty slice: it learns, uses its codebooks, and is repeatable."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrec.data.text import item_texts
from genrec.errors import GenrecError
from genrec.semantic_ids.build import tokenize_embeddings
from genrec.semantic_ids.hierarchical import term_matrix
from genrec.semantic_ids.rq_vae import RQVAE, ResidualVAE, RQVAEConfig

N_ITEMS = 2000
SMALL = dict(levels=3, codebook_size=32, latent_dim=8, hidden_dims=[64, 32], epochs=20, batch_size=256,
             lr=3e-3, seed=1)


@pytest.fixture(scope="module")
def beauty_slice(beauty):
    """Texts of the first items and cheap deterministic embeddings: their words, randomly projected."""
    texts = item_texts(beauty)[:N_ITEMS]
    terms, _ = term_matrix(texts)
    emb = np.asarray(terms @ np.random.default_rng(0).standard_normal((terms.shape[1], 48)), dtype=np.float32)
    return emb / np.linalg.norm(emb, axis=1, keepdims=True).clip(1e-6), texts


@pytest.fixture(scope="module")
def fitted(beauty_slice):
    emb, texts = beauty_slice
    return RQVAE(RQVAEConfig(**SMALL)).fit(emb, texts)


def test_training_lowers_the_loss_and_uses_the_codebooks(fitted):
    history = fitted.stats["history"]
    assert history[-1]["loss"] < 0.8 * history[0]["loss"]
    assert fitted.stats["unexplained_variance"] < 1.0 and fitted.stats["reconstruction_error"] < 1.0
    assert fitted.stats["level0_codes_used"] >= 0.9
    assert all(used >= 0.9 * 32 for used in fitted.stats["codes_used"])
    assert fitted.codes.shape == (N_ITEMS, 3) and fitted.codes.max() < 32 and fitted.vocab_sizes == [32] * 3


def test_unique_ids_after_disambiguation_and_deterministic_under_seed(beauty_slice, fitted):
    emb, texts = beauty_slice
    ids = tokenize_embeddings(emb, texts, "rq-vae", SMALL)  # trains again with the same seed
    assert ids.n_items == N_ITEMS and ids.item_of(ids.codes[7]) == 7
    assert np.array_equal(ids.as_array()[:, :3], fitted.codes)
    assert ids.stats["reconstruction_error"] == fitted.stats["reconstruction_error"]
    assert ids.stats["collision_rate"] < 0.2


def test_dead_codes_move_onto_current_residuals():
    torch.manual_seed(0)
    cfg = RQVAEConfig(levels=2, codebook_size=4, latent_dim=3, hidden_dims=[5])
    model = ResidualVAE(6, cfg)
    optimizer = torch.optim.AdamW(model.parameters())
    _, _, recon, quant, residuals = model(torch.randn(10, 6))
    (recon + quant).backward()
    optimizer.step()
    before = model.codebooks.detach().clone()
    dead = torch.tensor([[True, False, False, True], [False, False, False, False]])
    assert RQVAE(cfg)._reset_dead(model, optimizer, dead, residuals, torch.Generator().manual_seed(0)) == 2
    after = model.codebooks.detach()
    assert torch.equal(after[~dead], before[~dead])
    for code in after[0, [0, 3]]:  # each reset code is now one of the level's residuals
        assert (residuals[0] == code).all(1).any()
    assert (optimizer.state[model.codebooks]["exp_avg"][dead] == 0).all()


def test_bad_input_is_named():
    emb = np.zeros((40, 4), np.float32)
    emb[5, 2] = np.inf
    with pytest.raises(GenrecError, match="item 5"):
        RQVAE(RQVAEConfig(codebook_size=8)).fit(emb, [""] * 40)
    with pytest.raises(GenrecError, match="codebook_size 64"):
        RQVAE(RQVAEConfig(codebook_size=64)).fit(np.ones((40, 4), np.float32), [""] * 40)
    with pytest.raises(GenrecError, match="epochs must be at least 1"):
        RQVAE(RQVAEConfig(codebook_size=8, epochs=0)).fit(np.ones((40, 4), np.float32), [""] * 40)
