"""Did early stopping keep the right epoch? A finished run's last-epoch weights, decoded like its kept ones.

    OMP_NUM_THREADS=1 python benchmarks/last_epoch.py RUN_DIR --variant VARIANT [--threads 1]

Runs keep the weights of the epoch with the best NDCG@10 on a sample of validation users (1,000 for
GRAM), and a thousand users give a noisy figure: two epochs a few thousandths apart may be ranked
either way. The run's checkpoint holds the weights of the last epoch trained, so this script loads
them into the saved model and evaluates them on the full validation and test splits under the run's
own protocol. One record a split (the run's model, variant ``<VARIANT>,last_epoch``) with the epoch in
``extra``, and the test ranks beside it for ``genrec compare`` against the run's own record.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from genrec.data import leave_one_out
from genrec.errors import GenrecError
from genrec.evaluation.protocol import evaluate
from genrec.evaluation.records import RESULTS_DIR, write_record
from genrec.evaluation.significance import PerUser, ranks_path, save_ranks
from genrec.runs import load_run
from genrec.training.trainer import CHECKPOINT


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--variant", default="", help="the variant of the run's own record")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the records go")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    checkpoint_path = args.run_dir / CHECKPOINT
    if not checkpoint_path.is_file():
        raise GenrecError(f"{checkpoint_path}: no checkpoint (the run was trained without a run directory)")
    model, dataset, config = load_run(args.run_dir)
    checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
    state = checkpoint["state"]
    try:
        model.net.load_state_dict(checkpoint["module"])
    except (AttributeError, RuntimeError) as e:
        raise GenrecError(f"{checkpoint_path}: does not fit the saved {config.model} model ({e})") from None
    splits, ks = leave_one_out(dataset), tuple(config.ks)
    variant = ",".join(part for part in (args.variant, "last_epoch") if part)
    for split in ("valid", "test"):
        result = evaluate(model, getattr(splits, split), split, ks=ks, exclude_history=config.exclude_history,
                          progress=False)
        path = write_record(config.dataset, config.model, variant, split, result.metrics,
                            eval_seconds=result.seconds,
                            extra={"run_dir": str(args.run_dir), "epoch": state["epoch"],
                                   "kept_epoch": state["best_epoch"], "threads": args.threads},
                            results_dir=args.results_dir)
        if split == "test":
            save_ranks(PerUser(str(args.run_dir), config.dataset, result.users, result.per_user),
                       ranks_path(path))
        shown = " ".join(f"{m} {result.metrics[m]:.4f}" for m in ("recall@10", "ndcg@10"))
        print(f"{split}, epoch {state['epoch']} (the run kept {state['best_epoch']}): {shown} -> {path}")


if __name__ == "__main__":
    main()
