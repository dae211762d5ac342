"""Where the anchor libraries live: their own venvs, built by ``benchmarks/anchors.sh`` (``make bench`` runs it).

Override with ``LIFETIMES_PYTHON`` / ``PYMC_PYTHON`` to point at other interpreters.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"
LIFETIMES_PYTHON = os.environ.get("LIFETIMES_PYTHON", str(CACHE / "lifetimes-venv" / "bin" / "python"))
PYMC_PYTHON = os.environ.get("PYMC_PYTHON", str(CACHE / "pymc-venv" / "bin" / "python"))


def available(python: str) -> bool:
    return Path(python).exists()
