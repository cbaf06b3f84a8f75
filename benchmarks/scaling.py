"""How does a GAN training step's time scale with the batch size and with the model width?

What it measures: one training step (``step.MiniganStep``, exactly what ``minigan train`` runs:
the D update on real + ``G(z).detach()``, the G update through the frozen D, Adam, the logged
statistics) against the same step in PyTorch with the same weights (``step.TorchStep``),
interleaved A B A B ... after warm-up, median ms per step with the 25th-75th percentile:

- **batch sweep**: the ``--model`` pair (``step.build``, default the MLP-GAN) at each ``--batch``;
- **width sweep**: the MLP-GAN (G: latent 32 -> 128 -> 256 -> 512 -> 784 with BatchNorm and
  LeakyReLU, D: 784 -> 512 -> 256 -> 128 -> 1) with every hidden width multiplied by each
  ``--widths`` factor, at ``--width-batch``.

How to read it: where the time per step stays flat as the batch grows, the step is dominated
by fixed per-op costs (Python, the autograd engine, dispatch), not arithmetic; where it grows
linearly, by the arithmetic. The ratio column (minigan / PyTorch, lower is better) typically
falls as the work per op grows, since both libraries end up in the same BLAS. The PNG plots ms
per step against batch and against parameter count, log-log.

Usage::

    python benchmarks/scaling.py                      # -> runs/benchmarks/scaling.{json,md,png}
    python benchmarks/scaling.py --quick              # tiny sweeps, seconds
    python benchmarks/scaling.py --batch 32 64 128 --widths 0.5 1 2 4 --rounds 9

On a small or shared machine pin the threads (``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python ...``):
NumPy's OpenBLAS and PyTorch's worker threads spin-waiting against each other on too few cores can
slow both down tenfold (measured on a loaded 2-core machine). The JSON records these variables.

Without PyTorch installed only minigan is measured.
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
from minigan import nn as mnn  # noqa: E402
from minigan.models import KERAS_BN  # noqa: E402

MLP_KEY = next(k for k in PAIRS if k.startswith("mlp"))  # the MLP-GAN's key in step.PAIRS


def scaled_mlp_gan(width: float, batch: int, latent: int = 32, seed: int = 0) -> tuple[Any, Any, Any, int]:
    """The MLP-GAN with hidden widths x ``width`` (at least 1): (G, D, a real batch, latent_dim)."""
    g_sizes = [latent] + [max(1, round(width * s)) for s in (128, 256, 512)]
    d_sizes = [784] + [max(1, round(width * s)) for s in (512, 256, 128)]
    rng = minigan.Generator(seed)
    g: list[mnn.Module] = []
    for a, b in zip(g_sizes, g_sizes[1:]):
        g += [mnn.Dense(a, b, rng=rng), mnn.BatchNorm(b, **KERAS_BN), mnn.LeakyReLU(0.2)]
    g += [mnn.Dense(g_sizes[-1], 784, rng=rng), mnn.Tanh()]
    d: list[mnn.Module] = []
    for a, b in zip(d_sizes, d_sizes[1:]):
        d += [mnn.Dense(a, b, rng=rng), mnn.LeakyReLU(0.2)]
    d.append(mnn.Dense(d_sizes[-1], 1, rng=rng))
    real = minigan.Generator(seed + 2).uniform((batch, 784), -1.0, 1.0)
    return mnn.Sequential(*g), mnn.Sequential(*d), real, latent


def measure(G: Any, D: Any, real: Any, latent: int, args: argparse.Namespace) -> dict[str, Any]:
    steps: dict[str, Any] = {"minigan": MiniganStep(G, D, minigan.Tensor(real), latent)}
    if torch is not None and not args.no_torch:
        treal = torch.from_numpy(minigan.to_numpy(real))
        steps["torch"] = TorchStep(torch_twin(G), torch_twin(D), treal, latent)
    times = time_interleaved(steps, args.rounds, args.per_round, args.warmup)
    row: dict[str, Any] = {"params": sum(p.size for p in G.parameters()) + sum(p.size for p in D.parameters())}
    add_quartiles(row, "minigan", times["minigan"])
    add_quartiles(row, "torch", times.get("torch"))
    row["ratio"] = paired_ratio(times["minigan"], times["torch"]) if "torch" in times else None
    return row


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.quick:
        args.batch, args.widths, args.width_batch = [4, 8], [0.125, 0.25], 8
        args.rounds, args.per_round, args.warmup = 2, 1, 1
    mi = machine("numpy")
    rows = []
    for batch in args.batch:
        G, D, real, latent = build(args.model, batch)
        row = {"sweep": "batch", "model": args.model, "batch": batch, "width": 1.0}
        row.update(measure(G, D, real, latent, args))
        row["machine"] = mi
        rows.append(row)
        print(_row_md(row), flush=True)
    for width in args.widths:
        G, D, real, latent = scaled_mlp_gan(width, args.width_batch)
        row = {"sweep": "width", "model": MLP_KEY, "batch": args.width_batch, "width": width}
        row.update(measure(G, D, real, latent, args))
        row["machine"] = mi
        rows.append(row)
        print(_row_md(row), flush=True)
    return rows


def _row_md(row: dict[str, Any]) -> str:
    ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
    cells = [row["sweep"], row["model"], str(row["batch"]), f"x{row['width']:g}", f"{row['params']:,}"]
    cells += [fmt_q(row, "minigan"), fmt_q(row, "torch"), ratio]
    return "| " + " | ".join(cells) + " |"


def markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(nothing measured)\n"
    head = (
        machine_line(rows[0]["machine"]) + "\n\n"
        "One GAN training step (D update + G update), ms: median (25th-75th percentile).\n\n"
        "| sweep | model | batch | width | parameters (G + D) | minigan ms/step | PyTorch ms/step "
        "| minigan / PyTorch |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )
    return head + "\n".join(_row_md(r) for r in rows) + "\n"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, sweep, xkey, xlabel in (
        (axes[0], "batch", "batch", "batch size"),
        (axes[1], "width", "params", "parameters (G + D), MLP-GAN widths scaled"),
    ):
        sel = [r for r in rows if r["sweep"] == sweep]
        for who, style in (("minigan", "o-"), ("torch", "s--")):
            pts = [(r[xkey], r[f"{who}_ms"], r[f"{who}_p25_ms"], r[f"{who}_p75_ms"]) for r in sel if r[f"{who}_ms"]]
            if not pts:
                continue
            x, y, lo, hi = zip(*pts)
            err = [[a - b for a, b in zip(y, lo)], [b - a for a, b in zip(y, hi)]]
            ax.errorbar(x, y, yerr=err, fmt=style, capsize=3, label="PyTorch" if who == "torch" else who)
        if sel:
            ax.set_xscale("log", base=2 if sweep == "batch" else 10)
            ax.set_yscale("log")
            if sweep == "batch":  # label the batch sizes themselves
                ax.set_xticks([r["batch"] for r in sel], [str(r["batch"]) for r in sel])
        ax.set_xlabel(xlabel)
        ax.set_ylabel("ms per training step")
        ax.set_title(f"{sel[0]['model'] if sel else ''}: time vs {sweep}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(machine_line(rows[0]["machine"]).split(";")[0], fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=MLP_KEY, choices=list(PAIRS), help="model pair of the batch sweep")
    p.add_argument("--batch", nargs="+", type=int, default=[16, 32, 64, 128, 256], help="batch sizes to sweep")
    p.add_argument("--widths", nargs="+", type=float, default=[0.25, 0.5, 1, 2], help="MLP-GAN width factors")
    p.add_argument("--width-batch", type=int, default=64, help="batch size of the width sweep")
    add_timing_args(p)
    p.add_argument("--quick", action="store_true", help="batches 4 and 8, widths x0.125 and x0.25, 2 rounds")
    p.add_argument("--out", default="runs/benchmarks", help="folder for scaling.json, .md and .png")
    args = p.parse_args(argv)
    minigan.set_backend("numpy")
    if torch is None:
        print("PyTorch is not installed: timing minigan only (pip install torch for the comparison)")
    rows = run(args)
    write_results("scaling", args.out, rows, markdown(rows))
    if rows:
        plot(rows, Path(args.out) / "scaling.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
