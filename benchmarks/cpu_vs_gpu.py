"""The same GAN training step on the CPU (backend numpy) and on the GPU (backend cupy): the speed-up.

What it measures: one training step (``step.MiniganStep``, exactly what ``minigan train`` runs)
of the same models with the same initial weights, built once on backend ``numpy`` and once on
backend ``cupy``, timed interleaved (CPU block, GPU block, CPU block, ...) after warm-up; the GPU
time of a block ends with a host read of a parameter, which waits for the GPU to finish. Each
call switches the active backend (``minigan.use_backend``; microseconds, the same for both). The
table gives the median ms per step with the 25th-75th percentile, and the speed-up
numpy / cupy (median of the per-round ratios; above 1 the GPU is faster). Where PyTorch is
installed its CPU step (and its CUDA step where it sees a GPU) are timed in the same rounds as
reference columns.

How to read it: small models at small batches are dominated by per-op overhead (Python, kernel
launches), where a GPU gains little or even loses; the speed-up should grow with the batch and
the model's arithmetic (the conv models more than the MLP).

Without CuPy or a GPU the script says so plainly in one line, still measures and writes the CPU
numbers (the GPU columns empty, ``gpu: null`` in the JSON), and exits 0.

Usage::

    python benchmarks/cpu_vs_gpu.py                # all models, batch 64 and 256 -> runs/benchmarks/cpu_vs_gpu.*
    python benchmarks/cpu_vs_gpu.py --quick        # the MLP-GAN at batch 8, seconds
    python benchmarks/cpu_vs_gpu.py --models dcgan --batch 256 1024 --rounds 9
    python benchmarks/cpu_vs_gpu.py --quick --gpu-backend strict   # the two-backend code path without a GPU

On a small or shared machine pin the threads (``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python ...``):
NumPy's OpenBLAS and PyTorch's worker threads spin-waiting against each other on too few cores can
slow both down tenfold (measured on a loaded 2-core machine). The JSON records these variables.

Outputs ``cpu_vs_gpu.json`` (a row per model and batch, each with its machine and GPU),
``cpu_vs_gpu.md`` and ``cpu_vs_gpu.png`` (a bar chart of ms per step, log scale).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    add_quartiles,
    add_timing_args,
    fmt_q,
    machine,
    machine_line,
    paired_ratio,
    time_interleaved,
    torch,
    torch_twin,
    write_results,
)
from step import PAIRS, MiniganStep, TorchStep, build  # noqa: E402

import minigan  # noqa: E402

MLP_KEY = next(k for k in PAIRS if k.startswith("mlp"))
LABELS = {"numpy": "minigan numpy", "gpu": "minigan GPU", "torch_cpu": "PyTorch CPU", "torch_cuda": "PyTorch CUDA"}


class OnBackend:
    """A MiniganStep built on, and always run on, one backend (the active one is switched per call)."""

    def __init__(self, backend: str, key: str, batch: int) -> None:
        self.backend = backend
        with minigan.use_backend(backend):
            G, D, real, latent = build(key, batch)
            self.step = MiniganStep(G, D, minigan.Tensor(real), latent)
        self.G, self.D, self.real, self.latent = G, D, real, latent

    def __call__(self) -> None:
        with minigan.use_backend(self.backend):
            self.step()

    def sync(self) -> None:
        with minigan.use_backend(self.backend):
            self.step.sync()


def probe_gpu(backend: str) -> tuple[str | None, str]:
    """(the device's name or None, a line saying what was found)."""
    try:
        with minigan.use_backend(backend):
            pass
    except minigan.BackendError as e:
        return None, f"No GPU present: {e}. Measuring the CPU (backend numpy) only."
    if backend == "strict":
        return "array-api-strict (CPU)", "Backend strict stands in for the GPU: it runs on the CPU, no speed-up."
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    return name, f"GPU: {name} (CuPy {cupy.__version__})."


def run(args: argparse.Namespace, gpu: str | None) -> list[dict[str, Any]]:
    if args.quick:
        args.models, args.batch, args.rounds, args.per_round, args.warmup = [MLP_KEY], [8], 3, 1, 1
    use_torch = torch is not None and not args.no_torch
    cuda = use_torch and torch.cuda.is_available()
    mi = machine("numpy")
    rows = []
    for key in args.models:
        for batch in args.batch:
            cpu = OnBackend("numpy", key, batch)
            steps: dict[str, Any] = {"numpy": cpu}
            if gpu is not None:
                steps["gpu"] = OnBackend(args.gpu_backend, key, batch)
            if use_torch:
                treal = torch.from_numpy(minigan.to_numpy(cpu.real))
                steps["torch_cpu"] = TorchStep(torch_twin(cpu.G), torch_twin(cpu.D), treal, cpu.latent)
                if cuda:
                    G, D = torch_twin(cpu.G, "cuda"), torch_twin(cpu.D, "cuda")
                    steps["torch_cuda"] = TorchStep(G, D, treal.to("cuda"), cpu.latent)
            times = time_interleaved(steps, args.rounds, args.per_round, args.warmup)
            row: dict[str, Any] = {"model": key, "batch": batch, "gpu_backend": args.gpu_backend, "gpu": gpu}
            for name in LABELS:
                add_quartiles(row, name, times.get(name))
            row["speedup"] = paired_ratio(times["numpy"], times["gpu"]) if "gpu" in times else None
            row["torch_speedup"] = paired_ratio(times["torch_cpu"], times["torch_cuda"]) if cuda else None
            row["machine"] = mi
            rows.append(row)
            print(_row_md(row), flush=True)
    return rows


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def _row_md(row: dict[str, Any]) -> str:
    cells = [row["model"], str(row["batch"]), fmt_q(row, "numpy"), fmt_q(row, "gpu"), _x(row["speedup"])]
    cells += [fmt_q(row, "torch_cpu"), fmt_q(row, "torch_cuda"), _x(row["torch_speedup"])]
    return "| " + " | ".join(cells) + " |"


def markdown(rows: list[dict[str, Any]], note: str) -> str:
    if not rows:
        return note + "\n"
    head = (
        machine_line(rows[0]["machine"]) + f"\n\n{note}\n\n"
        f"One GAN training step, ms: median (25th-75th percentile); minigan's GPU backend: "
        f"`{rows[0]['gpu_backend']}`.\n\n"
        "| model | batch | minigan numpy | minigan GPU | speed-up | PyTorch CPU | PyTorch CUDA | speed-up |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )
    return head + "\n".join(_row_md(r) for r in rows) + "\n"


def plot(rows: list[dict[str, Any]], note: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present = [k for k in LABELS if any(r[f"{k}_ms"] is not None for r in rows)]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(rows) * max(len(present), 1) / 2), 4), constrained_layout=True)
    width = 0.8 / max(len(present), 1)
    for i, k in enumerate(present):
        xs = [j + (i - (len(present) - 1) / 2) * width for j in range(len(rows))]
        ys = [r[f"{k}_ms"] or 0.0 for r in rows]
        bars = ax.bar(xs, ys, width, label=LABELS[k])
        if k == "gpu":
            ax.bar_label(bars, labels=[_x(r["speedup"]) for r in rows], fontsize=7)
    ax.set_xticks(range(len(rows)), [f"{r['model']}\nbatch {r['batch']}" for r in rows])
    ax.set_yscale("log")
    ax.set_ylabel("ms per training step (median)")
    ax.set_title(note if len(note) < 90 else note[:87] + "...", fontsize=8)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=list(PAIRS), choices=list(PAIRS), help="model pairs to time")
    p.add_argument("--batch", nargs="+", type=int, default=[64, 256], help="batch sizes")
    add_timing_args(p)
    p.add_argument(
        "--gpu-backend",
        default="cupy",
        choices=["cupy", "strict"],
        help="minigan's GPU backend (strict: test the two-backend path on a CPU-only machine)",
    )
    p.add_argument("--quick", action="store_true", help="the MLP-GAN at batch 8, 3 rounds of 1 step: seconds")
    p.add_argument("--out", default="runs/benchmarks", help="folder for cpu_vs_gpu.json, .md and .png")
    args = p.parse_args(argv)
    minigan.set_backend("numpy")
    gpu, note = probe_gpu(args.gpu_backend)
    print(note, flush=True)
    rows = run(args, gpu)
    table = markdown(rows, note)
    write_results("cpu_vs_gpu", args.out, rows, table)
    if rows:
        plot(rows, note, Path(args.out) / "cpu_vs_gpu.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
