"""How wide a beam a semantic-ID model needs: a finished run's test metrics decoded at several widths.

    OMP_NUM_THREADS=2 python benchmarks/beam_width.py RUN_DIR --variant VARIANT --beams 20 40 [--threads 2]
        [--length-penalty 1.0]

Beam search keeps the B most probable ID prefixes at each step, so an item whose first words are
unlikely but whose whole ID is likely can drop out before its last word; a wider beam returns more of
the model's own best items, at a cost that grows with B. Nothing is retrained: the same weights are
decoded at each width, so a gain is recall the search left behind, not a better model. One record a
width (the run's model, variant ``<VARIANT>,beam_size=B``, split ``test``) with its decoding seconds
and, beside it, its per-user ranks for ``genrec compare``; at the run's own width the metrics equal the
run's record. ``--length-penalty`` (models with variable-length IDs, e.g. GRAM) divides an ID's
log-probability by its length to that power, as Hugging Face's beam search does; the variant then ends
in ``length_penalty=A``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from genrec.data import leave_one_out
from genrec.errors import GenrecError
from genrec.evaluation.protocol import evaluate
from genrec.evaluation.records import write_record
from genrec.evaluation.significance import PerUser, ranks_path, save_ranks
from genrec.runs import load_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--variant", default="", help="the variant of the run's own record")
    parser.add_argument("--beams", type=int, nargs="+", default=[20, 40])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--length-penalty", type=float, default=None,
                        help="decode with this length penalty (default: the run's own)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, dataset, config = load_run(args.run_dir)
    if not hasattr(model.config, "beam_size"):
        raise GenrecError(f"{args.run_dir}: a {config.model} run does not decode with a beam search")
    test, ks = leave_one_out(dataset).test, tuple(config.ks)
    trained_width = model.config.beam_size
    if args.length_penalty is not None:
        if not hasattr(model.config, "length_penalty"):
            raise GenrecError(f"--length-penalty: a {config.model} run has fixed-length IDs")
        model.config.length_penalty = args.length_penalty
    for beam in args.beams:
        if beam < max(ks):
            raise GenrecError(f"--beams: {beam} is narrower than the {max(ks)} items each user is ranked on")
        model.config.beam_size = beam
        result = evaluate(model, test, "test", ks=ks, exclude_history=config.exclude_history, progress=False)
        settings = [f"beam_size={beam}"]
        if args.length_penalty is not None:
            settings.append(f"length_penalty={args.length_penalty:g}")
        variant = ",".join(part for part in (args.variant, *settings) if part)
        path = write_record(config.dataset, config.model, variant, "test", result.metrics,
                            eval_seconds=result.seconds,
                            extra={"run_dir": str(args.run_dir), "beam_size": beam,
                                   "length_penalty": getattr(model.config, "length_penalty", 0.0),
                                   "trained_beam_size": trained_width, "threads": args.threads})
        save_ranks(PerUser(str(args.run_dir), config.dataset, result.users, result.per_user),
                   ranks_path(path))
        shown = " ".join(f"{m} {result.metrics[m]:.4f}" for m in ("recall@10", "ndcg@10", "recall@20"))
        print(f"beam {beam}: {shown} in {result.seconds:.0f} s -> {path}")


if __name__ == "__main__":
    main()
