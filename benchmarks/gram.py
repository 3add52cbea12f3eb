"""GRAM on the Amazon benchmarks: full runs with every ablation of the paper's Table 3, and CPU throughput.

    OMP_NUM_THREADS=1 python benchmarks/gram.py train --dataset amazon2014/beauty [--variant without-linking]
        [--config configs/gram-cpu.yaml] [--label cache_items=true] [--set cache_items=true ...]
        [--run-dir runs/gram-beauty] [--resume]
    OMP_NUM_THREADS=1 python benchmarks/gram.py throughput --dataset amazon2014/beauty [--batches 8]
        [--label cpu-small] [--set ids_dir=... cf_run=... max_items=10 ...]
    OMP_NUM_THREADS=1 python benchmarks/gram.py inputs --run-dir runs/gram-beauty [--label cache_items=true]
        [--item-tokens 24 48 64]
    OMP_NUM_THREADS=1 python benchmarks/gram.py decoding --run-dir runs/gram-beauty [--users 1024] [--label x]

``train`` runs ``genrec train --model gram`` (through ``genrec.runs.train_run``, so runs checkpoint
and resume; a finished run directory is recorded again) and writes one record per split, model
``gram``, variant ``""`` or ``without-<part>``, followed by ``--label`` (which names a run's non-default
settings, e.g. ``cache_items=true``).
``throughput`` trains the same model for a few batches three ways in one process, so the figures are
comparable: every item prompt encoded (no de-duplication), each distinct item of a batch encoded once,
and item encodings cached by a frozen encoder snapshot (not with ``item_encoder=words``, which trains).
It records training samples per second of each (model ``training:gram``), plus the seconds one cache
refresh takes, on ``train.threads`` threads (one when unset).
``decoding`` times the trie beam search of a finished run on a fixed sample of test users (top-10,
the run's beam size) and records users per second (model ``decoding:gram``).
``inputs`` asks which granularity a trained run relies on: it decodes the run's validation sample
(the users its early stopping used) as trained, then with the item prompts and with the user prompt
left out at inference, and records the three NDCG@10 and Recall@10 side by side (model
``inputs:gram``). Unlike the Table 3 ablations, nothing is retrained: a large drop means the trained
decoder reads that input. ``--item-tokens 24 48`` adds decodings with every item prompt cut to its
first N tokens (ID and neighbours' IDs come first, then the text fields): how far into the item text
the decoder reads. A cached encoder saw whole prompts, so the kept tokens' states still carry some of
the cut text; the cut bounds what cross-attention reads, not what the states contain. The word reader
has no encoder layers, so there the cut is exact.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from run_records import finished_or_trained, keep_ranks

from genrec.config import from_dict
from genrec.data import leave_one_out, load_dataset
from genrec.data.dataset import SequenceDataset
from genrec.evaluation.protocol import evaluate
from genrec.evaluation.records import write_record
from genrec.models.gram import Gram, GramConfig
from genrec.models.gram.prompts import newest_first
from genrec.models.gram.recommender import sample_batch, training_batches
from genrec.runs import RunConfig, load_run, resolve_config
from genrec.training.trainer import make_optimizer

ABLATIONS = {
    "": [],
    "without-hierarchy": ["hierarchy=false"],
    "without-collaborative": ["collaborative=false"],
    "without-user-prompt": ["user_prompt=false"],
    "without-item-prompts": ["item_prompts=false"],
    "without-linking": ["linking=false"],
    "without-position": ["position=false"],
    "backbone-minilm": ["backbone=minilm", "cache_items=true"],
    "item-encoder-minilm": ["item_encoder=minilm"],
}


def train(args: argparse.Namespace) -> None:
    config = resolve_config("gram", args.dataset, ABLATIONS[args.variant] + args.set, args.config)
    run_dir = Path(args.run_dir) if args.run_dir else None
    metrics = finished_or_trained(config, run_dir, resume=args.resume)
    summary = metrics["train"]
    variant = ",".join(part for part in (args.variant, args.label) if part)
    for split in ("valid", "test"):
        path = write_record(args.dataset, "gram", variant, split, metrics[split]["metrics"],
                            train_seconds=summary.get("train_seconds"),
                            eval_seconds=metrics[split]["eval_seconds"],
                            extra={"config": args.config, "overrides": ABLATIONS[args.variant] + args.set,
                                   "best_epoch": summary.get("best_epoch"),
                                   "kept_epoch": summary.get("kept_epoch"), "epochs": summary.get("epochs"),
                                   "stopped": summary.get("stopped"),
                                   "train_samples": summary.get("train_samples"),
                                   "parameters": summary.get("parameters"),
                                   "frozen_parameters": summary.get("frozen_parameters")})
        print(f"{split}: {metrics[split]['metrics']} -> {path}")
        if split == "test":
            keep_ranks(run_dir, path)


def samples_per_second(model: Gram, batches: list, dedup: bool) -> float:
    """Training samples per second over ``batches`` (forward, backward and an optimiser step)."""
    optimizer = make_optimizer(model.net, model.config.train)  # the trainer's
    model.net.train()
    model.loss(*batches[0], dedup=dedup).backward()  # warm-up, not timed
    synchronize(model.device)
    start = time.perf_counter()
    for histories, targets in batches:
        optimizer.zero_grad(set_to_none=True)
        model.loss(histories, targets, dedup=dedup).backward()
        optimizer.step()
    synchronize(model.device)  # a GPU runs behind the Python loop: time the work, not the queueing
    return sum(len(t) for _, t in batches) / (time.perf_counter() - start)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def throughput(args: argparse.Namespace) -> None:
    dataset = load_dataset(args.dataset)
    splits = leave_one_out(dataset)
    params = resolve_config("gram", args.dataset, args.set, args.config).params
    config = from_dict(GramConfig, params, "gram config")
    torch.set_num_threads(config.train.threads or 1)
    model = Gram(config, dataset)
    model.config.train.epochs = 0  # build IDs, neighbours, vocabulary and network only
    model.fit(dataset, splits, args.run_dir)
    users, ends = splits.train.prefix_samples()
    size = config.train.batch_size
    chosen = training_batches(users, ends, config, config.train.seed)[: args.batches]
    batches = [sample_batch(splits.train, users[rows], ends[rows], config.max_items) for rows in chosen]
    model.cache = None
    metrics = {"samples_per_second_all_items": samples_per_second(model, batches, dedup=False),
               "samples_per_second_dedup": samples_per_second(model, batches, dedup=True)}
    if config.item_encoder != "words":  # the word reader trains, so its encodings are never cached
        start = time.perf_counter()
        model.refresh_cache()
        synchronize(model.device)
        metrics["cache_refresh_seconds"] = time.perf_counter() - start
        metrics["samples_per_second_cached"] = samples_per_second(model, batches, dedup=True)
    slots = [len(newest_first(h, config.max_items).values) for h, _ in batches]
    distinct = np.mean([len(model.prompt_batch(h, dedup=True).items) / s
                        for (h, _), s in zip(batches, slots)])
    metrics["distinct_item_prompt_fraction"] = float(distinct)
    path = write_record(args.dataset, "training:gram", args.label, "train", metrics,
                        extra={"config": args.config, "overrides": args.set, "batches": len(batches),
                               "batch_size": size, "threads": torch.get_num_threads(),
                               "max_items": config.max_items,
                               "item_prompt_len": config.item_prompt_len, "backbone": config.backbone})
    print(" ".join(f"{k}={v:.3f}" for k, v in metrics.items()), "->", path)


def finished_run(args: argparse.Namespace) -> tuple[Gram, SequenceDataset, RunConfig]:
    """The model, dataset and config of the finished GRAM run that ``--run-dir`` names."""
    if not args.run_dir:
        raise SystemExit(f"{args.mode}: --run-dir names a finished GRAM run")
    return load_run(args.run_dir)


@contextmanager
def item_prompts_cut(model: Gram, tokens: int) -> Iterator[None]:
    """Every item prompt cut to its first ``tokens`` tokens while the block runs. A cached encoder's
    states were encoded from whole prompts, so only what the decoder reads is cut; an uncached reader
    (``item_encoder=words``) reads the cut prompts afresh."""
    owner, name = (model.cache, "mask") if model.cached else (model, "item_lengths")  # cache: built before
    full = getattr(owner, name)
    cut = full & (torch.arange(full.shape[1]) < tokens) if model.cached else full.clamp(max=tokens)
    setattr(owner, name, cut)
    try:
        yield
    finally:
        setattr(owner, name, full)


def inputs(args: argparse.Namespace) -> None:
    model, dataset, config = finished_run(args)
    trained = model.config
    valid = leave_one_out(dataset).valid.sample(trained.valid_users, trained.train.seed)
    metrics = {}
    for name, switch in [("as_trained", {}), ("no_item_prompts", {"item_prompts": False}),
                         ("no_user_prompt", {"user_prompt": False})]:
        if switch and not all(getattr(trained, k) for k in switch):
            continue  # the run never had that input
        model.config = replace(trained, **switch)
        if not (model.config.item_prompts or model.config.user_prompt):
            continue  # it was the run's only input
        result = evaluate(model, valid, "valid", ks=(10,), batch_size=trained.train.eval_batch_size,
                          progress=False).metrics
        metrics.update({f"ndcg@10_{name}": result["ndcg@10"], f"recall@10_{name}": result["recall@10"]})
        print(name, f"ndcg@10={result['ndcg@10']:.4f} recall@10={result['recall@10']:.4f}", flush=True)
    model.config = trained
    for tokens in args.item_tokens:
        with item_prompts_cut(model, tokens):
            result = evaluate(model, valid, "valid", ks=(10,), batch_size=trained.train.eval_batch_size,
                              progress=False).metrics
        for name in ("ndcg@10", "recall@10"):
            metrics[f"{name}_item_prompt_tokens_{tokens}"] = result[name]
        print(f"item prompts cut to {tokens} tokens: ndcg@10={result['ndcg@10']:.4f}", flush=True)
    path = write_record(config.dataset, "inputs:gram", args.label, "valid", metrics,
                        extra={"run_dir": str(args.run_dir), "users": len(valid)})
    print("->", path)


def decoding(args: argparse.Namespace) -> None:
    model, dataset, config = finished_run(args)
    test = leave_one_out(dataset).test.sample(args.users, 0)
    k = 10
    start = time.perf_counter()
    model.recommend(test.histories, k)
    seconds = time.perf_counter() - start
    metrics = {"users_per_second": len(test) / seconds, "seconds": seconds}
    path = write_record(config.dataset, "decoding:gram", args.label, "test", metrics,
                        extra={"run_dir": str(args.run_dir), "users": len(test), "k": k,
                               "beam_size": model.config.beam_size, "threads": torch.get_num_threads()})
    print(f"{len(test)} users in {seconds:.1f} s ->", path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["train", "throughput", "inputs", "decoding"])
    parser.add_argument("--dataset", default="amazon2014/beauty")
    parser.add_argument("--variant", default="", choices=list(ABLATIONS))
    parser.add_argument("--config", default=None,
                        help="a YAML recipe (configs/gram-cpu.yaml); --set applies after it")
    parser.add_argument("--set", nargs="*", default=[], help="gram config overrides, key=value")
    parser.add_argument("--run-dir", default=None)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--users", type=int, default=1024, help="test users decoded (decoding)")
    parser.add_argument("--item-tokens", type=int, nargs="*", default=[],
                        help="inputs: also decode with every item prompt cut to its first N tokens")
    parser.add_argument("--label", default="", help="names the record's settings: appended to the variant "
                        "of a train record, the variant of a throughput record (e.g. cpu-small)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    {"train": train, "throughput": throughput, "inputs": inputs, "decoding": decoding}[args.mode](args)


if __name__ == "__main__":
    main()
