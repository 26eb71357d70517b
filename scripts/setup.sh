#!/usr/bin/env bash
# Set up roots in ./.venv on a fresh machine: PyTorch first, then roots with every stage's extras.
#   bash scripts/setup.sh          # to use roots
#   bash scripts/setup.sh --test   # also the test tools
# An activated virtual environment (or ROOTS_VENV=path) is used instead of ./.venv.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="all"
[[ "${1:-}" == "--test" ]] && extras="all,test"

venv="${ROOTS_VENV:-${VIRTUAL_ENV:-.venv}}"
if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
fi
py="$venv/bin/python"
"$py" -m pip install -q --upgrade pip >/dev/null 2>&1 || true

# PyTorch before the project: the project asks for a torch *range*, so an installed build (a user's
# CUDA build, say) is kept. Without one, take the pinned CPU release; on a machine with an NVIDIA GPU
# install the CUDA build you want into the venv first, then rerun this script.
if ! "$py" -c "import torch" >/dev/null 2>&1; then
    "$py" -m pip install -q "torch==2.13.0"
fi
# scripts/constraints.txt: the tested versions (a lock for pip; without it the resolver can spend many
# minutes backtracking through boto3/botocore releases for s3fs + moto)
"$py" -m pip install -q -e ".[$extras]" -c scripts/constraints.txt
echo "roots is set up in $venv ($("$py" -c 'import torch; print("torch", torch.__version__)'))"
