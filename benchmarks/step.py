"""How long does one GAN training step take, in minigan and in PyTorch?

One *step* is what :meth:`minigan.gan.GANTrainer.train_step` does: a discriminator update
on a real batch and ``G(z).detach()``, then a generator update through the frozen D, with
Adam (2e-4, betas (0.5, 0.999)) and the non-saturating loss, plus the statistics the
trainer logs (losses, mean D outputs, D accuracy, gradient norms of G and D).

The PyTorch side is the *same network with the same weights* (built from the minigan model
by :func:`torch_twin`, checked to give the same output in float64 before timing) trained by
the same step written the usual PyTorch way, statistics included. The two are timed
interleaved, A B A B ..., in one process, so drift of the machine hits both alike; the table
reports the median time per step, the spread (25th-75th percentile) and the ratio
minigan / PyTorch (lower is better; 1.0 is parity).

Models: the lecture's MLP-GAN (``mlp-generator`` / ``mlp-discriminator``), its conv GAN
(``conv-*``) and the beginner guide's DCGAN (``dcgan-*``), float32.

Usage::

    python benchmarks/step.py                              # all models, batch 64 and 256
    python benchmarks/step.py --models mlp-gan --batch 64 --rounds 5
    python benchmarks/step.py --quick --json out.json      # a smoke run (a minute or two)
    python benchmarks/step.py --backend cupy               # minigan on the GPU, torch on CUDA if present
    python benchmarks/step.py --json out.json --markdown out.md
    OPENBLAS_NUM_THREADS=1 python benchmarks/step.py      # one thread for NumPy and torch alike

Without PyTorch installed the minigan column is still measured and the ratio is left out.

Read next: ``benchmarks/README.md`` (the latest results and the machine they came from).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import minigan
from minigan import models
from minigan import nn as mnn
from minigan.gan import GANTrainer
from minigan.optim import Adam

try:
    import torch
except ImportError:  # the minigan column still runs
    torch = None

if torch is not None and os.environ.get("OPENBLAS_NUM_THREADS"):
    # Same threads on both sides: NumPy's OpenBLAS reads this variable when it loads, torch is told here.
    torch.set_num_threads(int(os.environ["OPENBLAS_NUM_THREADS"]))

#: model key (as in ``minigan train --model``) -> (generator name, discriminator name)
PAIRS = {
    "mlp-gan": ("mlp-generator", "mlp-discriminator"),
    "conv-gan": ("conv-generator", "conv-discriminator"),
    "dcgan": ("dcgan-generator", "dcgan-discriminator"),
}


# ----------------------------------------------------------------------------
# The same network in PyTorch
# ----------------------------------------------------------------------------
def torch_twin(seq: mnn.Sequential, device: str = "cpu") -> Any:
    """A ``torch.nn.Sequential`` computing exactly what the minigan ``seq`` computes, same weights.

    :func:`minigan.interop.torch.to_torch`: plain ``torch.nn`` layers wherever they compute the same
    function (``minigan/interop/torch_layers.py`` for Keras' 'same' padding at a stride).
    """
    from minigan.interop.torch import to_torch

    return to_torch(seq, device=device)


# ----------------------------------------------------------------------------
# The two training steps
# ----------------------------------------------------------------------------
class MiniganStep:
    """One :class:`GANTrainer` step: exactly what ``minigan train`` runs."""

    def __init__(self, G: mnn.Module, D: mnn.Module, real: Any, latent_dim: int) -> None:
        self.trainer = GANTrainer(
            G,
            D,
            Adam.gan_defaults(G.parameters()),
            Adam.gan_defaults(D.parameters()),
            data=lambda n, rng: real,  # one fixed real batch: the data pipeline is not what we time
            loss="ns",
            latent_dim=latent_dim,
            batch_size=real.shape[0],
            n_fixed=1,
        )

    def __call__(self) -> None:
        self.trainer.train_step()

    def sync(self) -> None:
        p = self.trainer.G.parameters()[0].data
        minigan.to_numpy(p[(0,) * p.ndim])  # a host read waits for a GPU to finish


class TorchStep:
    """The same step in PyTorch: D on real + G(z).detach(), then G through D; the same statistics."""

    def __init__(self, G: Any, D: Any, real: Any, latent_dim: int) -> None:
        self.G, self.D, self.real, self.latent_dim = G, D, real, latent_dim
        self.g_opt = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.d_opt = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.device = real.device

    def __call__(self) -> dict[str, float]:
        G, D, n = self.G, self.D, self.real.shape[0]
        sp = torch.nn.functional.softplus
        # Discriminator: real + detached fake; only D's optimizer steps.
        fake = G(torch.randn(n, self.latent_dim, device=self.device))
        r, f = D(self.real), D(fake.detach())
        d_loss = sp(-r).mean() + sp(f).mean()
        self.d_opt.zero_grad()
        d_loss.backward()
        d_norm = torch.sqrt(sum((p.grad**2).sum() for p in D.parameters()))
        self.d_opt.step()
        stats = {"d_loss": d_loss.item(), "d_norm": d_norm.item()}
        stats["d_real"] = torch.sigmoid(r).mean().item()
        stats["d_fake"] = torch.sigmoid(f).mean().item()
        stats["d_acc"] = ((r > 0).sum() + (f <= 0).sum()).item() / (2 * n)
        # Generator: a fresh fake through the frozen D; only G's optimizer steps.
        for p in D.parameters():
            p.requires_grad_(False)
        g_loss = sp(-D(G(torch.randn(n, self.latent_dim, device=self.device)))).mean()
        self.g_opt.zero_grad()
        g_loss.backward()
        g_norm = torch.sqrt(sum((p.grad**2).sum() for p in G.parameters()))
        self.g_opt.step()
        for p in D.parameters():
            p.requires_grad_(True)
        stats.update(g_loss=g_loss.item(), g_norm=g_norm.item())
        return stats

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()


# ----------------------------------------------------------------------------
# Measuring
# ----------------------------------------------------------------------------
def build(key: str, batch: int, seed: int = 0) -> tuple[mnn.Module, mnn.Module, Any, int]:
    g_name, d_name = PAIRS[key]
    G, D = models.build(g_name, rng=seed), models.build(d_name, rng=seed + 1)
    latent = models.info(g_name).input_shape[0]
    real_shape = (batch, *models.info(d_name).input_shape)
    real = minigan.Generator(seed + 2).uniform(real_shape, -1.0, 1.0)
    return G, D, real, latent


def check_twin(name: str, seed: int) -> float:
    """Max |minigan - torch| of one float64 forward (train mode, no dropout): is the twin the same network?"""
    with minigan.default_dtype("float64"):
        net = models.build(name, rng=seed)
    twin = torch_twin(net)
    for m in twin.modules():  # dropout draws different masks in the two libraries: compare without it
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    for layer in net:
        if isinstance(layer, mnn.Dropout):
            layer.p = 0.0
    x = np.random.default_rng(0).normal(size=(4, *models.info(name).input_shape))
    mine = minigan.to_numpy(net(minigan.tensor(x, dtype="float64")).data)
    ref = twin(torch.from_numpy(x)).detach().numpy()
    return float(np.max(np.abs(mine - ref)))


def time_interleaved(steps: dict[str, Any], rounds: int, per_round: int, warmup: int) -> dict[str, list[float]]:
    """Per-step seconds of each contender, measured A B A B ... in blocks of ``per_round`` steps."""
    for step in steps.values():
        for _ in range(warmup):
            step()
        step.sync()
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            t0 = time.perf_counter()
            for _ in range(per_round):
                step()
            step.sync()
            times[name].append((time.perf_counter() - t0) / per_round)
    return times


def summarize(ts: list[float]) -> dict[str, float]:
    """Median and quartiles of per-step seconds, in milliseconds."""
    q = statistics.quantiles(ts, n=4) if len(ts) >= 2 else [ts[0]] * 3
    return {"ms": 1e3 * statistics.median(ts), "p25_ms": 1e3 * q[0], "p75_ms": 1e3 * q[2]}


def machine_info(backend: str) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas_name = f"{blas.get('name')} {blas.get('version', '')}".strip()
    except Exception:  # numpy's config layout varies between versions
        blas_name = "unknown"
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas_name,
        "minigan": minigan.__version__,
        "backend": backend,
        "torch": None if torch is None else torch.__version__,
        "torch_threads": None if torch is None else torch.get_num_threads(),
    }
    return info


def run(args: argparse.Namespace) -> dict[str, Any]:
    minigan.set_backend(args.backend)
    use_torch = torch is not None and not args.no_torch
    device = "cuda" if (use_torch and args.backend == "cupy" and torch.cuda.is_available()) else "cpu"
    rows = []
    for key in args.models:
        for batch in args.batch:
            G, D, real, latent = build(key, batch)
            steps: dict[str, Any] = {"minigan": MiniganStep(G, D, minigan.Tensor(real), latent)}
            row: dict[str, Any] = {"model": key, "batch": batch, "backend": args.backend, "torch_device": None}
            if use_torch:
                row["twin_max_abs_err"] = err = max(check_twin(PAIRS[key][0], 0), check_twin(PAIRS[key][1], 1))
                if err > 1e-8:
                    raise AssertionError(f"the PyTorch twin of {key} differs from minigan by {err:.2e}")
                tG, tD = torch_twin(G, device), torch_twin(D, device)
                treal = torch.from_numpy(minigan.to_numpy(real)).to(device)
                steps["torch"] = TorchStep(tG, tD, treal, latent)
                row["torch_device"] = device
            times = time_interleaved(steps, args.rounds, args.per_round, args.warmup)
            for name in ("minigan", "torch"):
                stats = summarize(times[name]) if name in times else {}
                for k in ("ms", "p25_ms", "p75_ms"):
                    row[f"{name}_{k}"] = stats.get(k)
            # The ratio of each interleaved pair, then the median: robust to drift between rounds.
            pairs = zip(times["minigan"], times.get("torch", []))
            row["ratio"] = statistics.median([m / t for m, t in pairs]) if use_torch else None
            rows.append(row)
            print(_row_md(row), flush=True)
    return {"machine": machine_info(args.backend), "args": vars(args), "rows": rows}


def _row_md(row: dict[str, Any]) -> str:
    def cell(name: str) -> str:
        if row[f"{name}_ms"] is None:
            return "-"
        return f"{row[f'{name}_ms']:.1f} ({row[f'{name}_p25_ms']:.1f}-{row[f'{name}_p75_ms']:.1f})"

    ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
    return f"| {row['model']} | {row['batch']} | {row['backend']} | {cell('minigan')} | {cell('torch')} | {ratio} |"


def markdown(result: dict[str, Any]) -> str:
    mi = result["machine"]
    devices = {r["torch_device"] for r in result["rows"]} - {None}
    head = (
        f"Machine: {mi['cpu']}, {mi['cores']} cores; Python {mi['python']}, NumPy {mi['numpy']} ({mi['blas']}), "
        f"torch {mi['torch']} ({mi['torch_threads']} threads, {', '.join(sorted(devices)) or 'not run'}); "
        f"minigan {mi['minigan']}.\n\n"
        "| model | batch | minigan backend | minigan ms/step (IQR) | PyTorch ms/step (IQR) | minigan / PyTorch |\n"
        "| --- | --- | --- | --- | --- | --- |\n"
    )
    return head + "\n".join(_row_md(r) for r in result["rows"]) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=list(PAIRS), choices=list(PAIRS), help="model pairs to time")
    p.add_argument("--batch", nargs="+", type=int, default=[64, 256], help="batch sizes")
    p.add_argument("--backend", default="numpy", choices=["numpy", "cupy", "strict"], help="minigan's backend")
    p.add_argument("--rounds", type=int, default=7, help="interleaved rounds (each times every contender)")
    p.add_argument("--per-round", type=int, default=3, help="steps per contender per round")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps before the first round")
    p.add_argument("--no-torch", action="store_true", help="time minigan only")
    p.add_argument("--quick", action="store_true", help="a smoke run: 3 rounds of 1 step, 1 warm-up step")
    p.add_argument("--json", default=None, help="write the results (with the machine) as JSON here")
    p.add_argument("--markdown", default=None, help="write the markdown table here")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.per_round, args.warmup = 3, 1, 1
    if args.backend == "cupy":
        try:
            minigan.set_backend("cupy")
        except minigan.BackendError as e:
            print(f"no GPU present, nothing to time on cupy: {e}")
            return 0
    if torch is None:
        print("PyTorch is not installed: timing minigan only (pip install torch for the comparison)")
    result = run(args)
    table = markdown(result)
    print()
    print(table)
    if args.json:  # a list of rows, each with the machine it was measured on
        rows = [{**row, "machine": result["machine"]} for row in result["rows"]]
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
