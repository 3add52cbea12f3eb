"""RQ-VAE (TIGER): an MLP autoencoder whose latent is quantised by L residual codebooks.

Unlike RQ-KMeans, the latent space is learned jointly with the codebooks, so the codes keep what
the decoder needs to rebuild the item embedding. Three known failure modes are handled here:
codebooks start from k-means on the first batch's residuals (random codebooks leave most codes
unused), codes that no item picked during an epoch are reset to random current residuals (codebook
collapse), and the input is centred and scaled by one global factor to unit variance, so that the
losses do not start tiny (sentence embeddings have entries of about 0.05) while distances keep their
shape.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from genrec.errors import GenrecError
from genrec.progress import progress_bar
from genrec.semantic_ids.base import Tokenizer, TokenizerOutput
from genrec.semantic_ids.kmeans import kmeans

log = logging.getLogger("genrec")


@dataclass
class RQVAEConfig:
    levels: int = 3
    codebook_size: int = 256
    latent_dim: int = 32
    hidden_dims: list[int] = field(default_factory=lambda: [512, 256, 128])  # TIGER's encoder
    epochs: int = 50  # TIGER trains 20k epochs on GPU; 50 keep Beauty (12k items) within minutes on a CPU
    batch_size: int = 1024
    lr: float = 2e-3  # AdamW; in 50 epochs on Beauty, fewer collisions and lower error than 1e-3
    weight_decay: float = 1e-4
    beta: float = 0.25  # commitment weight, as in TIGER and VQ-VAE
    kmeans_iters: int = 25
    reset_dead_codes: bool = True
    seed: int = 0


def _mlp(dims: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class ResidualVAE(nn.Module):
    """Encoder, L residual codebooks [L, K, d] and mirrored decoder."""

    def __init__(self, input_dim: int, config: RQVAEConfig) -> None:
        super().__init__()
        dims = [input_dim, *config.hidden_dims, config.latent_dim]
        self.encoder = _mlp(dims)
        self.decoder = _mlp(dims[::-1])
        self.codebooks = nn.Parameter(torch.zeros(config.levels, config.codebook_size, config.latent_dim))
        self.beta = config.beta

    def quantise(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list]:
        """Residual quantisation: ``(z_q, codes [n, L], codebook + commitment loss, residual per level)``.

        Each level's residual is taken against the detached code vector, so every level's commitment
        term pulls the encoder output while each codebook only moves towards its own residuals.
        """
        residual, quantised = z, torch.zeros_like(z)
        codes, residuals = [], []
        loss = z.new_zeros(())
        for codebook in self.codebooks:
            residuals.append(residual.detach())
            index = torch.cdist(residual.detach(), codebook.detach()).argmin(1)
            chosen = codebook[index]
            codebook_loss = ((chosen - residual.detach()) ** 2).mean()
            loss = loss + codebook_loss + self.beta * ((residual - chosen.detach()) ** 2).mean()
            quantised = quantised + chosen
            residual = residual - chosen.detach()
            codes.append(index)
        return quantised, torch.stack(codes, 1), loss, residuals

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, list]:
        """``(reconstruction, codes, reconstruction loss, quantisation loss, residuals per level)``."""
        z = self.encoder(x)
        z_q, codes, quant_loss, residuals = self.quantise(z)
        z_st = z + (z_q - z).detach()  # straight-through: decoder gradients flow to the encoder
        x_hat = self.decoder(z_st)
        return x_hat, codes, ((x_hat - x) ** 2).mean(), quant_loss, residuals


class RQVAE(Tokenizer):
    """TIGER's RQ-VAE tokenizer: ``levels`` codes of ``codebook_size`` per item (may collide)."""

    name = "rq-vae"
    Config = RQVAEConfig

    def fit(self, embeddings: np.ndarray, texts: list[str]) -> TokenizerOutput:
        cfg: RQVAEConfig = self.config
        x_raw = _checked(embeddings, cfg)
        start = time.perf_counter()
        torch.manual_seed(cfg.seed)
        generator = torch.Generator().manual_seed(cfg.seed)
        mean, scale = x_raw.mean(0), x_raw.std().clamp_min(1e-12)
        x = (x_raw - mean) / scale
        model = ResidualVAE(x.shape[1], cfg)
        first = torch.randperm(len(x), generator=generator)[: max(cfg.batch_size, cfg.codebook_size)]
        self._init_codebooks(model, x[first])
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        history, resets = [], 0
        bar = progress_bar(range(cfg.epochs), desc="rq-vae", disable=None, leave=False)
        for epoch in bar:
            record, counts, residuals = self._epoch(model, optimizer, x, generator)
            history.append({"epoch": epoch + 1, **record, "codes_used": (counts > 0).sum(1).tolist()})
            if cfg.reset_dead_codes and epoch < cfg.epochs - 1:
                resets += self._reset_dead(model, optimizer, counts == 0, residuals, generator)
            bar.set_postfix(loss=f"{record['loss']:.4f}", used=history[-1]["codes_used"][0])
        log.info("rq-vae: %d epochs, loss %.4f -> %.4f, codes used %s", cfg.epochs, history[0]["loss"],
                 history[-1]["loss"], history[-1]["codes_used"])
        codes, stats = _encode_all(model, x, x_raw, mean, scale, cfg)
        stats.update(seconds=time.perf_counter() - start, dead_code_resets=resets,
                     history=history[:: max(1, len(history) // 50)] + history[-1:])
        return TokenizerOutput(codes.numpy(), [cfg.codebook_size] * cfg.levels, None, stats)

    def _epoch(self, model: ResidualVAE, optimizer: torch.optim.Optimizer, x: torch.Tensor,
               generator: torch.Generator) -> tuple[dict, torch.Tensor, list[torch.Tensor]]:
        """One pass over shuffled batches: mean losses, code counts [L, K], the last batch's residuals."""
        cfg: RQVAEConfig = self.config
        model.train()
        offsets = torch.arange(cfg.levels) * cfg.codebook_size  # level l's code c counts at l * K + c
        counts = torch.zeros(cfg.levels * cfg.codebook_size, dtype=torch.long)
        totals = torch.zeros(3)
        for batch in torch.randperm(len(x), generator=generator).split(cfg.batch_size):
            _, codes, recon, quant, residuals = model(x[batch])
            loss = recon + quant
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            counts += torch.bincount((codes + offsets).reshape(-1), minlength=len(counts))
            totals += torch.stack([loss, recon, quant]).detach() * len(batch)
        loss, recon, quant = (totals / len(x)).tolist()
        record = {"loss": loss, "reconstruction": recon, "quantisation": quant}
        return record, counts.view(cfg.levels, -1), residuals

    @torch.no_grad()
    def _init_codebooks(self, model: ResidualVAE, x: torch.Tensor) -> None:
        """k-means on the residuals of one batch, level by level, through the untrained encoder."""
        residual = model.encoder(x)
        for level in range(self.config.levels):
            centroids, assign = kmeans(residual, self.config.codebook_size, self.config.kmeans_iters,
                                       seed=self.config.seed + level)
            model.codebooks[level] = centroids
            residual = residual - centroids[assign]

    @torch.no_grad()
    def _reset_dead(self, model: ResidualVAE, optimizer: torch.optim.Optimizer, dead: torch.Tensor,
                    residuals: list[torch.Tensor], generator: torch.Generator) -> int:
        """Move codes no item used this epoch onto random residuals of the last batch."""
        state = optimizer.state[model.codebooks]
        for level in range(self.config.levels):
            index = dead[level].nonzero().squeeze(1)
            if len(index):
                pool = residuals[level]
                pick = torch.randint(len(pool), (len(index),), generator=generator)
                model.codebooks[level, index] = pool[pick]
                for moment in ("exp_avg", "exp_avg_sq"):  # forget the old code's optimiser history
                    state[moment][level, index] = 0
        return int(dead.sum())


def _checked(embeddings: np.ndarray, cfg: RQVAEConfig) -> torch.Tensor:
    """The embeddings as a float tensor, or a clear error for empty, NaN or too few items, or a bad option."""
    for option in ("levels", "codebook_size", "latent_dim", "epochs", "batch_size"):
        if getattr(cfg, option) < 1:
            raise GenrecError(f"rq-vae: {option} must be at least 1, got {getattr(cfg, option)}")
    codebook_size = cfg.codebook_size
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise GenrecError(f"rq-vae needs a non-empty [n_items, dim] embedding matrix, got shape {x.shape}")
    if not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x).all(1))[0])
        raise GenrecError(f"rq-vae: the embedding of item {bad} has NaN or infinite values")
    if codebook_size > len(x):
        raise GenrecError(f"rq-vae: codebook_size {codebook_size} is larger than the number of items "
                          f"{len(x)}; choose a smaller codebook_size")
    return torch.from_numpy(x)


@torch.no_grad()
def _encode_all(model: ResidualVAE, x: torch.Tensor, x_raw: torch.Tensor, mean: torch.Tensor,
                scale: torch.Tensor, cfg: RQVAEConfig) -> tuple[torch.Tensor, dict]:
    """Codes of every item, and the quality figures of the trained quantiser."""
    model.eval()
    z = model.encoder(x)
    z_q, codes_t, _, _ = model.quantise(z)
    x_hat = model.decoder(z_q) * scale + mean
    counts = torch.nn.functional.one_hot(codes_t, cfg.codebook_size).sum(0).double()
    p = counts / counts.sum(1, keepdim=True)
    entropy = -(p * p.clamp_min(1e-30).log()).sum(1)
    mse = float(((x_hat - x_raw) ** 2).sum(1).mean())  # squared L2 error per item, as in rq-kmeans and pq
    stats = {
        "reconstruction_mse": mse,
        "reconstruction_error": mse / max(float((x_raw**2).sum(1).mean()), 1e-12),
        "unexplained_variance": float(((x_hat - x_raw) ** 2).sum() / ((x_raw - mean) ** 2).sum()),
        "relative_quantisation_error": float(((z - z_q) ** 2).sum() / ((z - z.mean(0)) ** 2).sum()),  # latent
        "codes_used": (counts > 0).sum(1).tolist(),
        "level0_codes_used": float((counts[0] > 0).float().mean()),
        "perplexity": entropy.exp().tolist(),
    }
    return codes_t, stats
