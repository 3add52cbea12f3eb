"""Fetching public data files: streamed into ``<name>.part`` beside the target, renamed when complete.

A reader never sees a half-downloaded file under the final name, and a failed or interrupted download
leaves nothing behind, so the next attempt starts clean.
"""

from __future__ import annotations

import logging
import os
import urllib.error
import urllib.request
from pathlib import Path

from genrec.errors import GenrecError
from genrec.progress import progress_bar

log = logging.getLogger("genrec")

CHUNK = 1 << 20


def download(url: str, dest: str | Path, *, progress: bool = True, timeout: float = 60.0) -> Path:
    """Fetch ``url`` into ``dest`` (kept as it is when it already exists), with a progress bar.

    Any failure (no network, HTTP error, a connection cut short) is one ``GenrecError`` that names the
    URL and says where to put the file by hand.
    """
    dest = Path(dest)
    if dest.is_file():
        return dest
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            dest.parent.mkdir(parents=True, exist_ok=True)  # only once the server answers
            _save(response, part, dest.name, progress)
        os.replace(part, dest)
    except urllib.error.HTTPError as e:
        raise _failed(url, dest, f"HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise _failed(url, dest, str(e.reason)) from None
    except (OSError, ValueError) as e:  # timeouts, resets, a full disk, an unwritable folder, a bad URL
        raise _failed(url, dest, str(e) or type(e).__name__) from None
    finally:
        part.unlink(missing_ok=True)
    log.info("downloaded %s to %s", url, dest)
    return dest


def _save(response, part: Path, label: str, progress: bool) -> None:
    """Stream the response into ``part``; a body shorter than its Content-Length is an error."""
    total = int(response.headers.get("Content-Length") or 0) or None
    with open(part, "wb") as out, progress_bar(total=total, unit="B", unit_scale=True, desc=label,
                                              disable=not progress) as bar:
        while chunk := response.read(CHUNK):
            out.write(chunk)
            bar.update(len(chunk))
        if total is not None and out.tell() != total:
            raise OSError(f"connection closed after {out.tell():,} of {total:,} bytes")


def _failed(url: str, dest: Path, reason: str) -> GenrecError:
    return GenrecError(f"could not download {url}: {reason}. "
                       f"Without internet access, copy {dest.name} into {dest.parent} by hand.")
