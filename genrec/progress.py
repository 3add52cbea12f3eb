"""Progress bars that suit both a terminal and a log file.

On a terminal a bar redraws ten times a second. Written to a file (``nohup``, a cluster job's output)
every redraw stays in the file, and a two-hour run leaves megabytes of carriage returns; there the bar
redraws once a minute instead, which still shows that a run is alive and how fast it goes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm

LOG_FILE_INTERVAL = 60.0  # seconds between redraws when stderr is not a terminal


def progress_bar(iterable: Iterable | None = None, **kwargs: Any) -> tqdm:
    """``tqdm(iterable, **kwargs)``, redrawing at most once a minute when stderr is not a terminal."""
    if not sys.stderr.isatty():
        kwargs.setdefault("mininterval", LOG_FILE_INTERVAL)
    return tqdm(iterable, **kwargs)
