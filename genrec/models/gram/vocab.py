"""The backbone's vocabulary, with every lexical-ID word as one token, so the model reads IDs as text.

GRAM writes item IDs as words (``nail polish red``); the encoder reads them inside prompts and the
decoder generates them, so each ID word must be exactly one token of the vocabulary. Two sources:

* ``word``: a word-level vocabulary built from the dataset's item texts (no T5 weights exist
  offline, so a from-scratch backbone gets a vocabulary that fits its data), ID words added;
* ``pretrained``: the tokenizer shipped with a checkpoint (MiniLM's WordPiece, a T5 SentencePiece),
  with the ID words it would split added as new tokens.

Both end up as a ``PreTrainedTokenizerFast`` so that everything downstream is one code path.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from genrec.data.ragged import Ragged
from genrec.errors import GenrecError

PAD, UNK, BOS = "[PAD]", "[UNK]", "[BOS]"
_WORD = r"\w+|[^\w\s]+"  # what the Whitespace pre-tokenizer of `tokenizers` splits on


def word_tokenizer(texts: list[str], id_words: list[str], min_count: int = 2, reserved: str = ""):
    """A word-level tokenizer over ``texts`` (lower-cased words seen ``min_count`` times) plus all ID
    words and the words of ``reserved`` (the fixed prompt text), whatever their counts."""
    import re

    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    counts = Counter(w for text in texts for w in re.findall(_WORD, text.lower()))
    words = [PAD, UNK, BOS] + sorted(w for w, c in counts.items() if c >= min_count)
    vocab = {w: i for i, w in enumerate(words)}
    for word in list(id_words) + re.findall(_WORD, reserved.lower()):
        vocab.setdefault(word.lower(), len(vocab))
    core = Tokenizer(WordLevel(vocab, unk_token=UNK))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token=PAD, unk_token=UNK, bos_token=BOS)
    check_id_words(tokenizer, id_words)
    return tokenizer


def pretrained_tokenizer(name_or_path: str | Path, id_words: list[str]):
    """The checkpoint's tokenizer with every ID word it would split added as one new token."""
    from tokenizers import AddedToken
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(name_or_path))
    except (OSError, ValueError) as e:
        raise GenrecError(f"cannot load the tokenizer of {name_or_path!r} ({e})") from None
    if tokenizer.pad_token is None:
        tokenizer.add_special_tokens({"pad_token": PAD})
    split = [w for w in dict.fromkeys(w.lower() for w in id_words) if len(tokenizer.tokenize(w)) != 1]
    # single_word: an added word must not match inside longer words ("red" inside "hundred")
    tokenizer.add_tokens([AddedToken(w, single_word=True, normalized=True) for w in split])
    check_id_words(tokenizer, id_words)
    return tokenizer


def check_id_words(tokenizer, id_words: list[str]) -> None:
    """Raise unless every ID word encodes to exactly one token, as decoding assumes."""
    encoded = tokenizer(list(id_words), add_special_tokens=False)["input_ids"] if id_words else []
    bad = [w for w, ids in zip(id_words, encoded) if len(ids) != 1 or ids[0] == tokenizer.unk_token_id]
    if bad:
        raise GenrecError(f"lexical ID word {bad[0]!r} is not one token of the backbone vocabulary "
                          f"({len(bad)} such words); ID words must be single words without spaces")


def start_token(tokenizer) -> int:
    """The decoder's start token: BOS where the vocabulary has one, else CLS, else PAD."""
    for token in (tokenizer.bos_token_id, tokenizer.cls_token_id, tokenizer.pad_token_id):
        if token is not None:
            return int(token)
    raise GenrecError("the backbone tokenizer has neither a BOS, a CLS nor a PAD token")


def encode_padded(tokenizer, texts: list[str], max_len: int,
                  special: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(ids [n, max_len] int64 right-padded, lengths [n])``, each text truncated to ``max_len`` tokens."""
    encoded = tokenizer(texts, add_special_tokens=special, truncation=True, max_length=max_len)["input_ids"]
    rows = Ragged.from_lists(encoded)
    return rows.to_padded(max_len, pad=tokenizer.pad_token_id, align="left"), rows.lengths


def encode_ragged(tokenizer, texts: list[str]) -> Ragged:
    """Token ids of each text without special tokens or truncation."""
    return Ragged.from_lists(tokenizer(texts, add_special_tokens=False)["input_ids"])
