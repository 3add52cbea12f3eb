"""TIGER on an Amazon 2014 category with one semantic-ID tokenizer: train, evaluate, record.

    OMP_NUM_THREADS=1 python benchmarks/tiger.py --dataset amazon2014/beauty --tokenizer rq-kmeans \
        --run-dir runs/tiger-beauty-rq-kmeans

Trains through ``genrec.runs.train_run`` (the trainer checkpoints every epoch; running the same
command again resumes an unfinished run directory, or re-records a finished one), evaluates the
whole catalogue on validation and test, and writes one record per split: model ``tiger``, variant
``tokenizer=<method>`` (the decoder-only architecture: ``decoder-only``, plus
``,tokenizer=<method>`` for a non-default tokenizer), then any ``tokenizer_params`` overrides
(``,subspaces=3``), then the network sizes that differ from the paper's (``,layers=2``), then the
decoder-only options that are on (``,item_content``,
``,id_alignment_items=16``), then ``--label`` (a training recipe the variant does not show, such as
``train.epochs=16``: without it a record replaces the one of the same variant). ``--set key=value``
overrides any TigerConfig field, e.g. ``--set train.max_minutes=90``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from run_records import finished_or_trained, keep_ranks

from genrec.evaluation.records import RESULTS_DIR, write_record
from genrec.models.tiger import TigerConfig
from genrec.runs import resolve_config

DEFAULT_TOKENIZER = "rq-kmeans"
SIZES = ("layers", "d_model", "heads", "d_kv", "d_ff")
PAPER_SIZE = TigerConfig()  # the defaults are the paper's sizes


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="amazon2014/beauty", help="amazon2014/beauty, /toys or /sports")
    parser.add_argument("--tokenizer", default=DEFAULT_TOKENIZER)
    parser.add_argument("--architecture", default="encoder-decoder",
                        choices=["encoder-decoder", "decoder-only"])
    parser.add_argument("--run-dir", required=True, help="resumed when it holds an unfinished run")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="TigerConfig override")
    parser.add_argument("--label", default="", help="appended to the variant, e.g. train.epochs=16")
    parser.add_argument("--results-dir", default=RESULTS_DIR, help="where the records go")
    return parser.parse_args()


def variant(params: dict) -> str:
    """``tokenizer=<method>`` or ``decoder-only[,tokenizer=<method>]``, then any tokenizer overrides,
    then the network's sizes that differ from the paper's, then the item-content options that are on."""
    architecture, tokenizer = params["architecture"], params["tokenizer"]
    tokenizer_params = params.get("tokenizer_params") or {}
    parts = [f"tokenizer={tokenizer}"] if architecture == "encoder-decoder" else ["decoder-only"]
    if architecture != "encoder-decoder" and (tokenizer != DEFAULT_TOKENIZER or tokenizer_params):
        parts.append(f"tokenizer={tokenizer}")
    parts += [f"{k}={v}" for k, v in sorted(tokenizer_params.items())]
    parts += [f"{k}={params[k]}" for k in SIZES if k in params and params[k] != getattr(PAPER_SIZE, k)]
    if params.get("item_content"):
        parts.append("item_content")
    if params.get("id_alignment_items"):
        parts.append(f"id_alignment_items={params['id_alignment_items']}")
        if params.get("id_alignment_weight", 1.0) != 1.0:
            parts.append(f"id_alignment_weight={params['id_alignment_weight']}")
    return ",".join(parts)


def main() -> None:
    args = parse_args()
    run_dir = Path(args.run_dir)
    config = resolve_config("tiger", args.dataset, [f"tokenizer={args.tokenizer}",
                                                    f"architecture={args.architecture}", *args.set])
    metrics = finished_or_trained(config, run_dir)
    train = metrics["train"]
    name = ",".join(part for part in (variant(metrics["params"]), args.label) if part)
    for split in ("test", "valid"):
        path = write_record(
            metrics["dataset"], "tiger", name, split, metrics[split]["metrics"],
            train_seconds=train.get("train_seconds"),
            eval_seconds=metrics[split]["eval_seconds"], results_dir=args.results_dir,
            extra={"run_dir": str(run_dir), "epochs": train.get("epochs"),
                   "best_epoch": train.get("best_epoch"), "kept_epoch": train.get("kept_epoch"),
                   "stopped": train.get("stopped"),
                   "semantic_ids": train.get("semantic_ids"),
                   "params": metrics["params"]})
        values = ", ".join(f"{k} {v:.4f}" for k, v in metrics[split]["metrics"].items())
        print(f"{split}: {values} -> {path}")
        if split == "test":
            keep_ranks(run_dir, path)


if __name__ == "__main__":
    main()
