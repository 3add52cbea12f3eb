"""Where genrec finds datasets and keeps its caches."""

from __future__ import annotations

import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir(override: str | Path | None = None) -> Path:
    """The data folder: the flag, else ``GENREC_DATA``, else ``../shared/data`` beside the checkout
    (or the working directory) when it exists, else a per-user cache where the downloader writes."""
    if override:
        return Path(override).expanduser()
    if os.environ.get("GENREC_DATA"):
        return Path(os.environ["GENREC_DATA"]).expanduser()
    for base in (Path.cwd(), _REPO_ROOT):
        shared = base.parent / "shared" / "data"
        if shared.is_dir():
            return shared
    return cache_dir() / "data"


def cache_dir() -> Path:
    """Per-user cache (embeddings, downloads): ``GENREC_CACHE``, else ``$XDG_CACHE_HOME/genrec``."""
    if os.environ.get("GENREC_CACHE"):
        return Path(os.environ["GENREC_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")).expanduser() / "genrec"
