#!/bin/sh
# GPU readiness check (bench/gpu_check.py): under 8 minutes on a CUDA machine, skips without CUDA.
cd "$(dirname "$0")/.." && exec "${PYTHON:-.venv/bin/python}" bench/gpu_check.py "$@"
