#!/usr/bin/env bash
# Everything that needs an NVIDIA GPU, in one run (the device time of a session is short):
#   1. the test-suite on the cupy backend (in parallel where pytest-xdist is installed; the
#      notebook tests are left out where nbclient is missing);
#   2. benchmarks/cpu_vs_gpu.py: the same step on NumPy and on CuPy (MLP-GAN, conv GAN, DCGAN);
#   3. benchmarks/step.py --backend cupy: minigan on the GPU against PyTorch on CUDA.
# Each part has its own time limit (seconds: TEST_S, CPU_VS_GPU_S, STEP_S) so that one slow part
# cannot eat the others' time. Results go to ${OUT:-runs/gpu_check} (JSON and markdown tables,
# the pytest log, nvidia-smi, the package versions).
# Usage, from the repository root of a machine with a GPU:
#   pip install -e '.[test,gpu]' 'torch==2.13.0' && bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || echo "nvidia-smi failed: is there a GPU?" | tee -a "$OUT/nvidia-smi.txt"
$PY - <<'PYEOF' 2>&1 | tee "$OUT/versions.txt"
import importlib.metadata as md, os, platform
print("python", platform.python_version(), "cpus", os.cpu_count())
for name in ("numpy", "cupy-cuda13x", "cupy-cuda12x", "torch", "array-api-strict", "pytest", "hypothesis"):
    try:
        print(name, md.version(name))
    except md.PackageNotFoundError:
        pass
import cupy
print("cupy sees", cupy.cuda.runtime.getDeviceCount(), "GPU(s):", cupy.cuda.runtime.getDeviceProperties(0)["name"].decode())
PYEOF

echo "== tests on cupy"
args=(-q -m "not slow" -p no:cacheprovider -rfE)
$PY -c "import xdist" 2>/dev/null && args+=(-n "${WORKERS:-8}" --dist loadfile)
$PY -c "import pytest_timeout" 2>/dev/null && args+=(--timeout 240)
$PY -c "import nbclient" 2>/dev/null || args+=(--ignore tests/test_tutorials.py --ignore tests/test_course_on_device.py)
MINIGAN_BACKEND=cupy timeout "${TEST_S:-1500}" $PY -m pytest "${args[@]}" > "$OUT/pytest_cupy.log" 2>&1
echo "pytest exit $?"; tail -25 "$OUT/pytest_cupy.log"

echo "== cpu_vs_gpu"
timeout "${CPU_VS_GPU_S:-900}" $PY benchmarks/cpu_vs_gpu.py --models ${MODELS:-mlp-gan conv-gan dcgan} \
  --batch ${BATCHES:-64 256 1024} --rounds "${ROUNDS:-5}" --out "$OUT" 2>&1 | tail -20

echo "== step.py --backend cupy"
timeout "${STEP_S:-900}" $PY benchmarks/step.py --backend cupy --rounds "${ROUNDS:-5}" \
  --json "$OUT/step_cupy.json" --markdown "$OUT/step_cupy.md" 2>&1 | tail -20
