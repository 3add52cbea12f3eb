"""Data-parallel training over ``torch.distributed``, for processes started by ``torchrun``:

    torchrun --standalone --nproc-per-node 2 --no-python genrec train --model tiger ...

Every process builds the same model and walks the same batches (they are seeded by the epoch).
Process ``rank`` trains batches ``rank``, ``rank + world``, ... and the gradients are averaged before
each optimiser step, so N processes take the steps of one process with N batches at a time:
``train.batch_size`` is per process, as in PyTorch's DDP. Process 0 validates, checkpoints and writes
the run; collective calls keep every decision (early stopping, the time limit) the same in every
process. gloo carries tensors on CPUs, NCCL tensors on GPUs (only the CPU path is tested here). In a
single process every function here is a no-op.

Gradients are averaged by hand (one flat all-reduce after ``backward``) rather than by wrapping the
module in ``DistributedDataParallel``, because the models call their networks' own methods (step
decoders, item encoders), which a DDP wrapper would hide.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


def setup() -> None:
    """Join the process group that torchrun describes in the environment (a no-op without one)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        if torch.cuda.is_available():  # each tensor's collective runs on its own device's backend
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
            dist.init_process_group("cpu:gloo,cuda:nccl")
        else:
            dist.init_process_group("gloo")


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def shard(batches: Iterable[T], steps: int) -> Iterator[T]:
    """This process's ``steps`` batches: ``rank``, ``rank + world``, ... (the same count everywhere,
    so that every all-reduce has a partner; the last ``len % world`` batches of an epoch are left out)."""
    return itertools.islice(batches, rank(), steps * world_size(), world_size())


def average_gradients(params: list[torch.Tensor]) -> None:
    """Average the gradients of ``params`` over the processes in one flat all-reduce. A parameter
    without a gradient here counts as zeros; one without a gradient anywhere keeps ``None`` (so the
    optimiser skips it, as it would in one process)."""
    if world_size() == 1:
        return
    parts = [p.grad.reshape(-1) if p.grad is not None else torch.zeros(p.numel(), dtype=p.dtype,
                                                                        device=p.device) for p in params]
    has_grad = torch.tensor([p.grad is not None for p in params], dtype=parts[0].dtype,
                            device=parts[0].device)
    flat = torch.cat([*parts, has_grad])
    dist.all_reduce(flat)
    flat /= world_size()
    *grads, used = flat.split([p.numel() for p in params] + [len(params)])
    for p, grad, keep in zip(params, grads, (used > 0).tolist()):
        p.grad = grad.view_as(p) if keep else None


def any_process(flag: bool) -> bool:
    """True in every process when ``flag`` is true in any of them."""
    if world_size() == 1:
        return flag
    value = torch.tensor([float(flag)])
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def mean_over_processes(value: float) -> float:
    if world_size() == 1:
        return value
    total = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(total)
    return float(total.item()) / world_size()


def from_main(value: Any) -> Any:
    """Process 0's ``value``, in every process."""
    if world_size() == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(value: Any) -> list[Any]:
    """Every process's ``value``, in rank order, in every process."""
    if world_size() == 1:
        return [value]
    values: list[Any] = [None] * world_size()
    dist.all_gather_object(values, value)
    return values


def broadcast_module(module: torch.nn.Module) -> None:
    """Process 0's weights and buffers in every process, so that all start from the same state."""
    if world_size() == 1:
        return
    for tensor in module.state_dict().values():
        dist.broadcast(tensor, src=0)


@contextmanager
def main_first() -> Iterator[None]:
    """Process 0 runs the block first (it builds and writes an artefact, e.g. semantic IDs); the
    others run it after, when they can read what it wrote."""
    if world_size() > 1 and not is_main():
        dist.barrier()
    yield
    if world_size() > 1 and is_main():
        dist.barrier()
