"""Per-layer forward + backward time, minigan vs the same PyTorch layer, and GFLOP/s vs the GEMM peak.

What it measures: for each layer at a size a GAN actually uses (the MLP-GAN's and the DCGAN's
layers at batch 64 / 256, float32) one *forward + backward* call: ``y = layer(x)``, then
``y.backward(g)`` with a fixed upstream gradient ``g``, the input requiring a gradient (so the
backward computes dx as well as the parameter gradients), gradients reset to None each call.
The PyTorch contender is the same layer with the same weights (``step.torch_twin``; a plain
``torch.nn.Upsample`` for UpSampling2D). The two are timed interleaved, A B A B ..., after
warm-up calls; the table gives the median time per call with its spread (25th-75th percentile)
and the ratio minigan / PyTorch (median of the per-round ratios; lower is better, 1.0 is parity).

For Dense, Conv2D and Conv2DTranspose it also gives the achieved GFLOP/s: the multiply-adds of
forward + backward (3 x the forward's 2*N*in*out, or 2*N*C_out*OH*OW*C_in*KH*KW for a conv;
the backward is one GEMM for dx and one for dW) over the median time, and that as a percentage of
the machine's float32 GEMM peak, measured in the same run by a large NumPy float32 matmul
(and a PyTorch one for reference). Well under 100 % means time goes elsewhere than the GEMM:
im2col copies, transposes, Python.

Usage::

    python benchmarks/ops.py                  # all layers, GAN sizes -> runs/benchmarks/ops.{json,md}
    python benchmarks/ops.py --quick          # tiny sizes, a few seconds
    python benchmarks/ops.py --layers dense conv2d --rounds 15 --out results/

On a small or shared machine pin the threads (``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python ...``):
NumPy's OpenBLAS and PyTorch's worker threads spin-waiting against each other on too few cores can
slow both down tenfold (measured on a loaded 2-core machine). The JSON records these variables.

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

from _common import (  # noqa: E402
    Timed,
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


def gemm_peak(n: int, reps: int) -> dict[str, Any]:
    """Best and median GFLOP/s of an (n x n) @ (n x n) float32 matmul, NumPy (and PyTorch)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    res: dict[str, Any] = {"gemm_n": n}
    contenders = {"numpy": lambda: a @ b}
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        contenders["torch"] = lambda: ta @ tb
    for name, f in contenders.items():
        f()  # warm-up
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
        gf = [2.0 * n**3 / t / 1e9 for t in ts]
        res[f"{name}_gemm_gflops_best"] = max(gf)
        res[f"{name}_gemm_gflops_median"] = float(np.median(gf))
    return res


def contenders(case: Case, use_torch: bool) -> dict[str, Timed]:
    rng = np.random.default_rng(0)
    x_host = rng.standard_normal(case.x_shape).astype(np.float32)
    layer = case.layer
    layer.train()
    with minigan.no_grad():
        y_shape = layer(minigan.tensor(x_host)).shape
    g_host = rng.standard_normal(y_shape).astype(np.float32)
    x = minigan.tensor(x_host, requires_grad=True)
    g = minigan.tensor(g_host)
    params = layer.parameters()

    def mine() -> None:
        x.grad = None
        for p in params:
            p.grad = None
        layer(x).backward(g)

    out = {"minigan": Timed(mine)}
    if use_torch:
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

        out["torch"] = Timed(theirs)
    return out


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    use_torch = torch is not None and not args.no_torch
    if args.quick:
        n_img, n_vec, c, gemm_n, reps = 4, 16, 32, 512, 3
        args.rounds, args.per_round, args.warmup = 3, 1, 1
    else:
        n_img, n_vec, c, gemm_n, reps = 64, 256, 128, 2048, 7
    mi = machine("numpy")
    peak = gemm_peak(gemm_n, reps)
    print(f"float32 GEMM {gemm_n}^3: NumPy {peak['numpy_gemm_gflops_best']:.1f} GFLOP/s (best of {reps})", flush=True)
    rows = []
    for case in cases(n_img, n_vec, c):
        if case.family not in args.layers:
            continue
        times = time_interleaved(contenders(case, use_torch), args.rounds, args.per_round, args.warmup)
        row: dict[str, Any] = {"layer": case.name, "family": case.family, "input_shape": list(case.x_shape)}
        add_quartiles(row, "minigan", times["minigan"])
        add_quartiles(row, "torch", times.get("torch"))
        row["ratio"] = paired_ratio(times["minigan"], times["torch"]) if "torch" in times else None
        row["gflop"] = None if case.flops is None else case.flops / 1e9
        for who in ("minigan", "torch"):
            ms = row[f"{who}_ms"]
            gfs = None if (case.flops is None or ms is None) else case.flops / (ms / 1e3) / 1e9
            row[f"{who}_gflops"] = gfs
            row[f"{who}_pct_of_peak"] = None if gfs is None else 100.0 * gfs / peak["numpy_gemm_gflops_best"]
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
    torch_peak = r0.get("torch_gemm_gflops_best")
    head = (
        machine_line(r0["machine"]) + "\n\n"
        f"float32 GEMM peak ({r0['gemm_n']}x{r0['gemm_n']} matmul, best): NumPy "
        f"{r0['numpy_gemm_gflops_best']:.1f} GFLOP/s"
        + ("" if torch_peak is None else f", PyTorch {torch_peak:.1f}")
        + ". Forward + backward per call, ms: median (25th-75th percentile).\n\n"
        "| layer | input | minigan ms | PyTorch ms | minigan / PyTorch | minigan GFLOP/s | % peak "
        "| PyTorch GFLOP/s | % peak |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )
    return head + "\n".join(_row_md(r) for r in rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", nargs="+", default=FAMILIES, choices=FAMILIES, help="layer families to time")
    add_timing_args(p, rounds=9, unit="calls")
    p.add_argument("--quick", action="store_true", help="tiny sizes, 3 rounds of 1 call: a smoke run of seconds")
    p.add_argument("--out", default="runs/benchmarks", help="folder for ops.json and ops.md")
    args = p.parse_args(argv)
    minigan.set_backend("numpy")
    if torch is None:
        print("PyTorch is not installed: timing minigan only (pip install torch for the comparison)")
    rows = run(args)
    write_results("ops", args.out, rows, markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
