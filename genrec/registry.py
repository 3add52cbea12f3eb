"""Name -> class look-ups for the CLI, importing a class's module only when it is asked for."""

from __future__ import annotations

import importlib

from genrec.errors import GenrecError


def lookup(registry: dict[str, str], name: str, kind: str) -> type:
    """The class registered under ``name`` (as ``"module:Class"``); a clear error names the choices."""
    if name not in registry:
        raise GenrecError(f"unknown {kind} {name!r}; choose one of: {', '.join(registry)}")
    module, cls = registry[name].split(":")
    return getattr(importlib.import_module(module), cls)
