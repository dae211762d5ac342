"""Where the benchmarks' inputs live: the anchor libraries' own venvs, built by ``benchmarks/anchors.sh``
(``make bench`` runs it), and the shared public datasets.

Override with ``LIFETIMES_PYTHON`` / ``PYMC_PYTHON`` to point at other interpreters, ``PATRON_SHARED_DATA`` for
the datasets.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"
LIFETIMES_PYTHON = os.environ.get("LIFETIMES_PYTHON", str(CACHE / "lifetimes-venv" / "bin" / "python"))
PYMC_PYTHON = os.environ.get("PYMC_PYTHON", str(CACHE / "pymc-venv" / "bin" / "python"))


def available(python: str) -> bool:
    return Path(python).exists()


def shared_data() -> Path:
    """PATRON_SHARED_DATA, else the nearest ``shared/data`` above the checkout (as the tests look for it)."""
    if os.environ.get("PATRON_SHARED_DATA"):
        return Path(os.environ["PATRON_SHARED_DATA"])
    for parent in CACHE.parent.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return CACHE.parent.parent.parent / "shared" / "data"
