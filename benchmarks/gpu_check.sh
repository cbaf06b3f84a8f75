#!/usr/bin/env bash
# Everything that needs an NVIDIA GPU, in one run (the device time of a session is short):
#   1. the whole test-suite on the cupy backend;
#   2. benchmarks/cpu_vs_gpu.py: the same step on NumPy and on CuPy (MLP-GAN, conv GAN, DCGAN
#      at batch 64, 256 and 1024);
#   3. benchmarks/step.py --backend cupy: minigan on the GPU against PyTorch on CUDA.
# Results go to ${OUT:-runs/gpu_check} (JSON and markdown tables, the pytest log, nvidia-smi).
# Usage, from the repository root of a machine with a GPU:
#   pip install -e '.[test,gpu]' 'torch==2.13.0' && bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || echo "nvidia-smi failed: is there a GPU?" | tee -a "$OUT/nvidia-smi.txt"
$PY -c "import cupy; print('cupy', cupy.__version__, cupy.cuda.runtime.getDeviceCount(), 'GPU(s)')" | tee "$OUT/cupy.txt"

echo "== tests on cupy"
MINIGAN_BACKEND=cupy timeout 1500 $PY -m pytest -q -m "not slow" -x -p no:cacheprovider 2>&1 | tee "$OUT/pytest_cupy.log" | tail -5

echo "== cpu_vs_gpu"
timeout 900 $PY benchmarks/cpu_vs_gpu.py --models mlp-gan conv-gan dcgan --batch 64 256 1024 --rounds 5 \
  --out "$OUT" 2>&1 | tail -20

echo "== step.py --backend cupy"
timeout 900 $PY benchmarks/step.py --backend cupy --rounds 5 --json "$OUT/step_cupy.json" 2>&1 | tail -20
