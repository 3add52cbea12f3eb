#!/usr/bin/env bash
# Fresh virtual environment, torch pinned first, then genrec; then the main job on Beauty.
set -euo pipefail
cd "$(dirname "$0")/.."
python3.11 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/pip install -q --disable-pip-version-check -e .
.venv/bin/genrec run --max-minutes 10 "$@"
