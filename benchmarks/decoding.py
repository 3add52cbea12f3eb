"""Our batched trie-constrained beam search against Hugging Face ``generate()`` on the same TIGER model.

    OMP_NUM_THREADS=1 python benchmarks/decoding.py                       # fresh TIGER-size model
    OMP_NUM_THREADS=1 python benchmarks/decoding.py --model-dir RUN/model  # a trained one

Both decode the same Beauty test users, in the same batches, with beam 20 to the top 10: ours through
``Tiger.recommend`` (encoder once per user, cross-attention shared by a user's beams, one tensor
program per step for all users x beams), the baseline through ``generate(num_beams=20,
num_return_sequences=10, prefix_allowed_tokens_fn=...)`` with a prefix -> allowed-tokens dict, as
GRAM and LC-Rec decode (no length penalty, so both score an ID by its summed log-probability).
``generate()`` runs on the first ``--generate-users`` users (it is the slow side); ours runs on those
and on all test users. Decoding cost does not depend on the weights, so a fresh model times the same
as a trained one; the agreement of the two top-10 lists checks that both search the same thing.
Both wall-clock and process CPU time are recorded: on a shared machine the CPU time is the cost of
the work itself. One record: model ``tiger``, variant ``decoding``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from genrec.data import leave_one_out, load_dataset
from genrec.data.ragged import Ragged
from genrec.errors import GenrecError
from genrec.evaluation.records import write_record
from genrec.models.tiger import EOS, PAD, Tiger, TigerConfig
from genrec.semantic_ids.codes import SemanticIds


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="amazon2014/beauty")
    parser.add_argument("--model-dir", default=None, help="a saved tiger model (default: fresh, TIGER-size)")
    parser.add_argument("--tokenizer", default="rq-kmeans", help="semantic IDs of the fresh model")
    parser.add_argument("--ids", default=None, help="saved semantic IDs for the fresh model (default: build)")
    parser.add_argument("--users", type=int, default=0, help="test users decoded by ours (0 = all)")
    parser.add_argument("--generate-users", type=int, default=512, help="test users decoded by both")
    parser.add_argument("--beam", type=int, default=20)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--batch", type=int, default=256, help="users per batch, both sides")
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args()


def load_model(args: argparse.Namespace, dataset) -> Tiger:
    if args.model_dir:
        model = Tiger.load(args.model_dir, dataset)
    else:
        from genrec.semantic_ids.build import build_semantic_ids

        ids = SemanticIds.load(args.ids) if args.ids else build_semantic_ids(dataset, args.tokenizer)
        torch.manual_seed(0)
        model = Tiger(TigerConfig(tokenizer=ids.method), dataset, ids)
    model.config.beam_size, model.config.decode_batch = args.beam, args.batch
    if model.ids.fixed_length is None:
        raise GenrecError("benchmarks/decoding.py needs fixed-length IDs (generate() has no trie to end IDs)")
    model.net.eval()
    return model


def allowed_tokens(model: Tiger) -> dict[tuple[int, ...], list[int]]:
    """Prefix of code tokens -> the tokens that may follow it: the baseline's constraint table."""
    tokens = model.item_tokens.values.reshape(model.ids.n_items, -1)
    table: dict[tuple[int, ...], set[int]] = {}
    for row in tokens.tolist():
        for depth in range(len(row)):
            table.setdefault(tuple(row[:depth]), set()).add(row[depth])
    return {prefix: sorted(next_tokens) for prefix, next_tokens in table.items()}


def generate(model: Tiger, histories: Ragged, args: argparse.Namespace) -> np.ndarray:
    """Top-k items per user with Hugging Face beam search, batched like ``Tiger.recommend``."""
    table, depth = allowed_tokens(model), model.ids.fixed_length
    rows = model.item_tokens.values.reshape(model.ids.n_items, -1).tolist()
    item_of = {tuple(row): item for item, row in enumerate(rows)}

    def allowed(_batch: int, sentence: torch.Tensor) -> list[int]:
        return table.get(tuple(sentence[1:].tolist()), [PAD])

    items = np.full((len(histories), args.k), -1, dtype=np.int64)
    order = np.argsort(np.minimum(histories.lengths, model.config.max_history), kind="stable")
    for lo in range(0, len(histories), args.batch):
        rows = order[lo:lo + args.batch]
        tokens, mask, _ = model.encode_histories(histories.select(rows))
        with torch.no_grad():
            out = model.net.generate(input_ids=tokens, attention_mask=mask, num_beams=args.beam,
                                     num_return_sequences=args.k, max_new_tokens=depth, min_new_tokens=depth,
                                     prefix_allowed_tokens_fn=allowed, length_penalty=0.0, do_sample=False,
                                     decoder_start_token_id=PAD, pad_token_id=PAD, eos_token_id=EOS)
        codes = out[:, 1:1 + depth].tolist()
        items[rows] = np.array([item_of.get(tuple(c), -1) for c in codes]).reshape(len(rows), args.k)
    return items


def timed(fn, *args):
    """The result, wall-clock seconds and this process's CPU seconds (on a shared machine the CPU time
    is what the work cost; the wall time also counts other people's jobs)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    dataset = load_dataset(args.dataset)
    test = leave_one_out(dataset).test
    model = load_model(args, dataset)
    n_all = len(test) if args.users <= 0 else min(args.users, len(test))
    every = test.histories.select(np.arange(n_all))
    subset = test.histories.select(np.arange(min(args.generate_users, n_all)))
    model.recommend(subset.select(np.arange(min(8, len(subset)))), args.k)  # warm-up

    (ours_subset, _), ours_subset_s, ours_subset_cpu = timed(model.recommend, subset, args.k)
    theirs, theirs_s, theirs_cpu = timed(generate, model, subset, args)
    _, ours_all_s, ours_all_cpu = timed(model.recommend, every, args.k)

    overlap = np.mean([len(set(a) & set(b)) / args.k for a, b in zip(ours_subset.tolist(), theirs.tolist())])
    same = float(np.mean((ours_subset == theirs).all(1)))
    metrics = {
        "users_per_second": len(subset) / ours_subset_s,
        "generate_users_per_second": len(subset) / theirs_s,
        "speedup": theirs_s / ours_subset_s,
        "cpu_speedup": theirs_cpu / ours_subset_cpu,
        "users_per_cpu_second": len(subset) / ours_subset_cpu,
        "generate_users_per_cpu_second": len(subset) / theirs_cpu,
        "seconds_all_users": ours_all_s, "cpu_seconds_all_users": ours_all_cpu, "all_users": n_all,
        "compared_users": len(subset), "top10_overlap": overlap, "identical_lists": same,
        "generate_invalid_items": int((theirs < 0).sum()),
    }
    extra = {"beam": args.beam, "k": args.k, "batch": args.batch, "threads": args.threads,
             "model": args.model_dir or f"fresh, {model.config.layers}+{model.config.layers} layers",
             "semantic_ids": {"method": model.ids.method, "vocab_sizes": model.ids.vocab_sizes}}
    path = write_record(args.dataset, "tiger", "decoding", "test", metrics, eval_seconds=ours_all_s,
                        extra=extra)
    print(f"ours {len(subset) / ours_subset_s:.1f} users/s, generate() {len(subset) / theirs_s:.1f} users/s "
          f"({theirs_s / ours_subset_s:.1f}x wall, {theirs_cpu / ours_subset_cpu:.1f}x CPU) "
          f"on {len(subset)} users; "
          f"all {n_all} users in {ours_all_s:.1f} s wall, {ours_all_cpu:.1f} s CPU; "
          f"top-10 overlap {overlap:.3f}, identical lists {same:.3f} -> {path}")


if __name__ == "__main__":
    main()
