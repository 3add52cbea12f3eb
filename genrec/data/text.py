"""Item text: the one string per item that text encoders embed and lexical tokenizers read.

Datasets store text in different fields (Amazon: title, brand, categories; Sports: a keyword
string; MovieLens: movie_title, class), with HTML entities and placeholder values such as
"Unknown". A template names the fields and their order; rendering unescapes, drops placeholders,
flattens category paths and truncates, so that every item, even one without text, gets a text.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from genrec.data.dataset import SequenceDataset

_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
PLACEHOLDERS = frozenset({"unknown", "n/a", "na", "none", "null", "nan", "-"})


def _default_labels() -> dict[str, str]:
    return {"title": "Title", "movie_title": "Title", "short_text_idgenrec": "Keywords", "brand": "Brand",
            "categories": "Categories", "class": "Genres", "description": "Description", "price": "Price"}


@dataclass(frozen=True)
class ItemTextTemplate:
    """Which record fields make an item's text, in which order, and how long it may get."""

    fields: tuple[str, ...] = ("title", "movie_title", "short_text_idgenrec", "brand", "categories",
                               "class", "description", "price")
    labels: dict[str, str] = field(default_factory=_default_labels)  # field -> prefix ("" for none)
    with_labels: bool = True  # "Brand: OPI" rather than "OPI"
    max_words: int = 128  # whitespace tokens; MiniLM reads 256 word pieces at most
    max_chars: int = 1024
    separator: str = "; "

    def render(self, record: dict, fallback: str) -> str:
        """The item's text; ``fallback`` (e.g. its id) when no field has any."""
        parts = []
        for name in self.fields:
            value = _clean(record.get(name))
            if value:
                label = self.labels.get(name, name.replace("_", " ").capitalize()) if self.with_labels else ""
                parts.append(f"{label}: {value}" if label else value)
        text = self.separator.join(parts) or f"Item {fallback}"
        words = text.split(" ")
        if len(words) > self.max_words:
            text = " ".join(words[: self.max_words])
        return text[: self.max_chars]


def _clean(value: object) -> str:
    """A field's value as one line of plain text: lists flattened and de-duplicated, HTML removed."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        seen: dict[str, None] = {}
        for part in _flatten(value):
            text = _clean(part)
            if text:
                seen.setdefault(text, None)
        return ", ".join(seen)
    text = _SPACE.sub(" ", _TAGS.sub(" ", html.unescape(str(value)))).strip()
    return "" if text.lower() in PLACEHOLDERS else text


def _flatten(value: list | tuple) -> list:
    out: list = []
    for part in value:
        out.extend(_flatten(part) if isinstance(part, (list, tuple)) else [part])
    return out


def item_texts(dataset: SequenceDataset, template: ItemTextTemplate | None = None) -> list[str]:
    """One text per internal item id, in order."""
    template = template or ItemTextTemplate()
    return [template.render(record, str(item_id))
            for item_id, record in zip(dataset.item_ids, dataset.item_records)]
