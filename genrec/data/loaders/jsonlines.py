"""One line of a JSON-lines file as a dict, or a DataError naming the file and line."""

from __future__ import annotations

import json
from pathlib import Path

from genrec.errors import DataError


def json_object(line: str, path: Path, line_no: int) -> dict:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(f"not a JSON object ({e.msg})", path, line_no) from None
    if not isinstance(value, dict):
        raise DataError("not a JSON object", path, line_no)
    return value
