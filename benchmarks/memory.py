"""Peak memory of one GAN training step, minigan vs PyTorch (CPU).

What it measures: the memory a training step (``step.MiniganStep`` / ``step.TorchStep``, the same
networks with the same weights) needs *on top of* what is resident before it: activations kept
for the backward pass, gradients, temporaries. Each contender runs in a fresh subprocess of this
script (so one library's caches and allocator state cannot leak into the other's number), which
builds the models, runs ``--warmup`` steps (Adam's moment buffers now exist), then measures:

- ``rss``: the step's peak resident memory above the resident memory just before it, from
  ``/proc/self/status``: ``VmHWM`` (the high-water mark, reset right before the step by writing
  ``5`` to ``/proc/self/clear_refs``) minus ``VmRSS``. Both contenders get this number; it is the
  one the ratio uses.
- ``first``: the same for the very first step after building the models (includes creating the
  optimizer state and any one-time caches).
- ``tracemalloc``: for minigan, ``tracemalloc``'s peak of traced bytes during one step minus the
  traced bytes before it (after one traced step first, so that the freeing of what every step
  replaces, gradients and optimizer moments, is seen too). NumPy reports its array buffers to
  tracemalloc, so this is the step's peak of *live* array bytes plus Python objects (Tensors,
  graph nodes), exact and independent of the allocator.
  PyTorch's CPU allocator does not report to tracemalloc (checked at run time with a 64 MiB
  tensor, recorded as ``tracemalloc_sees_torch``), so for PyTorch this column is only filled
  where that check passes.

Limits, honestly: RSS counts pages, not bytes, and depends on the C allocator. To make RSS
follow the live memory, the subprocesses run with ``MALLOC_MMAP_THRESHOLD_=65536`` (glibc: every
block of 64 KiB or more gets its own mapping, returned to the OS when freed, instead of being kept
in the heap for reuse), for both contenders alike. Small blocks still come from the heap, and
memory the allocator kept from the warm-up steps can be reused without raising the high-water
mark, so ``rss`` may read a little below the true peak; the tracemalloc number is the reference
for minigan, and comparing ``rss`` with ``tracemalloc`` for minigan shows how close RSS gets.
Only Linux has ``/proc/self/status`` and ``clear_refs``; elsewhere the RSS columns are empty.
GPU memory is not measured here.

Usage::

    python benchmarks/memory.py                  # MLP-GAN and DCGAN, batch 64 and 256
    python benchmarks/memory.py --quick          # MLP-GAN at batch 8, seconds
    python benchmarks/memory.py --models dcgan --batch 128 --out results/

Results: ``memory.json`` (a row per model and batch, each with its machine) and ``memory.md``,
in MiB (2^20 bytes). Without PyTorch installed only minigan is measured.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
if sys.argv[1:3] == ["--child", "minigan"]:  # the minigan subprocess does not load PyTorch at all
    sys.modules["torch"] = None  # type: ignore[assignment]

from _common import machine, machine_line, torch, torch_twin, write_results  # noqa: E402
from step import PAIRS, MiniganStep, TorchStep, build  # noqa: E402

import minigan  # noqa: E402

MIB = 2.0**20
MLP_KEY = next(k for k in PAIRS if k.startswith("mlp"))


# ----------------------------------------------------------------------------
# In the subprocess: one contender
# ----------------------------------------------------------------------------
def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _rss_peak_of(fn: Any) -> float | None:
    """MiB that ``fn()`` raised the resident high-water mark above the resident memory before it."""
    gc.collect()
    before = _status_kib("VmRSS")
    if before is None or not _reset_hwm():
        return None
    fn()
    hwm = _status_kib("VmHWM")
    return None if hwm is None else (hwm - before) / 1024


def _tracemalloc_peak_of(fn: Any) -> float:
    """MiB of traced memory ``fn()`` needs above the traced memory before it.

    tracemalloc cannot see the freeing of blocks allocated before it started, so one call runs
    traced first: whatever a step replaces (gradients, optimizer moments) is then traced, and its
    freeing in the measured call counts.
    """
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return (tracemalloc.get_traced_memory()[1] - before) / MIB
    finally:
        tracemalloc.stop()


def _tracemalloc_sees_torch() -> bool:
    tracemalloc.start()
    try:
        t = torch.ones(2**24)  # 64 MiB
        seen = tracemalloc.get_traced_memory()[1]
        del t
        return seen > 32 * MIB
    finally:
        tracemalloc.stop()


def child(contender: str, key: str, batch: int, warmup: int) -> dict[str, Any]:
    minigan.set_backend("numpy")
    G, D, real, latent = build(key, batch)
    params = sum(p.size for p in G.parameters()) + sum(p.size for p in D.parameters())
    if contender == "minigan":
        step: Any = MiniganStep(G, D, minigan.Tensor(real), latent)
        traced = True
    else:
        treal = torch.from_numpy(minigan.to_numpy(real))
        step = TorchStep(torch_twin(G), torch_twin(D), treal, latent)
        del G, D
        traced = _tracemalloc_sees_torch()
    res: dict[str, Any] = {"contender": contender, "params": params, "param_mib": params * 4 / MIB}
    res["first_rss_mib"] = _rss_peak_of(step)
    for _ in range(max(warmup - 1, 0)):
        step()
    res["rss_mib"] = _rss_peak_of(step)
    res["tracemalloc_mib"] = _tracemalloc_peak_of(step) if traced else None
    if contender == "torch":
        res["tracemalloc_sees_torch"] = traced
    res["vmrss_after_mib"] = (_status_kib("VmRSS") or 0) / 1024
    return res


# ----------------------------------------------------------------------------
# In the parent: a fresh subprocess per contender
# ----------------------------------------------------------------------------
def spawn(contender: str, key: str, batch: int, warmup: int) -> dict[str, Any]:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "MINIGAN_BACKEND": "numpy"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", contender, key, str(batch), str(warmup)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"the {contender} subprocess failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.quick:
        args.models, args.batch, args.warmup = [MLP_KEY], [8], 2
    use_torch = torch is not None and not args.no_torch
    mi = machine("numpy")
    rows = []
    for key in args.models:
        for batch in args.batch:
            row: dict[str, Any] = {"model": key, "batch": batch, "dtype": "float32", "warmup": args.warmup}
            m = spawn("minigan", key, batch, args.warmup)
            t = spawn("torch", key, batch, args.warmup) if use_torch else {}
            row["params"], row["param_mib"] = m["params"], m["param_mib"]
            for k in ("rss_mib", "first_rss_mib", "tracemalloc_mib"):
                row[f"minigan_{k}"], row[f"torch_{k}"] = m[k], t.get(k)
            row["tracemalloc_sees_torch"] = t.get("tracemalloc_sees_torch")
            mr, tr = row["minigan_rss_mib"], row["torch_rss_mib"]
            row["ratio_rss"] = mr / tr if (mr is not None and tr) else None
            row["method"] = "VmHWM - VmRSS around one step, fresh subprocess, MALLOC_MMAP_THRESHOLD_=65536"
            row["machine"] = mi
            rows.append(row)
            print(_row_md(row), flush=True)
    return rows


def _mib(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def _row_md(row: dict[str, Any]) -> str:
    cells = [row["model"], str(row["batch"]), _mib(row["param_mib"]), _mib(row["minigan_tracemalloc_mib"])]
    cells += [_mib(row["minigan_rss_mib"]), _mib(row["torch_rss_mib"])]
    cells += ["-" if row["ratio_rss"] is None else f"{row['ratio_rss']:.2f}"]
    cells += [_mib(row["minigan_first_rss_mib"]), _mib(row["torch_first_rss_mib"])]
    return "| " + " | ".join(cells) + " |"


def markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(nothing measured)\n"
    head = (
        machine_line(rows[0]["machine"]) + "\n\n"
        "MiB a training step needs above what is resident before it (float32; see the docstring for the "
        "method and its limits). `rss`: peak RSS rise (VmHWM - VmRSS) of a warmed-up step, fresh subprocess "
        "per contender; `first`: the same for the first step (optimizer state created).\n\n"
        "| model | batch | params MiB | minigan tracemalloc peak | minigan rss | PyTorch rss "
        "| minigan / PyTorch (rss) | minigan first | PyTorch first |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )
    return head + "\n".join(_row_md(r) for r in rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:  # internal: one contender, JSON on the last line of stdout
        contender, key, batch, warmup = argv[1], argv[2], int(argv[3]), int(argv[4])
        print(json.dumps(child(contender, key, batch, warmup)))
        return 0
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=[MLP_KEY, "dcgan"], choices=list(PAIRS), help="model pairs")
    p.add_argument("--batch", nargs="+", type=int, default=[64, 256], help="batch sizes")
    p.add_argument("--warmup", type=int, default=3, help="steps before the measured one (the first included)")
    p.add_argument("--no-torch", action="store_true", help="measure minigan only")
    p.add_argument("--quick", action="store_true", help="the MLP-GAN at batch 8 only: seconds")
    p.add_argument("--out", default="runs/benchmarks", help="folder for memory.json and memory.md")
    args = p.parse_args(argv)
    if torch is None:
        print("PyTorch is not installed: measuring minigan only (pip install torch for the comparison)")
    rows = run(args)
    write_results("memory", args.out, rows, markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
