"""How long does one GAN training step take, in minigan, in PyTorch and in DeZero?

One *step* is what :meth:`minigan.gan.GANTrainer.train_step` does: a discriminator update
on a real batch and ``G(z).detach()``, then a generator update through the frozen D, with
Adam (2e-4, betas (0.5, 0.999)) and the non-saturating loss, plus the statistics the
trainer logs (losses, mean D outputs, D accuracy, gradient norms of G and D).

The contenders:

- **minigan**: ``GANTrainer.train_step``, exactly what ``minigan train`` runs;
- **PyTorch**: the *same network with the same weights* (built from the minigan model by
  :func:`torch_twin`, checked to give the same output in float64 before timing) trained by the
  same step written the usual PyTorch way, statistics included;
- **DeZero** (Saito, *Deep Learning from Scratch 3*; the NumPy/CuPy autograd peer): the same
  layer sizes built from its published layers, the same step (MLP-GAN and conv GAN only: it has
  no 'same'-padded stride-2 convolution for the DCGAN's shapes). Only where ``dezero`` is
  installed (``pip install --no-deps dezero``; never a dependency of minigan).

**How they are timed** (``benchmarks/_isolated.py``): each contender in its own process, launched
alternately (minigan, PyTorch, DeZero, minigan, ...) for ``--rounds`` rounds, all with the same
thread settings; each process warms up, then times ``--blocks`` blocks of steps, redoing a block
while other processes used the CPU (``/proc/stat``). Per round the median block; the table gives
the median over rounds with its spread (25th-75th percentile of the rounds) and the ratio
minigan / PyTorch (median of the per-round ratios; lower is better, 1.0 is parity). With both
thread counts run, it also gives each library's speed-up from one thread to two.

Models: the lecture's MLP-GAN (``mlp-generator`` / ``mlp-discriminator``), its conv GAN
(``conv-*``) and the beginner guide's DCGAN (``dcgan-*``), float32.

Usage::

    python benchmarks/step.py                              # all models, batch 64 and 256, 1 and 2 threads
    python benchmarks/step.py --models mlp-gan --batch 64 --threads 2 --rounds 5
    python benchmarks/step.py --quick --json out.json      # a smoke run (a minute or two)
    python benchmarks/step.py --backend cupy --threads 1   # minigan on the GPU, torch on CUDA if present
    python benchmarks/step.py --json out.json --markdown out.md

Without PyTorch (or DeZero) installed the other columns are still measured.

Read next: ``benchmarks/README.md`` (the latest results and the machine they came from).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
if sys.argv[1:3] in (["--child", "minigan"], ["--child", "dezero"]):  # these processes never load PyTorch
    sys.modules["torch"] = None  # type: ignore[assignment]

import _isolated  # noqa: E402
import numpy as np  # noqa: E402

import minigan  # noqa: E402
from minigan import models  # noqa: E402
from minigan import nn as mnn  # noqa: E402
from minigan.gan import GANTrainer  # noqa: E402
from minigan.optim import Adam  # noqa: E402

try:
    import torch
except ImportError:  # the other columns still run
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
#: the models DeZero's layers can build with the same shapes
DEZERO_MODELS = ("mlp-gan", "conv-gan")


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


class DezeroStep:
    """The same step in DeZero: D on real + a gradient-free copy of G(z), then G through D.

    DeZero has no ``detach`` and no ``requires_grad``: its GAN example feeds D the fake's raw
    array for D's update (no graph back to G), and clears D's gradients before D's own update, so
    the G step's gradients for D are computed and thrown away, as here.
    """

    def __init__(self, key: str, real: np.ndarray, latent_dim: int) -> None:
        if not hasattr(np, "int"):  # DeZero 0.0.13, its last release, uses np.int (removed in NumPy 1.24)
            np.int = int  # type: ignore[attr-defined]
        import dezero.functions as F
        import dezero.optimizers as O

        self.F, self.real, self.latent_dim = F, real, latent_dim
        self.G, self.D = _dezero_nets(key)
        self.g_opt = O.Adam(alpha=2e-4, beta1=0.5, beta2=0.999).setup(self.G)
        self.d_opt = O.Adam(alpha=2e-4, beta1=0.5, beta2=0.999).setup(self.D)
        n = real.shape[0]
        self.ones, self.zeros = np.ones((n, 1), np.float32), np.zeros((n, 1), np.float32)
        self.rng = np.random.default_rng(0)

    def _z(self) -> np.ndarray:
        return self.rng.standard_normal((self.real.shape[0], self.latent_dim), dtype=np.float32)

    def __call__(self) -> dict[str, float]:
        F, G, D, n = self.F, self.G, self.D, self.real.shape[0]
        fake = G(self._z())
        r, f = D(self.real), D(fake.data)  # fake.data: a new leaf, no graph back to G
        d_loss = F.sigmoid_cross_entropy(r, self.ones) + F.sigmoid_cross_entropy(f, self.zeros)
        D.cleargrads()
        d_loss.backward()
        d_norm = math.sqrt(sum(float((p.grad.data**2).sum()) for p in D.params() if p.grad is not None))
        self.d_opt.update()
        stats = {"d_loss": float(d_loss.data), "d_norm": d_norm}
        stats["d_real"] = float((1 / (1 + np.exp(-r.data))).mean())
        stats["d_fake"] = float((1 / (1 + np.exp(-f.data))).mean())
        stats["d_acc"] = float(((r.data > 0).sum() + (f.data <= 0).sum()) / (2 * n))
        g_loss = F.sigmoid_cross_entropy(D(G(self._z())), self.ones)
        G.cleargrads()
        g_loss.backward()
        g_norm = math.sqrt(
            sum(float((p.grad.data**2).sum()) for p in G.params() if p.grad is not None)
        )  # not BN's running stats
        self.g_opt.update()
        stats.update(g_loss=float(g_loss.data), g_norm=g_norm)
        return stats

    def sync(self) -> None:
        pass

    def dtype(self) -> str:
        """The dtype DeZero computes in (its initialisers turn float32 weights into float64 on NumPy 2)."""
        return str(self.G(self._z()).data.dtype)


def _dezero_nets(key: str) -> tuple[Any, Any]:
    """DeZero's G and D with the layer sizes of minigan's ``key`` (``models.py``), its own initialisation."""
    import dezero
    import dezero.functions as F
    import dezero.layers as L

    class Net(dezero.Model):
        """A list of layers and functions applied in order (DeZero's Sequential takes layers only)."""

        def __init__(self, *ops: Any) -> None:
            super().__init__()
            self.ops = ops
            for i, op in enumerate(ops):
                if isinstance(op, dezero.Layer):
                    setattr(self, f"l{i}", op)  # registers its parameters

        def forward(self, x: Any) -> Any:
            for op in self.ops:
                x = op(x)
            return x

    class Deconv(L.Deconv2d):
        """``Deconv2d`` with an output size: Keras' 'same' at stride 2 doubles the size exactly."""

        def __init__(self, oc: int, pad: int, outsize: int | None) -> None:
            super().__init__(oc, 3, stride=2, pad=pad)
            self.outsize = outsize

        def forward(self, x: Any) -> Any:
            if self.W.data is None:
                self.in_channels = x.shape[1]
                self._init_W()
            return F.deconv2d(x, self.W, self.b, self.stride, self.pad, self.outsize)

    def lrelu(x: Any) -> Any:
        return F.leaky_relu(x, 0.2)

    if key == "mlp-gan":  # (32,) -> 128 -> 256 -> 512 -> 784 and 784 -> 512 -> 256 -> 128 -> 1
        G = Net(*[op for k in (128, 256, 512) for op in (L.Linear(k), L.BatchNorm(), lrelu)], L.Linear(784), F.tanh)
        D = Net(*[op for k in (512, 256, 128) for op in (L.Linear(k), lrelu)], L.Linear(1))
        return G, D
    if key == "conv-gan":  # (32,) -> 128x3x3 -> 128x7x7 -> 64x14x14 -> 1x28x28, and back down
        G = Net(
            L.Linear(128 * 9),
            lrelu,
            lambda x: F.reshape(x, (-1, 128, 3, 3)),
            *(Deconv(128, 0, None), L.BatchNorm(), lrelu),
            *(Deconv(64, 1, 14), L.BatchNorm(), lrelu),
            Deconv(1, 1, 28),
            F.tanh,
        )
        D = Net(
            *(L.Conv2d(32, 3, stride=2, pad=1), lrelu),
            *(L.Conv2d(64, 3, stride=2, pad=1), lrelu),
            *(L.Conv2d(128, 3, stride=2, pad=0), lrelu),
            F.flatten,
            lambda x: F.dropout(x, 0.4),
            L.Linear(1),
        )
        return G, D
    raise ValueError(f"no DeZero twin of {key!r}: DeZero rows exist for {', '.join(DEZERO_MODELS)}")


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
    q = statistics.quantiles(ts, n=4, method="inclusive") if len(ts) >= 2 else [ts[0]] * 3
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
        "dezero": _dezero_version(),
    }
    return info


def _dezero_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dezero")
    except PackageNotFoundError:
        return None


def child(args: argparse.Namespace) -> int:
    """One contender in this process (``--child NAME``): build, warm up, time, print ``RESULT {json}``."""
    minigan.set_backend(args.backend)
    key, batch = args.models[0], args.batch[0]
    if torch is not None:
        torch.set_num_threads(args.threads[0])
    G, D, real, latent = build(key, batch)
    if args.child == "minigan":
        step: Any = MiniganStep(G, D, minigan.Tensor(real), latent)
        extra: dict[str, Any] = {}
    elif args.child == "torch":
        device = "cuda" if (args.backend == "cupy" and torch.cuda.is_available()) else "cpu"
        treal = torch.from_numpy(minigan.to_numpy(real)).to(device)
        step = TorchStep(torch_twin(G, device), torch_twin(D, device), treal, latent)
        extra = {"device": device, "torch_threads": torch.get_num_threads()}
    else:
        step = DezeroStep(key, minigan.to_numpy(real), latent)
        extra = {"dtype": step.dtype()}
    _isolated.child_result({**_isolated.time_child(step, step.sync, args), **extra})
    return 0


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The parent: for each model, batch and thread count, the contenders' processes A B A B ..."""
    minigan.set_backend(args.backend)
    use_torch = torch is not None and not args.no_torch
    use_dezero = not args.no_dezero and _has_dezero()
    script = str(Path(__file__).resolve())
    common = ["--backend", args.backend, *_isolated.child_args(args)]
    rows = []
    for threads in args.threads:
        for key in args.models:
            for batch in args.batch:
                row: dict[str, Any] = {"model": key, "batch": batch, "threads": threads, "backend": args.backend}
                if use_torch:
                    err = max(check_twin(PAIRS[key][0], 0), check_twin(PAIRS[key][1], 1))
                    row["twin_max_abs_err"] = err
                    if err > 1e-8:
                        raise AssertionError(f"the PyTorch twin of {key} differs from minigan by {err:.2e}")
                who = ["minigan"] + ["torch"] * use_torch + ["dezero"] * (use_dezero and key in DEZERO_MODELS)
                args_of = ["--models", key, "--batch", str(batch), "--threads", str(threads), *common]
                cmds = {w: _isolated.python_cmd(script, "--child", w, *args_of) for w in who}
                print(f"{key}, batch {batch}, {threads} thread(s): {' / '.join(who)}", flush=True)
                results = _isolated.run_alternating(cmds, rounds=args.rounds, threads=threads, log=print)
                meds = {w: _isolated.round_medians(results[w]) for w in who}
                for w in ("minigan", "torch", "dezero"):
                    stats = summarize(meds[w]) if w in meds else {}
                    for k in ("ms", "p25_ms", "p75_ms"):
                        row[f"{w}_{k}"] = stats.get(k)
                    row[f"{w}_busy"] = _isolated.busy_summary(results[w]) if w in results else None
                row["ratio"] = _isolated.paired_ratio(meds["minigan"], meds["torch"]) if "torch" in meds else None
                row["ratio_dezero"] = (
                    _isolated.paired_ratio(meds["minigan"], meds["dezero"]) if "dezero" in meds else None
                )
                row["dezero_dtype"] = results["dezero"][0]["dtype"] if "dezero" in results else None
                row["torch_device"] = results["torch"][0]["device"] if "torch" in results else None
                rows.append(row)
                print(_row_md(row), flush=True)
    return {"machine": machine_info(args.backend), "args": vars(args), "rows": rows}


def _has_dezero() -> bool:
    import importlib.util

    return importlib.util.find_spec("dezero") is not None


def _cell(row: dict[str, Any], name: str) -> str:
    if row.get(f"{name}_ms") is None:
        return "-"
    busy = row.get(f"{name}_busy") or {}
    mark = " (busy)" if busy.get("blocks_busy") else ""  # a block stayed busy after every retry
    return f"{row[f'{name}_ms']:.1f} ({row[f'{name}_p25_ms']:.1f}-{row[f'{name}_p75_ms']:.1f}){mark}"


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _row_md(row: dict[str, Any]) -> str:
    cells = [row["model"], str(row["batch"]), str(row["threads"]), _cell(row, "minigan"), _cell(row, "torch")]
    cells += [_num(row["ratio"]), _cell(row, "dezero"), _num(row["ratio_dezero"])]
    return "| " + " | ".join(cells) + " |"


def speedups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each library's speed-up from 1 thread to 2 (ms at 1 / ms at 2), where both were run."""
    by = {(r["model"], r["batch"], r["threads"]): r for r in rows}
    out = []
    for (model, batch, threads), one in by.items():
        two = by.get((model, batch, 2))
        if threads != 1 or two is None:
            continue
        s = {"model": model, "batch": batch}
        for w in ("minigan", "torch"):
            a, b = one.get(f"{w}_ms"), two.get(f"{w}_ms")
            s[w] = None if a is None or b is None else a / b
        s["minigan_over_torch"] = None if None in (s["minigan"], s["torch"]) else s["minigan"] / s["torch"]
        out.append(s)
    return out


def markdown(result: dict[str, Any]) -> str:
    mi, rows = result["machine"], result["rows"]
    a = result["args"]
    dz = next((r["dezero_dtype"] for r in rows if r.get("dezero_dtype")), None)
    head = (
        f"Machine: {mi['cpu']}, {mi['cores']} cores; Python {mi['python']}, NumPy {mi['numpy']} ({mi['blas']}), "
        f"torch {mi['torch']}, DeZero {mi.get('dezero')}; minigan {mi['minigan']}, backend `{a['backend']}`. "
        f"Each contender in its own process, {a['rounds']} alternating rounds of {a['blocks']} blocks; "
        "ms per step: median over rounds (25th-75th percentile)."
        + (f" DeZero computes in {dz}." if dz else "")
        + " (busy): a timed block stayed busy (other processes) after every retry.\n\n"
        "| model | batch | threads | minigan ms/step | PyTorch ms/step | minigan / PyTorch "
        "| DeZero ms/step | minigan / DeZero |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )
    text = head + "\n".join(_row_md(r) for r in rows) + "\n"
    sp = speedups(rows)
    if sp:
        text += (
            "\nSpeed-up from 1 to 2 threads (ms at 1 thread / ms at 2):\n\n"
            "| model | batch | minigan | PyTorch | minigan / PyTorch |\n| --- | --- | --- | --- | --- |\n"
        )
        text += "".join(
            f"| {s['model']} | {s['batch']} | {_num(s['minigan'])} | {_num(s['torch'])} | "
            f"{_num(s['minigan_over_torch'])} |\n"
            for s in sp
        )
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=list(PAIRS), choices=list(PAIRS), help="model pairs to time")
    p.add_argument("--batch", nargs="+", type=int, default=[64, 256], help="batch sizes")
    p.add_argument("--backend", default="numpy", choices=["numpy", "cupy", "strict"], help="minigan's backend")
    _isolated.add_method_args(p, threads=[1, 2], block_seconds=0.5, unit="steps")
    p.add_argument("--no-torch", action="store_true", help="leave out PyTorch")
    p.add_argument("--no-dezero", action="store_true", help="leave out DeZero")
    p.add_argument("--quick", action="store_true", help="a smoke run: 2 rounds of 1 short block, 1 warm-up step")
    p.add_argument("--json", default=None, help="write the results (with the machine) as JSON here")
    p.add_argument("--markdown", default=None, help="write the markdown table here")
    p.add_argument("--child", choices=["minigan", "torch", "dezero"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        _isolated.quick_method(args)
    if args.backend == "cupy":
        try:
            minigan.set_backend("cupy")
        except minigan.BackendError as e:
            print(f"no GPU present, nothing to time on cupy: {e}")
            return 0
    if args.child:
        return child(args)
    if torch is None:
        print("PyTorch is not installed: no PyTorch column (pip install torch for the comparison)")
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
