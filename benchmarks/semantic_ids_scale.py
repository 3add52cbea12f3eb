"""RQ-KMeans 3 x 256 at scale: time and peak memory on 10k, 100k and 1M random 384-d vectors.

    OMP_NUM_THREADS=2 python benchmarks/semantic_ids_scale.py --threads 2 [--sizes 10000,100000,1000000]

Each size runs in a fresh process, so its peak resident memory (``peak_rss_gib``) is its own. The
vectors are seeded Gaussian noise, L2-normalised like text embeddings: structure-free, the hardest
case for code usage and collisions. Seconds cover tokenization only (fit, collision handling and the
SemanticIds artefact), not generating the vectors. Records ``synthetic-10k`` ... ``synthetic-1m``.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

import numpy as np
import torch

from genrec.evaluation.records import write_record
from genrec.semantic_ids.build import tokenize_embeddings

DIM = 384
CHUNK = 100_000


def dataset_name(n: int) -> str:
    return f"synthetic-{n // 1_000_000}m" if n % 1_000_000 == 0 else f"synthetic-{n // 1000}k"


def random_vectors(n: int, seed: int = 0) -> np.ndarray:
    """Unit-norm Gaussian vectors, made a chunk at a time to keep the peak at one float32 copy."""
    rng = np.random.default_rng(seed)
    x = np.empty((n, DIM), dtype=np.float32)
    for lo in range(0, n, CHUNK):
        part = rng.standard_normal((min(CHUNK, n - lo), DIM), dtype=np.float32)
        x[lo : lo + len(part)] = part / np.linalg.norm(part, axis=1, keepdims=True)
    return x


def run_one(n: int, threads: int, command: str) -> None:
    torch.set_num_threads(threads)
    x = random_vectors(n)
    start, cpu_start = time.perf_counter(), time.process_time()
    ids = tokenize_embeddings(x, [], "rq-kmeans", None, "random-384")
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB -> GiB
    level0 = float((np.bincount(ids.codes.values[ids.codes.offsets[:-1]], minlength=256) > 0).mean())
    metrics = {"seconds": seconds, "cpu_seconds": cpu_seconds, "items": n, "peak_rss_gib": peak,
               "level0_codes_used": level0, "collision_rate": ids.stats["collision_rate"]}
    path = write_record(dataset_name(n), "tokenizer:rq-kmeans", "", "all", metrics, command=command,
                        extra={"threads": threads, "dim": DIM, "params": ids.params})
    print(f"{n:>9,} items: {seconds:7.1f} s ({cpu_seconds:.1f} s CPU), peak RSS {peak:.2f} GiB, "
          f"collision rate {ids.stats['collision_rate']:.4f} -> {path}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # a child process's size
    parser.add_argument("--command", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        run_one(args.one, args.threads, args.command)
        return
    command = " ".join(["python", "benchmarks/semantic_ids_scale.py", *sys.argv[1:]])
    for n in (int(s) for s in args.sizes.split(",")):
        subprocess.run([sys.executable, __file__, "--one", str(n), "--threads", str(args.threads),
                        "--command", f"OMP_NUM_THREADS={args.threads} {command}"], check=True)


if __name__ == "__main__":
    main()
