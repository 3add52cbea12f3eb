"""Tokenizer speed and code usage on Beauty's 12,101 items, plus MiniLM encoding speed.

    OMP_NUM_THREADS=1 python benchmarks/semantic_ids.py [--threads 1] [--methods rq-kmeans,opq] [--no-encode]
        [--set subspaces=3 ...]

First encodes every item text with MiniLM from scratch (the model load timed apart) and records it
as ``encoder:minilm``; that refreshes the embedding cache, from which every tokenizer then runs with
its default parameters (or those ``--set`` overrides, which name the record's variant). One record
per method, ``tokenizer:<method>``, with the seconds of
tokenization (fit and collision handling; ``cpu_seconds`` too, as the machine is shared), the
fraction of first-level codes in use and the collision rate before disambiguation. RQ-VAE and
hierarchical IDs are timed when their modules are there.
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import torch

from genrec.config import apply_overrides
from genrec.data import load_dataset
from genrec.data.text import item_texts
from genrec.embeddings import encode, get_encoder
from genrec.evaluation.records import write_record
from genrec.semantic_ids import TOKENIZERS
from genrec.semantic_ids.build import tokenize_embeddings
from genrec.semantic_ids.report import build_report

DATASET = "amazon2014/beauty"
ENCODER = "minilm"


def available_methods() -> list[str]:
    """Every registered method whose module exists (the others may not be written yet)."""
    return [m for m in ("rq-kmeans", "opq", "rq-vae", "hierarchical")
            if importlib.util.find_spec(TOKENIZERS[m].split(":")[0]) is not None]


def encoding_record(texts: list[str], threads: int) -> None:
    start = time.perf_counter()
    get_encoder(ENCODER)
    load_seconds = time.perf_counter() - start
    start, cpu_start = time.perf_counter(), time.process_time()
    vectors = encode(texts, ENCODER, refresh=True)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    metrics = {"seconds": seconds, "cpu_seconds": cpu_seconds, "items": len(texts),
               "items_per_second": len(texts) / seconds, "model_load_seconds": load_seconds}
    path = write_record(DATASET, f"encoder:{ENCODER}", "", "all", metrics,
                        extra={"threads": threads, "dim": vectors.shape[1], "batch_size": 64})
    print(f"encoding {len(texts):,} texts: {seconds:.1f} s ({cpu_seconds:.1f} s CPU, "
          f"+{load_seconds:.1f} s model load) -> {path}")


def tokenizer_record(method: str, embeddings, texts: list[str], threads: int, overrides: list[str]) -> None:
    start, cpu_start = time.perf_counter(), time.process_time()
    ids = tokenize_embeddings(embeddings, texts, method, apply_overrides({}, overrides), ENCODER)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    report = build_report(ids)
    level0 = report["levels"][0]
    metrics = {"seconds": seconds, "cpu_seconds": cpu_seconds,
               "level0_codes_used": level0["codes_used_fraction"],
               "collision_rate": ids.stats["collision_rate"],
               "level0_perplexity": level0["perplexity"], "id_length_mean": report["id_length"]["mean"]}
    if ids.stats.get("reconstruction_error") is not None:
        metrics["reconstruction_error"] = ids.stats["reconstruction_error"]
    path = write_record(DATASET, f"tokenizer:{method}", ",".join(overrides), "all", metrics,
                        extra={"threads": threads, "params": ids.params, "vocab_sizes": ids.vocab_sizes,
                               "items": ids.n_items})
    print(f"{method}: {seconds:.1f} s ({cpu_seconds:.1f} s CPU), level-0 codes used "
          f"{level0['codes_used_fraction']:.3f}, collision rate {ids.stats['collision_rate']:.4f} -> {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--methods", default=None, help="comma-separated (default: every available one)")
    parser.add_argument("--no-encode", action="store_true",
                        help="use the cached embeddings; no encoding record")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="tokenizer parameter override (e.g. subspaces=3), the record's variant")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    texts = item_texts(load_dataset(DATASET))
    if not args.no_encode:
        encoding_record(texts, args.threads)
    embeddings = encode(texts, ENCODER)
    for method in args.methods.split(",") if args.methods else available_methods():
        tokenizer_record(method.strip(), embeddings, texts, args.threads, args.set)


if __name__ == "__main__":
    main()
