#!/usr/bin/env bash
# Fresh virtual environment, torch pinned first (the CPU wheel), then genrec with its test extras, then the
# ruff lint check, then the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3.11 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
.venv/bin/ruff check --quiet .
OMP_NUM_THREADS=2 .venv/bin/python -m pytest "$@"
