#!/usr/bin/env bash
# Builds the anchor libraries' own virtualenvs, used only by the benchmarks (never by Patron or its tests):
#   benchmarks/.cache/lifetimes-venv  lifetimes 0.11.3 (archived; needs numpy < 2 and pandas < 2)
#   benchmarks/.cache/pymc-venv       pymc-marketing (current release)
# They live apart from the project's venv because lifetimes cannot import with the pandas Patron uses.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
mkdir -p .cache
if [ ! -x .cache/lifetimes-venv/bin/python ] || ! .cache/lifetimes-venv/bin/python -c "import lifetimes" 2>/dev/null; then
  "$PYTHON" -m venv .cache/lifetimes-venv
  .cache/lifetimes-venv/bin/pip install --quiet "lifetimes==0.11.3" "numpy<2" "pandas<2" "scipy<1.14" "pyarrow<17"
fi
if [ ! -x .cache/pymc-venv/bin/python ] || ! .cache/pymc-venv/bin/python -c "import pymc_marketing" 2>/dev/null; then
  "$PYTHON" -m venv .cache/pymc-venv
  .cache/pymc-venv/bin/pip install --quiet pymc-marketing pyarrow
fi
echo "anchors ready: $(pwd)/.cache/lifetimes-venv, $(pwd)/.cache/pymc-venv"
