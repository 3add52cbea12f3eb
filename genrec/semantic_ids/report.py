"""Quality report of a set of semantic IDs: is every level used, are codes spread, do items collide?

Numbers the literature uses to compare tokenizers: codes used and usage entropy/perplexity per
level (collapse shows as few codes or low perplexity), the collision rate before disambiguation,
how many items share each prefix (what a decoder must tell apart after that prefix), the
reconstruction error where the method has one, and a few example IDs to read.
"""

from __future__ import annotations

import html

import numpy as np

from genrec.semantic_ids.codes import SemanticIds

N_EXAMPLES = 5


def _usage(codes: np.ndarray, vocab: int) -> dict:
    counts = np.bincount(codes, minlength=vocab)
    p = counts[counts > 0] / counts.sum()
    entropy = float(-(p * np.log2(p)).sum())
    used = counts > 0
    return {"vocab_size": vocab, "codes_used": int(used.sum()), "codes_used_fraction": float(used.mean()),
            "entropy_bits": entropy, "perplexity": float(2**entropy), "max_items_per_code": int(counts.max())}


def _prefix_groups(rows: np.ndarray, length: int) -> dict:
    """Items per distinct prefix of ``length`` codes (rows padded with -1)."""
    _, counts = np.unique(rows[:, :length], axis=0, return_counts=True)
    return {"length": length, "prefixes": len(counts), "mean_items": float(counts.mean()),
            "max_items": int(counts.max())}


def build_report(ids: SemanticIds, titles: list[str] | None = None) -> dict:
    """The report as a JSON-ready dict; ``titles`` (per item) make the examples readable."""
    lengths = ids.codes.lengths
    rows = ids.codes.to_padded(int(lengths.max()), pad=-1, align="left")
    levels = []
    for level, vocab in enumerate(ids.vocab_sizes):
        column = rows[:, level] if level < rows.shape[1] else np.zeros(0, dtype=np.int64)
        present = column[column >= 0]
        levels.append({"level": level, "items": len(present), **_usage(present, vocab)})
    semantic_len = rows.shape[1] - (1 if ids.stats.get("disambiguation_level") else 0)
    picks = np.linspace(0, ids.n_items - 1, min(N_EXAMPLES, ids.n_items)).astype(int)
    examples = [{"item": int(i), "id": ids.id_text(int(i)), "codes": ids.codes[int(i)].tolist(),
                 "title": html.unescape(titles[i]) if titles is not None else None} for i in picks]
    return {
        "method": ids.method, "encoder": ids.encoder, "params": ids.params, "items": ids.n_items,
        "levels": levels,
        "id_length": {"min": int(lengths.min()), "mean": float(lengths.mean()), "max": int(lengths.max())},
        "collision_rate": ids.stats.get("collision_rate"),
        "disambiguation_level": bool(ids.stats.get("disambiguation_level")),
        "items_per_prefix": [_prefix_groups(rows, n) for n in range(1, max(semantic_len, 1) + 1)],
        "reconstruction_error": ids.stats.get("reconstruction_error"),
        "reconstruction_mse": ids.stats.get("reconstruction_mse"),
        "examples": examples,
    }


def report_markdown(report: dict) -> str:
    """The report as Markdown, for the terminal and ``report.md``."""
    length = report["id_length"]
    added = "; a disambiguation level was added" if report["disambiguation_level"] else ""
    lines = [f"# Semantic IDs: {report['method']} ({report['encoder']})", "",
             f"{report['items']:,} items; ID length {length['min']}-{length['max']} "
             f"(mean {length['mean']:.2f}); "
             f"collision rate before disambiguation {_fmt(report['collision_rate'])}{added}", ""]
    if report["reconstruction_error"] is not None:
        error = _fmt(report["reconstruction_error"])
        lines += [f"Reconstruction error (MSE / mean squared norm): {error}", ""]
    lines += ["| level | vocab | codes used | used % | entropy (bits) | perplexity | max items/code |",
              "|---|---|---|---|---|---|---|"]
    lines += [f"| {lv['level']} | {lv['vocab_size']} | {lv['codes_used']} | "
              f"{100 * lv['codes_used_fraction']:.1f} | {lv['entropy_bits']:.2f} | {lv['perplexity']:.1f} | "
              f"{lv['max_items_per_code']} |"
              for lv in report["levels"]]
    lines += ["", "| prefix length | distinct prefixes | mean items | max items |", "|---|---|---|---|"]
    lines += [f"| {g['length']} | {g['prefixes']:,} | {g['mean_items']:.2f} | {g['max_items']} |"
              for g in report["items_per_prefix"]]
    lines += ["", "| item | ID | title |", "|---|---|---|"]
    lines += [f"| {e['item']} | `{e['id']}` | {(e['title'] or '').replace('|', '/')[:80]} |"
              for e in report["examples"]]
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
