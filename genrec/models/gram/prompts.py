"""GRAM's two granularities of input text: one coarse user prompt and one fine prompt per history item.

* The user prompt lists the history, newest first, as lexical IDs:
  ``What would the user purchase after nail polish red ; lip gloss pink ?``
* An item prompt links the item to the user prompt through its ID, verbalises its collaborative
  neighbours through their IDs and carries its text:
  ``item: nail polish red; similar items: nail polish blue, nail gel red; title: ...; brand: ...``

This follows the authors' layout (ID, then neighbours, then the fields). Item prompts are fixed per
item, so they are tokenised once into a table; user prompts change with every history, so they are
assembled from per-item token segments with array operations, never by re-tokenising text.
"""

from __future__ import annotations

import numpy as np

from genrec.data.dataset import SequenceDataset
from genrec.data.ragged import Ragged
from genrec.data.text import ItemTextTemplate
from genrec.models.gram.vocab import encode_ragged
from genrec.semantic_ids.codes import SemanticIds

USER_PREFIX = "What would the user purchase after"
HISTORY_SEPARATOR = ";"
USER_SUFFIX = "?"
NEIGHBOUR_SEPARATOR = ", "
# the fields of GRAM's item prompts, labelled as in the authors' item text ("title: ...; brand: ...")
ITEM_FIELDS = ItemTextTemplate(
    fields=("title", "movie_title", "short_text_idgenrec", "brand", "categories", "class", "description",
            "price"),
    labels={"title": "title", "movie_title": "title", "short_text_idgenrec": "keywords", "brand": "brand",
            "categories": "categories", "class": "genres", "description": "description", "price": "price"},
    max_words=256, max_chars=4096)
NO_TEXT = ITEM_FIELDS.render({}, "")  # the template's stand-in for an item without any text, left out


def newest_first(histories: Ragged, max_items: int) -> Ragged:
    """The last ``max_items`` items of every history, most recent first (as GRAM orders its prompts)."""
    recent = histories.tail(max_items)
    lengths = recent.lengths
    ends = np.repeat(recent.offsets[1:], lengths)
    position = np.arange(len(recent.values)) - np.repeat(recent.offsets[:-1], lengths)
    return Ragged(recent.values[ends - 1 - position], recent.offsets)


def user_prompt_text(history: np.ndarray | list[int], ids: SemanticIds, max_items: int) -> str:
    """The coarse prompt of one history (oldest first in, newest first out), as text."""
    items = newest_first(Ragged.from_lists([list(history)]), max_items)[0]
    listed = f" {HISTORY_SEPARATOR} ".join(ids.id_text(int(i)) for i in items)
    return f"{USER_PREFIX} {listed} {USER_SUFFIX}"


def field_texts(dataset: SequenceDataset) -> list[str]:
    """Each item's text fields alone, as they appear in its prompt (a vocabulary is built from these)."""
    return [ITEM_FIELDS.render(record, "") for record in dataset.item_records]


def fixed_text() -> str:
    """The words every prompt may use whatever the data (a vocabulary must have them)."""
    return f"{USER_PREFIX} {HISTORY_SEPARATOR} {USER_SUFFIX} item: similar items:{NEIGHBOUR_SEPARATOR}"


def item_prompt_texts(dataset: SequenceDataset, ids: SemanticIds, similar: np.ndarray | None,
                      linking: bool = True) -> list[str]:
    """One fine prompt per item: ``item: ID; similar items: IDs; title: ...; brand: ...; ...``.

    ``similar`` is ``[n_items, k]`` neighbour items (-1 padded) or None to leave collaborative
    semantics out; ``linking=False`` leaves the item's own ID out.
    """
    id_texts = [ids.id_text(i) for i in range(dataset.n_items)]
    prompts = []
    for item, record in enumerate(dataset.item_records):
        parts = [f"item: {id_texts[item]}"] if linking else []
        if similar is not None:
            neighbours = NEIGHBOUR_SEPARATOR.join(id_texts[j] for j in similar[item] if j >= 0)
            parts.append(f"similar items: {neighbours}")
        text = ITEM_FIELDS.render(record, "")
        if text != NO_TEXT:
            parts.append(text)
        prompts.append(ITEM_FIELDS.separator.join(parts))
    return prompts


def concat_rows(*parts: Ragged) -> Ragged:
    """Row ``i`` of the result is row ``i`` of every part, one after another (vectorised)."""
    lengths = np.stack([p.lengths for p in parts])  # [n_parts, n_rows]
    out = Ragged.from_lengths(np.zeros(int(lengths.sum()), np.int64), lengths.sum(0))
    before = np.cumsum(lengths, axis=0) - lengths  # tokens of earlier parts in the same row
    for part, skip in zip(parts, before):
        row_lengths = part.lengths
        position = np.arange(len(part.values)) - np.repeat(part.offsets[:-1], row_lengths)
        out.values[np.repeat(out.offsets[:-1] + skip, row_lengths) + position] = part.values
    return out


def text_cut_share(tokenizer, prompts: list[str], texts: list[str], max_len: int) -> float:
    """The share of items with text whose prompt, cut to ``max_len`` tokens, keeps none of that text.

    An item prompt puts its ID and its neighbours' IDs before its text, so these alone can fill a short
    prompt: ten neighbours of 3.2-word IDs take 51 tokens on Sports. ``texts`` are the items' field texts
    (``field_texts``), each the end of its prompt.
    """
    has_text = np.array([text != NO_TEXT for text in texts])
    if not has_text.any():
        return 0.0
    prompt_lengths = encode_ragged(tokenizer, [p for p, keep in zip(prompts, has_text) if keep]).lengths
    text_lengths = encode_ragged(tokenizer, [t for t, keep in zip(texts, has_text) if keep]).lengths
    before_text = prompt_lengths - text_lengths + tokenizer.num_special_tokens_to_add()
    return float((before_text >= max_len).mean())


def _repeat_row(tokens: list[int], n: int) -> Ragged:
    return Ragged.from_lengths(np.tile(np.asarray(tokens, np.int64), n), np.full(n, len(tokens)))


class UserPrompts:
    """Token ids of user prompts for batches of histories: those of ``user_prompt_text`` where it fits in
    ``max_len`` tokens; a longer prompt loses its oldest IDs, never its question mark or special tokens."""

    def __init__(self, tokenizer, ids: SemanticIds, max_items: int, max_len: int) -> None:
        self.max_items, self.max_len, self.pad = max_items, max_len, int(tokenizer.pad_token_id)
        words = encode_ragged(tokenizer, [USER_PREFIX, HISTORY_SEPARATOR, USER_SUFFIX, "a"])
        self.prefix, self.separator, self.suffix = words[0].tolist(), words[1].tolist(), words[2].tolist()
        marked = tokenizer("a", add_special_tokens=True)["input_ids"]
        at = marked.index(int(words[3][0]))
        self.head, self.tail = marked[:at], marked[at + 1:]  # special tokens around a text ([CLS] ... [SEP])
        id_tokens = encode_ragged(tokenizer, [ids.id_text(i) for i in range(ids.n_items)])
        # each item's segment is its ID followed by the separator; the last separator is dropped
        self.segments = concat_rows(id_tokens, _repeat_row(self.separator, ids.n_items))

    def __call__(self, histories: Ragged) -> tuple[np.ndarray, np.ndarray]:
        """``(token ids [n, max_len], lengths [n])`` of the prompts of ``histories`` (oldest first)."""
        items = newest_first(histories, self.max_items)
        n = len(items)
        pieces = self.segments.select(items.values)
        owner = np.repeat(np.arange(n), items.lengths)
        per_user = np.bincount(owner, weights=pieces.lengths, minlength=n).astype(np.int64)
        body = Ragged.from_lengths(pieces.values, per_user)
        fixed = len(self.head) + len(self.prefix) + len(self.suffix) + len(self.tail)
        keep = np.minimum(np.maximum(body.lengths - len(self.separator), 0), max(self.max_len - fixed, 0))
        body = body.slice_rows(np.zeros(n, np.int64), keep)  # newest first, so the oldest are cut
        rows = concat_rows(_repeat_row(self.head, n), _repeat_row(self.prefix, n), body,
                           _repeat_row(self.suffix, n), _repeat_row(self.tail, n))
        rows = rows.slice_rows(np.zeros(n, np.int64), np.minimum(rows.lengths, self.max_len))
        return rows.to_padded(self.max_len, pad=self.pad, align="left"), rows.lengths
