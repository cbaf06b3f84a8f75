"""Per-layer forward + backward time, minigan vs the same PyTorch layer, and GFLOP/s vs the GEMM peak.

What it measures: for each layer at a size a GAN actually uses (the MLP-GAN's and the DCGAN's
layers at batch 64 / 256, float32) one *forward + backward* call: ``y = layer(x)``, then
``y.backward(g)`` with a fixed upstream gradient ``g``, the input requiring a gradient (so the
backward computes dx as well as the parameter gradients), gradients reset to None each call.
The PyTorch contender is the same layer with the same weights (``step.torch_twin``; a plain
``torch.nn.Upsample`` for UpSampling2D). Each is timed in its own process, launches alternating
A B A B ... for ``--rounds`` rounds, the same thread settings for both, blocks redone while other
processes used the CPU (``benchmarks/_isolated.py``, the method of ``step.py``); the table gives
the median time per call over the rounds with its spread (25th-75th percentile) and the ratio
minigan / PyTorch (median of the per-round ratios; lower is better, 1.0 is parity).

For Dense, Conv2D and Conv2DTranspose it also gives the achieved GFLOP/s: the multiply-adds of
forward + backward (3 x the forward's 2*N*in*out, or 2*N*C_out*OH*OW*C_in*KH*KW for a conv;
the backward is one GEMM for dx and one for dW) over the median time, and that as a percentage of
the machine's float32 GEMM peak, measured in the same run by a large NumPy float32 matmul
(and a PyTorch one for reference). Well under 100 % means time goes elsewhere than the GEMM:
im2col copies, transposes, Python.

Usage::

    python benchmarks/ops.py                  # all layers, GAN sizes -> runs/benchmarks/ops.{json,md}
    python benchmarks/ops.py --quick          # tiny sizes, a few seconds
    python benchmarks/ops.py --layers dense conv2d --rounds 7 --out results/
    python benchmarks/ops.py --threads 1 2       # each layer at one and at two threads


Without PyTorch installed only the minigan column (and the GFLOP/s) is measured.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
if sys.argv[1:3] in (["--child", "minigan"], ["--child", "gemm-numpy"]):  # these processes never load PyTorch
    sys.modules["torch"] = None  # type: ignore[assignment]

import _isolated  # noqa: E402
from _common import (  # noqa: E402
    Timed,
    add_quartiles,
    fmt_q,
    machine,
    machine_line,
    torch,
    torch_twin,
    write_results,
)

import minigan  # noqa: E402
from minigan import nn as mnn  # noqa: E402


@dataclass
class Case:
    name: str  # what it is, e.g. "Conv2D 64->64 3x3 s2 same"
    family: str  # the --layers key
    layer: mnn.Module
    x_shape: tuple[int, ...]
    flops: float | None = None  # forward + backward multiply-adds x 2


def cases(n_img: int, n_vec: int, c: int) -> list[Case]:
    """The MLP-GAN's and the DCGAN's layers; ``c`` is the DCGAN's channel width (128 at full size)."""
    h = c // 2  # the discriminator's 64 channels
    out: list[Case] = []

    def dense(i: int, o: int, n: int) -> None:
        out.append(Case(f"Dense {i}->{o}", "dense", mnn.Dense(i, o, rng=0), (n, i), 3 * 2.0 * n * i * o))

    def conv(ci: int, co: int, k: int, s: int, hw: int, n: int) -> None:
        layer = mnn.Conv2D(ci, co, k, stride=s, padding="same", rng=0)
        oh, ow = layer.output_hw(hw, hw)
        f = 3 * 2.0 * n * co * oh * ow * ci * k * k
        out.append(Case(f"Conv2D {ci}->{co} {k}x{k} s{s} on {hw}x{hw}", "conv2d", layer, (n, ci, hw, hw), f))

    def convt(ci: int, co: int, k: int, s: int, hw: int, n: int) -> None:
        layer = mnn.Conv2DTranspose(ci, co, k, stride=s, padding="same", rng=0)
        f = 3 * 2.0 * n * ci * hw * hw * co * k * k  # the conv it transposes, run backwards
        out.append(
            Case(f"Conv2DTranspose {ci}->{co} {k}x{k} s{s} on {hw}x{hw}", "conv2dtranspose", layer, (n, ci, hw, hw), f)
        )

    dense(784, 512, n_vec)  # MLP D, first layer
    dense(512, 784, n_vec)  # MLP G, last layer
    dense(100, c * 49, n_img)  # DCGAN G: latent -> (c, 7, 7)
    conv(1, h, 3, 2, 28, n_img)  # DCGAN D, first conv
    conv(h, h, 3, 2, 14, n_img)  # DCGAN D, second conv
    conv(c, 1, 3, 1, 28, n_img)  # DCGAN G, the output conv
    convt(c, c, 4, 2, 7, n_img)  # DCGAN G: 7 -> 14
    convt(c, c, 4, 2, 14, n_img)  # DCGAN G: 14 -> 28
    out.append(Case(f"BatchNorm {c} on {c}x14x14", "batchnorm", mnn.BatchNorm(c), (n_img, c, 14, 14)))
    out.append(Case("BatchNorm 512 (vectors)", "batchnorm", mnn.BatchNorm(512), (n_vec, 512)))
    out.append(Case(f"UpSampling2D x2 on {c}x7x7", "upsampling2d", mnn.UpSampling2D(2), (n_img, c, 7, 7)))
    out.append(Case(f"LeakyReLU on {c}x14x14", "leakyrelu", mnn.LeakyReLU(0.2), (n_img, c, 14, 14)))
    out.append(Case("LeakyReLU on 512 (vectors)", "leakyrelu", mnn.LeakyReLU(0.2), (n_vec, 512)))
    return out


FAMILIES = ["dense", "conv2d", "conv2dtranspose", "batchnorm", "upsampling2d", "leakyrelu"]


def gemm_peak(lib: str, n: int, reps: int) -> dict[str, float]:
    """Best and median GFLOP/s of an (n x n) @ (n x n) float32 matmul in ``lib`` (numpy or torch)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    if lib == "torch":
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        f = lambda: ta @ tb  # noqa: E731
    else:
        f = lambda: a @ b  # noqa: E731
    f()  # warm-up
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    gf = [2.0 * n**3 / t / 1e9 for t in ts]
    return {"best": max(gf), "median": float(np.median(gf))}


def contender(case: Case, who: str) -> Timed:
    """Forward + backward of ``case``'s layer in minigan (``who="minigan"``) or its PyTorch twin."""
    rng = np.random.default_rng(0)
    x_host = rng.standard_normal(case.x_shape).astype(np.float32)
    layer = case.layer
    layer.train()
    with minigan.no_grad():
        y_shape = layer(minigan.tensor(x_host)).shape
    g_host = rng.standard_normal(y_shape).astype(np.float32)
    if who == "minigan":
        x = minigan.tensor(x_host, requires_grad=True)
        g = minigan.tensor(g_host)
        params = layer.parameters()

        def mine() -> None:
            x.grad = None
            for p in params:
                p.grad = None
            layer(x).backward(g)

        return Timed(mine)
    if isinstance(layer, mnn.UpSampling2D):
        twin = torch.nn.Upsample(scale_factor=layer.size, mode="nearest")
    elif isinstance(layer, mnn.LeakyReLU):  # torch_twin needs a parameter to read the dtype from
        twin = torch.nn.LeakyReLU(layer.slope)
    else:
        twin = torch_twin(mnn.Sequential(layer))
    twin.train()
    tx = torch.from_numpy(x_host).requires_grad_(True)
    tg = torch.from_numpy(g_host)

    def theirs() -> None:
        tx.grad = None
        twin.zero_grad(set_to_none=True)
        twin(tx).backward(tg)

    return Timed(theirs)


def _sizes(quick: bool) -> tuple[int, int, int, int, int]:
    """(images per batch, vectors per batch, DCGAN channels, GEMM size, GEMM repeats)."""
    return (4, 16, 32, 512, 3) if quick else (64, 256, 128, 2048, 7)


def child(args: argparse.Namespace) -> int:
    """One contender in this process: a GEMM peak, or one layer's forward + backward."""
    minigan.set_backend("numpy")
    n_img, n_vec, c, gemm_n, reps = _sizes(args.quick)
    if torch is not None:
        torch.set_num_threads(args.threads[0])
    if args.child.startswith("gemm-"):
        _isolated.child_result(gemm_peak(args.child[len("gemm-") :], gemm_n, reps))
        return 0
    case = cases(n_img, n_vec, c)[args.case]
    timed = contender(case, args.child)
    _isolated.child_result(_isolated.time_child(timed, timed.sync, args))
    return 0


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The parent: per thread count and layer, the two contenders' processes A B A B ..."""
    use_torch = torch is not None and not args.no_torch
    n_img, n_vec, c, gemm_n, reps = _sizes(args.quick)
    script = str(Path(__file__).resolve())
    common = _isolated.child_args(args)
    mi = machine("numpy")
    rows = []
    for threads in args.threads:
        env = _isolated.thread_env(threads)
        peak: dict[str, Any] = {"gemm_n": gemm_n, "threads": threads}
        for lib in ["numpy"] + ["torch"] * use_torch:
            cmd = _isolated.python_cmd(script, "--child", f"gemm-{lib}", "--threads", str(threads), *common)
            res = _isolated.launch(cmd, env)
            peak[f"{lib}_gemm_gflops_best"], peak[f"{lib}_gemm_gflops_median"] = res["best"], res["median"]
        print(f"{threads} thread(s): float32 GEMM {gemm_n}^3, NumPy {peak['numpy_gemm_gflops_best']:.1f} GFLOP/s")
        for index, case in enumerate(cases(n_img, n_vec, c)):
            if case.family not in args.layers:
                continue
            args_of = ["--case", str(index), "--threads", str(threads), *common]
            who = ["minigan"] + ["torch"] * use_torch
            cmds = {w: _isolated.python_cmd(script, "--child", w, *args_of) for w in who}
            results = _isolated.run_alternating(cmds, rounds=args.rounds, threads=threads)
            meds = {w: _isolated.round_medians(results[w]) for w in who}
            row: dict[str, Any] = {"layer": case.name, "family": case.family, "input_shape": list(case.x_shape)}
            row["threads"] = threads
            add_quartiles(row, "minigan", meds["minigan"])
            add_quartiles(row, "torch", meds.get("torch"))
            row["ratio"] = _isolated.paired_ratio(meds["minigan"], meds["torch"]) if "torch" in meds else None
            row["busy"] = {w: _isolated.busy_summary(results[w]) for w in who}
            row["gflop"] = None if case.flops is None else case.flops / 1e9
            for w in ("minigan", "torch"):
                ms = row[f"{w}_ms"]
                gfs = None if (case.flops is None or ms is None) else case.flops / (ms / 1e3) / 1e9
                row[f"{w}_gflops"] = gfs
                row[f"{w}_pct_of_peak"] = None if gfs is None else 100.0 * gfs / peak["numpy_gemm_gflops_best"]
            row.update(peak)
            row["machine"] = mi
            rows.append(row)
            print(_row_md(row), flush=True)
    return rows


def _num(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def _row_md(row: dict[str, Any]) -> str:
    cells = [
        row["layer"],
        "x".join(map(str, row["input_shape"])),
        str(row["threads"]),
        fmt_q(row, "minigan"),
        fmt_q(row, "torch"),
        _num(row["ratio"], ".2f"),
        _num(row["minigan_gflops"], ".1f"),
        _num(row["minigan_pct_of_peak"], ".0f"),
        _num(row["torch_gflops"], ".1f"),
        _num(row["torch_pct_of_peak"], ".0f"),
    ]
    return "| " + " | ".join(cells) + " |"


def markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(no layers selected)\n"
    r0 = rows[0]
    peaks = {}
    for r in rows:
        t = r.get("torch_gemm_gflops_best")
        peaks[r["threads"]] = f"NumPy {r['numpy_gemm_gflops_best']:.1f}" + ("" if t is None else f", PyTorch {t:.1f}")
    head = (
        machine_line(r0["machine"]) + "\n\n"
        f"float32 GEMM peak ({r0['gemm_n']}x{r0['gemm_n']} matmul, best, GFLOP/s): "
        + "; ".join(f"{k} thread(s): {v}" for k, v in peaks.items())
        + ". Each contender in its own process; forward + backward per call, ms: median over rounds "
        "(25th-75th percentile); % peak is of NumPy's GEMM peak at the same threads.\n\n"
        "| layer | input | threads | minigan ms | PyTorch ms | minigan / PyTorch | minigan GFLOP/s | % peak "
        "| PyTorch GFLOP/s | % peak |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )
    return head + "\n".join(_row_md(r) for r in rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", nargs="+", default=FAMILIES, choices=FAMILIES, help="layer families to time")
    _isolated.add_method_args(p, threads=[2], block_seconds=0.3, unit="calls")
    p.add_argument("--no-torch", action="store_true", help="leave out PyTorch: time minigan only")
    p.add_argument("--quick", action="store_true", help="tiny sizes, 2 rounds of 1 short block: a smoke run")
    p.add_argument("--out", default="runs/benchmarks", help="folder for ops.json and ops.md")
    p.add_argument("--child", choices=["minigan", "torch", "gemm-numpy", "gemm-torch"], help=argparse.SUPPRESS)
    p.add_argument("--case", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        _isolated.quick_method(args)
    if args.child:
        return child(args)
    minigan.set_backend("numpy")
    if torch is None:
        print("PyTorch is not installed: timing minigan only (pip install torch for the comparison)")
    rows = run(args)
    write_results("ops", args.out, rows, markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
