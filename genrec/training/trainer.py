"""The one training loop every trained model uses, so that resume and early stopping work the same everywhere.

A model supplies its module, a function from epoch to batches, a loss and a validation metric; the
trainer owns the optimiser (AdamW), the learning-rate schedule, gradient clipping, early stopping on
validation NDCG@10 (restoring the best weights at the end, or keeping the last: ``train.keep``), the
time limit and the checkpoint
``run_dir/checkpoints/last.pt``. The checkpoint is rewritten atomically after every epoch with
everything that decides what happens next (weights, optimiser, schedule, best state, RNG states), so
a killed run resumed from it ends with the same weights as one that was never interrupted. Started by
torchrun, it trains data-parallel (``genrec.training.distributed``).
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch

from genrec.config import validate as check_config
from genrec.errors import GenrecError
from genrec.io import atomic_write
from genrec.progress import progress_bar
from genrec.training import distributed
from genrec.training.config import TrainConfig

log = logging.getLogger("genrec")

CHECKPOINT = Path("checkpoints") / "last.pt"
METRIC = "valid_ndcg@10"


def lr_lambda(config: TrainConfig, total_steps: int) -> Callable[[int], float]:
    """Multiplier of ``config.lr`` at each optimiser step: linear warm-up, then the chosen decay."""
    warmup = int(config.warmup_ratio * total_steps)
    schedule = config.schedule
    if schedule not in ("cosine", "linear", "constant", "inverse-sqrt"):
        raise GenrecError(f"train.schedule: unknown schedule {schedule!r}")

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if schedule == "constant":
            return 1.0
        if schedule == "inverse-sqrt":
            return math.sqrt(max(warmup, 1) / (step + 1))
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress)) if schedule == "cosine" else 1.0 - progress

    return factor


def param_groups(module: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices only: decaying biases and LayerNorm gains only hurts."""
    params = [p for p in module.parameters() if p.requires_grad]
    return [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]


def make_optimizer(module: torch.nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW over ``param_groups``, fused into one kernel: on the CPU torch otherwise updates the tensors
    one at a time, about half as fast (``optimizer_ms`` of ``benchmarks/sasrec_speed.py``)."""
    return torch.optim.AdamW(param_groups(module, config.weight_decay), lr=config.lr, fused=True)


class Trainer:
    """Runs ``fit`` for one model; ``run_dir=None`` trains without checkpoints (tests, notebooks)."""

    def __init__(self, config: TrainConfig, run_dir: Path | None = None, resume: bool = True) -> None:
        self.config = config
        self.path = Path(run_dir) / CHECKPOINT if run_dir is not None else None
        self.resume = resume

    def fit(self, module: torch.nn.Module, batches: Callable[[int], Iterable[Any]],
            loss_fn: Callable[[Any], torch.Tensor], validate: Callable[[], float],
            steps_per_epoch: int) -> dict:
        """Train ``module`` in place; returns epochs run, best epoch and metric, why it stopped, history."""
        entered = time.perf_counter()
        config = self.config
        check_config(config, "train")  # a TrainConfig built in Python, as a model's own config is checked
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        world = distributed.world_size()
        if world > 1:
            distributed.broadcast_module(module)
            torch.manual_seed(config.seed + distributed.rank())  # each process its own dropout masks
        steps_per_epoch = max(1, steps_per_epoch // world)  # this process's share of the batches
        total_steps = max(1, config.epochs * steps_per_epoch)
        if config.max_steps > 0:
            total_steps = min(total_steps, config.max_steps)
        optimizer = make_optimizer(module, config)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(config, total_steps))
        state = {"epoch": 0, "best_metric": -math.inf, "best_epoch": None, "best_state": None,
                 "bad_evals": 0, "history": [], "elapsed": 0.0, "validation_seconds": 0.0,
                 "save_seconds": 0.0, "stopped": None}
        if self.resume and self.path is not None and self.path.is_file():
            state = self._load(module, optimizer, scheduler)
            log.info("resuming from %s after epoch %d", self.path, state["epoch"])
        resumed_seconds = state["elapsed"]  # trained by earlier processes
        if state["stopped"] is None:
            def clock() -> float:
                """Seconds against the time limit: the wall clock since this call, so that set-up and all
                between epochs count (the user waits for them), plus earlier processes' training."""
                return resumed_seconds + time.perf_counter() - entered

            self._loop(module, batches, loss_fn, validate, steps_per_epoch, optimizer, scheduler, state,
                       clock)
        kept = state["epoch"]
        if config.keep == "best" and state["best_state"] is not None:
            module.load_state_dict(state["best_state"])
            kept = state["best_epoch"]
        log.info("training stopped (%s) after %d epochs; best %s %.4f at epoch %s; kept epoch %s",
                 state["stopped"], state["epoch"], METRIC, state["best_metric"], state["best_epoch"], kept)
        return {"epochs": state["epoch"], "best_epoch": state["best_epoch"], "kept_epoch": kept,
                f"best_{METRIC}": None if state["best_epoch"] is None else state["best_metric"],
                "stopped": state["stopped"], "train_minutes": round(state["elapsed"] / 60, 3),
                "resumed_seconds": round(resumed_seconds, 3),
                "history": state["history"]}

    def _loop(self, module: torch.nn.Module, batches: Callable[[int], Iterable[Any]],
              loss_fn: Callable[[Any], torch.Tensor], validate: Callable[[], float], steps_per_epoch: int,
              optimizer: torch.optim.Optimizer, scheduler: Any, state: dict,
              clock: Callable[[], float]) -> None:
        config = self.config
        limit = config.max_minutes * 60 if config.max_minutes > 0 else math.inf

        def over_limit() -> bool:
            """True when the time so far plus a closing validation and checkpoint (each as long as the
            longest so far: they vary by a few seconds) would pass the time limit."""
            return clock() + state["validation_seconds"] + state["save_seconds"] > limit

        params = [p for p in module.parameters() if p.requires_grad]
        while state["stopped"] is None:
            epoch = state["epoch"]
            if epoch >= config.epochs:
                state["stopped"] = "epochs"
                break
            start = time.perf_counter()
            module.train()
            losses, out_of_time, out_of_steps = [], False, False
            bar = progress_bar(distributed.shard(batches(epoch), steps_per_epoch), total=steps_per_epoch,
                               desc=f"epoch {epoch + 1}/{config.epochs}",
                               disable=not (config.progress and distributed.is_main()), leave=False)
            for step, batch in enumerate(bar):
                loss = loss_fn(batch)
                if not torch.isfinite(loss):
                    raise GenrecError(f"training diverged: loss {loss.item()} at epoch {epoch + 1}, "
                                      f"step {step + 1}; lower train.lr or raise train.warmup_ratio")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                distributed.average_gradients(params)
                if config.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
                optimizer.step()
                scheduler.step()
                losses.append(loss.item())
                # refresh=False: the bar's own interval decides when to redraw (once a minute into a file)
                bar.set_postfix(loss=f"{losses[-1]:.4f}", best=f"{max(state['best_metric'], 0):.4f}",
                                refresh=False)
                if config.max_steps > 0 and scheduler.last_epoch >= config.max_steps:
                    out_of_steps = True
                    break
                if distributed.any_process(over_limit()):
                    out_of_time = True
                    break
            bar.close()
            state["epoch"] = epoch + 1
            mean_loss = distributed.mean_over_processes(float(np.mean(losses))) if losses else None
            entry: dict[str, Any] = {"epoch": epoch + 1, "loss": mean_loss}
            last = state["epoch"] >= config.epochs or out_of_time or out_of_steps
            if state["epoch"] % max(1, config.eval_every) == 0 or last:
                entry[METRIC] = self._validate(module, validate, state)
                if config.patience > 0 and state["bad_evals"] >= config.patience:
                    state["stopped"] = "patience"
            state["elapsed"] += time.perf_counter() - start
            entry["seconds"] = round(time.perf_counter() - start, 3)
            state["history"].append(entry)
            if distributed.any_process(over_limit()) and state["stopped"] is None:
                state["stopped"] = "time"
            elif out_of_steps and state["stopped"] is None:
                state["stopped"] = "steps"
            elif state["epoch"] >= config.epochs and state["stopped"] is None:
                state["stopped"] = "epochs"
            log.info("epoch %d: loss %s, %s %s, %.1f s", entry["epoch"],
                     "n/a" if entry["loss"] is None else f"{entry['loss']:.4f}", METRIC,
                     f"{entry[METRIC]:.4f}" if METRIC in entry else "-", entry["seconds"])
            start = time.perf_counter()
            self._save(module, optimizer, scheduler, state)
            saved_in = time.perf_counter() - start
            state["save_seconds"] = max(state["save_seconds"], saved_in)
            state["elapsed"] += saved_in

    def _validate(self, module: torch.nn.Module, validate: Callable[[], float], state: dict) -> float:
        module.eval()
        start = time.perf_counter()
        with torch.no_grad():  # process 0 validates; every process takes the same decision from it
            metric = distributed.from_main(float(validate()) if distributed.is_main() else None)
        state["validation_seconds"] = max(state["validation_seconds"], time.perf_counter() - start)
        module.train()
        if metric > state["best_metric"]:
            best = None if self.config.keep == "last" else {  # "last" never reads a copy
                k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
            state.update(best_metric=metric, best_epoch=state["epoch"], bad_evals=0, best_state=best)
        else:
            state["bad_evals"] += 1
        return metric

    def _save(self, module: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
              state: dict) -> None:
        if self.path is None:
            return
        rng = distributed.gather(_rng_states())  # every process's, so that each resumes its own
        if not distributed.is_main():
            return
        checkpoint = {
            "module": module.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "state": state, "config": asdict(self.config), "rng": rng,
        }
        atomic_write(self.path, lambda f: torch.save(checkpoint, f))

    def _load(self, module: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any) -> dict:
        try:
            checkpoint = torch.load(self.path, map_location="cpu", weights_only=False)
            module.load_state_dict(checkpoint["module"])
            optimizer.load_state_dict(checkpoint["optimizer"])
            scheduler.load_state_dict(checkpoint["scheduler"])
        except (RuntimeError, KeyError, ValueError, EOFError) as e:
            raise GenrecError(f"{self.path}: cannot resume from this checkpoint ({e}); "
                              "delete it to start again") from None
        if checkpoint.get("config") != asdict(self.config):
            log.warning("%s was written with a different training config; resuming anyway", self.path)
        rng = checkpoint["rng"]
        rng = [rng] if isinstance(rng, dict) else rng  # written by one process before data parallelism
        if len(rng) == distributed.world_size():
            _set_rng_states(rng[distributed.rank()])
        else:
            log.warning("%s was written by %d processes, not %d: random streams start afresh", self.path,
                        len(rng), distributed.world_size())
        # older checkpoints lack the longest validation and save
        return {"validation_seconds": 0.0, "save_seconds": 0.0, **checkpoint["state"]}


def _rng_states() -> dict:
    states = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
