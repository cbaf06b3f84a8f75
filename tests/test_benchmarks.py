"""Smoke test: every script in benchmarks/ runs at a tiny size and writes its results.

Each script runs as a subprocess (as a user would run it) into ``tmp_path``; the test checks
the exit code and that the JSON is written and readable. The scripts that compare with PyTorch
run twice: as installed, and with ``import torch`` made to fail (a shadowing ``torch.py`` on
PYTHONPATH), since they must skip the PyTorch parts cleanly where it is missing. BLAS/OpenMP are
pinned to one thread: this checks that the scripts work, not how fast.

Marked slow: the whole file takes about a minute (each subprocess imports NumPy, minigan and
often PyTorch and matplotlib), well over the default suite's budget.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
HAS_TORCH = importlib.util.find_spec("torch") is not None

pytestmark = pytest.mark.slow


def _step_args() -> list[str]:
    """step.py's tiny run: ``--quick`` where step.py has it, else the flags it is made of."""
    sys.path.insert(0, str(BENCH))
    try:
        from step import PAIRS
    finally:
        sys.path.remove(str(BENCH))
    mlp = next(k for k in PAIRS if k.startswith("mlp"))
    tiny = ["--quick"] if "--quick" in (BENCH / "step.py").read_text() else ["--rounds", "1", "--per-round", "1"]
    return [*tiny, "--models", mlp, "--batch", "8", "--warmup", "1", "--json", "{tmp}/step.json"]


#: script -> (arguments, the JSON it writes or None); ``{tmp}`` is the test's output folder.
SCRIPTS: dict[str, tuple[list[str], str | None]] = {
    "step.py": (_step_args(), "step.json"),
    "toy2d.py": (["--steps", "5", "plain-ring", "--out", "{tmp}"], "toy2d.json"),
    "glyph_speed.py": (["-n", "20"], None),
    "ops.py": (["--quick", "--layers", "dense", "leakyrelu", "--out", "{tmp}"], "ops.json"),
    "engine_overhead.py": (["--quick", "--out", "{tmp}"], "engine_overhead.json"),
    "scaling.py": (["--quick", "--out", "{tmp}"], "scaling.json"),
    "memory.py": (["--quick", "--out", "{tmp}"], "memory.json"),
    "cpu_vs_gpu.py": (["--quick", "--out", "{tmp}"], "cpu_vs_gpu.json"),
    "quality.py": (["--quick", "--out", "{tmp}"], "quality.json"),
    "profile_step.py": (["--quick"], None),
    "time_to_quality.py": (["--quick", "--out", "{tmp}"], "time_to_quality.json"),
    "variations.py": (["--quick", "--out", "{tmp}"], "variations.json"),
    "pretrained.py": (["--quick", "--folder", "{tmp}", "--runs", "{tmp}/runs", "cgan", "ring-2d"], None),
    "lab_speed.py": (["--quick", "--out", "{tmp}"], "lab_speed.json"),
}
#: the scripts with PyTorch columns, run again with torch hidden (and any extra arguments for that run)
NO_TORCH: dict[str, list[str]] = {
    "step.py": [],
    "ops.py": [],
    "engine_overhead.py": [],
    "scaling.py": [],
    "memory.py": [],
    "cpu_vs_gpu.py": ["--gpu-backend", "strict"],  # also the two-backend path, on the CPU
    "time_to_quality.py": [],
}


def _run(script: str, args: list[str], tmp_path: Path, hide_torch: bool) -> subprocess.CompletedProcess:
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    env["MKL_NUM_THREADS"] = "1"
    env.pop("MINIGAN_BACKEND", None)  # the scripts pick their backends themselves
    if hide_torch:
        shadow = tmp_path / "no_torch"
        shadow.mkdir()
        (shadow / "torch.py").write_text("raise ImportError('torch hidden by tests/test_benchmarks.py')\n")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shadow), env.get("PYTHONPATH")]))
    cmd = [sys.executable, str(BENCH / script), *(a.replace("{tmp}", str(out)) for a in args)]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"{script} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def _check_json(tmp_path: Path, name: str | None, hide_torch: bool) -> None:
    if name is None:
        return
    path = tmp_path / "out" / name
    assert path.is_file(), f"{name} was not written"
    data = json.loads(path.read_text())
    assert data, f"{name} is empty"
    if isinstance(data, list):  # the benchmarks' rows, each carrying the machine it was measured on
        for row in data:
            assert row["machine"]["numpy"] and row["machine"]["cpu"]
            if hide_torch:
                assert row["machine"]["torch"] is None


def test_every_script_is_covered():
    scripts = {p.name for p in BENCH.glob("*.py") if not p.name.startswith("_")}
    assert scripts == set(SCRIPTS), "add new benchmark scripts to SCRIPTS in tests/test_benchmarks.py"


@pytest.mark.parametrize("script", list(SCRIPTS))
def test_script_runs(script, tmp_path):
    args, json_name = SCRIPTS[script]
    _run(script, args, tmp_path, hide_torch=False)
    _check_json(tmp_path, json_name, hide_torch=False)


@pytest.mark.parametrize("script", list(NO_TORCH))
def test_script_runs_without_torch(script, tmp_path):
    args, json_name = SCRIPTS[script]
    proc = _run(script, args + NO_TORCH[script], tmp_path, hide_torch=True)
    _check_json(tmp_path, json_name, hide_torch=True)
    if HAS_TORCH and script != "cpu_vs_gpu.py":  # says in one line that the PyTorch side is left out
        assert "PyTorch is not installed" in proc.stdout


def test_cpu_vs_gpu_says_when_there_is_no_gpu(tmp_path):
    proc = _run("cpu_vs_gpu.py", SCRIPTS["cpu_vs_gpu.py"][0], tmp_path, hide_torch=not HAS_TORCH)
    rows = json.loads((tmp_path / "out" / "cpu_vs_gpu.json").read_text())
    if rows[0]["gpu"] is None:
        assert "No GPU present" in proc.stdout
        assert rows[0]["numpy_ms"] > 0 and rows[0]["gpu_ms"] is None
    assert (tmp_path / "out" / "cpu_vs_gpu.png").is_file()
