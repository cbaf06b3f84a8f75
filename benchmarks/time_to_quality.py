"""Time to quality: the fast MNIST recipe in minigan and in PyTorch, trained the same way, scored alike.

Issue 16 asks how long minigan takes to reach a given sample quality compared with PyTorch. Each
library trains ``dcgan-fast`` (minigan/models.py: the same layers and initial weights, copied
into PyTorch by ``minigan.interop.torch.to_torch``; the hinge loss; Adam 5e-4, beta1 0.5; batches of
32 from the same data order; an EMA of G with the same warm-up) in **its own process**, one
after the other, with the same thread settings. Every ``--every`` steps the clock stops, the EMA
generator draws ``--n`` samples of one fixed noise batch and they are saved; the clock counts the
training steps only. Afterwards every snapshot is scored with ``minigan.metrics`` (IS, FID,
precision, recall against the first ``--n`` MNIST test images, the shipped classifier), and the
table gives, per library, the training seconds at which each IS threshold was first reached.

Two honest differences, both the idiomatic way to write it in each library: PyTorch's
``spectral_norm`` parametrization runs its power iteration on every training-mode forward of D
(also in the G step), minigan's on D's forwards in the D step only; and each library draws its
own noise (the initial weights and the data order are the same). So the curves are those of the
same recipe, not of bitwise-equal runs (``step.py`` checks bitwise-level equality of one step).

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/time_to_quality.py --data-dir ../shared/data   # ~25 min, 2 cores
    python benchmarks/time_to_quality.py --quick --out /tmp/ttq        # seconds: glyph digits, 4 steps

Writes ``<out>/time_to_quality.json``, ``.md`` and ``.png`` (IS and FID against seconds).
Read next: ``benchmarks/README.md`` ("Time to quality").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from _common import machine, machine_line, write_results  # noqa: E402

import minigan  # noqa: E402
from minigan.data import DataLoader, load_dataset  # noqa: E402
from minigan.gan.run import TrainConfig, TrainingRun  # noqa: E402

LIBRARIES = ("minigan", "torch")
THRESHOLDS = (5.0, 6.0, 7.0, 8.0, 9.0)  # the IS levels whose first crossing the table reports


# ----------------------------------------------------------------------------
# One library's training run (a child process)
# ----------------------------------------------------------------------------
def training_data(a: argparse.Namespace) -> tuple[Any, str]:
    """The training images in [-1, 1], (N, 1, 28, 28) float32, and the data set's name."""
    if a.quick:
        ds = load_dataset("auto", data_dir=a.data_dir, n=256, download=False)  # offline: the glyphs
    else:
        ds = load_dataset("mnist", data_dir=a.data_dir)
    return ds.images.astype(np.float32), ds.name


def fixed_noise(a: argparse.Namespace, latent_dim: int) -> np.ndarray:
    """The noise every snapshot of both libraries is drawn from (numpy, seeded)."""
    return np.random.default_rng(1234).standard_normal((a.n, latent_dim)).astype(np.float32)


def train_minigan(a: argparse.Namespace, config: TrainConfig, snap: Any) -> None:
    """``minigan train --model dcgan-fast``'s loop (TrainingRun), a snapshot every ``a.every`` steps."""
    images, name = training_data(a)
    loader = DataLoader(images, batch_size=config.batch_size, seed=0, drop_last=True)
    run = TrainingRun(config, loader, {"name": name})
    z = fixed_noise(a, config.resolved_latent_dim())

    def draw() -> np.ndarray:
        G = run.sampler
        G.eval()
        with minigan.no_grad():
            return np.concatenate([minigan.to_numpy(G(minigan.tensor(z[i : i + 500]))) for i in range(0, len(z), 500)])

    snap(0, 0.0, draw())
    while run.step < a.steps:
        run.train(min(run.step + a.every, a.steps))  # run.train_seconds counts the steps only
        snap(run.step, run.train_seconds, draw())


def train_torch(a: argparse.Namespace, config: TrainConfig, snap: Any) -> None:
    """The same recipe written in PyTorch: same layers and initial weights, data order, loss and EMA."""
    import copy

    import torch

    from minigan.gan.run import build_models
    from minigan.interop.torch import to_torch

    torch.manual_seed(0)
    mG, mD = build_models(config)  # minigan's initial weights; to_torch copies them
    # D's spectral norm becomes PyTorch's own parametrization (u and v copied).
    G, D = to_torch(mG), to_torch(mD)
    ema = copy.deepcopy(G).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    betas = (config.beta1, config.beta2)
    g_opt = torch.optim.Adam(G.parameters(), lr=config.lr, betas=betas)
    d_opt = torch.optim.Adam(D.parameters(), lr=config.lr, betas=betas)
    images, _ = training_data(a)
    loader = DataLoader(images, batch_size=config.batch_size, seed=0, drop_last=True)  # minigan's order
    batches = iter(loader)
    n, d = config.batch_size, config.resolved_latent_dim()
    z_fixed = torch.from_numpy(fixed_noise(a, d))
    relu = torch.nn.functional.relu

    def draw() -> np.ndarray:
        with torch.no_grad():
            return torch.cat([ema(z_fixed[i : i + 500]) for i in range(0, len(z_fixed), 500)]).numpy()

    def next_batch() -> Any:
        nonlocal batches
        try:
            x = next(batches)
        except StopIteration:  # a new epoch, reshuffled, as minigan's trainer does
            batches = iter(loader)
            x = next(batches)
        return torch.from_numpy(minigan.to_numpy(x[0] if isinstance(x, tuple) else x))

    snap(0, 0.0, draw())
    seconds, updates = 0.0, 0
    for step in range(1, a.steps + 1):
        started = time.perf_counter()
        real = next_batch()
        # D step: real and a detached fake, hinge loss; only D's optimizer steps.
        fake = G(torch.randn(n, d))
        d_loss = relu(1.0 - D(real)).mean() + relu(1.0 + D(fake.detach())).mean()
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
        # G step: fresh noise through the frozen D; only G's optimizer steps.
        for p in D.parameters():
            p.requires_grad_(False)
        g_loss = -D(G(torch.randn(n, d))).mean()
        g_opt.zero_grad()
        g_loss.backward()
        g_opt.step()
        for p in D.parameters():
            p.requires_grad_(True)
        # EMA of G with minigan's warm-up (minigan/gan/ema.py); buffers copied.
        beta = min(config.ema, (1.0 + updates) / (10.0 + updates))
        with torch.no_grad():
            for pa, pl in zip(ema.parameters(), G.parameters()):
                pa.mul_(beta).add_(pl, alpha=1.0 - beta)
            for ba, bl in zip(ema.buffers(), G.buffers()):
                ba.copy_(bl)
        updates += 1
        seconds += time.perf_counter() - started
        if step % a.every == 0 or step == a.steps:
            snap(step, seconds, draw())


def child(a: argparse.Namespace) -> None:
    """Train one library and write its snapshots: ``<out>/snapshots/<lib>_<step>.npy`` + ``<lib>.json``."""
    config = TrainConfig.for_model("dcgan-fast", steps=a.steps, seed=0)
    if a.quick:
        config.batch_size = 8
    folder = Path(a.out) / "snapshots"
    folder.mkdir(parents=True, exist_ok=True)
    log: list[dict[str, Any]] = []

    def snap(step: int, seconds: float, samples: np.ndarray) -> None:
        path = folder / f"{a.child}_{step:06d}.npy"
        np.save(path, samples.astype(np.float32))
        log.append({"step": step, "train_seconds": round(seconds, 3), "file": path.name})
        print(f"{a.child}: step {step}, {seconds:.0f} s of training", flush=True)

    if a.child == "torch":
        import torch

        torch.set_num_threads(a.threads)
        train_torch(a, config, snap)
    else:
        train_minigan(a, config, snap)
    (Path(a.out) / f"{a.child}.json").write_text(json.dumps({"library": a.child, "snapshots": log}, indent=1))


# ----------------------------------------------------------------------------
# The parent: launch, score, tabulate, plot
# ----------------------------------------------------------------------------
def launch(a: argparse.Namespace, lib: str) -> None:
    """Run one library's training in a fresh process with the same thread settings as the other."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(a.threads), "OMP_NUM_THREADS": str(a.threads)}
    cmd = [sys.executable, __file__, "--child", lib, "--out", a.out, "--steps", str(a.steps), "--every", str(a.every)]
    cmd += ["--n", str(a.n), "--threads", str(a.threads)] + (["--quick"] if a.quick else [])
    cmd += ["--data-dir", a.data_dir] if a.data_dir else []
    subprocess.run(cmd, check=True, env=env)


def available_libraries() -> tuple[str, ...]:
    """Both libraries, or minigan alone (with a note) where PyTorch is not installed."""
    try:
        import torch  # noqa: F401
    except ImportError:
        print("PyTorch is not installed: timing minigan alone (pip install torch for the comparison)")
        return ("minigan",)
    return LIBRARIES


def score(a: argparse.Namespace, libs: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """Every snapshot of every library scored against the first ``--n`` test images."""
    from minigan import metrics

    name = "auto" if a.quick else "mnist"
    test = load_dataset(name, "test", data_dir=a.data_dir, n=a.n, download=not a.quick).images
    clf = metrics.load_classifier()
    ref = metrics.reference(test, clf)
    curves: dict[str, list[dict[str, Any]]] = {}
    for lib in libs:
        rows = json.loads((Path(a.out) / f"{lib}.json").read_text())["snapshots"]
        for row in rows:
            samples = np.load(Path(a.out) / "snapshots" / row["file"])
            s = metrics.evaluate_images(samples, ref, clf, parzen=False)
            row.update({k: round(float(s[k]), 4) for k in ("is", "fid", "precision", "recall")})
            print(f"{lib} step {row['step']}: IS {row['is']:.2f} FID {row['fid']:.1f}", flush=True)
        curves[lib] = rows
    return curves


def first_reached(rows: list[dict[str, Any]], level: float) -> float | None:
    """Training seconds of the first snapshot whose IS is at least ``level`` (None: never)."""
    return next((r["train_seconds"] for r in rows if r["is"] >= level), None)


def markdown(curves: dict[str, list[dict[str, Any]]], command: str, mi: dict[str, Any]) -> str:
    libs = list(curves)
    lines = [f"Command: `{command}`", "", machine_line(mi), ""]
    lines += ["| step | " + " | ".join(f"{lib} s | {lib} IS | {lib} FID" for lib in libs) + " |"]
    lines += ["| --- |" + " --- | --- | --- |" * len(libs)]
    for i, row in enumerate(curves[libs[0]]):
        cells = []
        for lib in libs:
            r = curves[lib][i]
            cells.append(f"{r['train_seconds']:.0f} | {r['is']:.2f} | {r['fid']:.1f}")
        lines.append(f"| {row['step']} | " + " | ".join(cells) + " |")
    lines += ["", "| IS reached | minigan s | PyTorch s | minigan / PyTorch |", "| --- | --- | --- | --- |"]
    for level in THRESHOLDS:
        m = first_reached(curves["minigan"], level)
        t = first_reached(curves["torch"], level) if "torch" in curves else None
        ratio = f"{m / t:.2f}" if m is not None and t else "-"
        lines.append(
            f"| {level:g} | {m if m is not None else 'not reached'} | {t if t is not None else 'not reached'} "
            f"| {ratio} |"
        )
    return "\n".join(lines) + "\n"


def plot(curves: dict[str, list[dict[str, Any]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for lib, color in zip(curves, ("C0", "C1")):
        t = [r["train_seconds"] for r in curves[lib]]
        axes[0].plot(t, [r["is"] for r in curves[lib]], "o-", color=color, label=lib)
        axes[1].plot(t, [r["fid"] for r in curves[lib]], "o-", color=color, label=lib)
    axes[0].set(xlabel="training seconds", ylabel="Inception Score (MNIST classifier)", title="IS (higher is better)")
    axes[1].set(xlabel="training seconds", ylabel="FID", yscale="log", title="FID (lower is better)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", help="the folder holding mnist/")
    p.add_argument("--out", default="benchmarks/results/time_to_quality", help="where results go")
    p.add_argument("--steps", type=int, default=12000, help="training steps per library (default 12,000)")
    p.add_argument("--every", type=int, default=1500, help="steps between snapshots (default 1,500)")
    p.add_argument("--n", type=int, default=5000, help="samples per snapshot and test images (default 5,000)")
    p.add_argument("--threads", type=int, default=1, help="BLAS / torch threads for both (default 1)")
    p.add_argument("--quick", action="store_true", help="glyph digits, 4 steps, 200 samples: a smoke run")
    p.add_argument("--reuse", action="store_true", help="score the snapshots already in --out, train nothing")
    p.add_argument("--child", choices=LIBRARIES, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.quick:
        a.steps, a.every, a.n = 4, 2, 200
    if a.child:
        child(a)
        return 0
    command = "python benchmarks/time_to_quality.py " + " ".join(argv if argv is not None else sys.argv[1:])
    libs = available_libraries()
    for lib in libs:  # one after the other, each alone in its process
        if not (a.reuse and (Path(a.out) / f"{lib}.json").is_file()):
            launch(a, lib)
    curves = score(a, libs)
    # The machine record names the children's thread settings (this process only scores).
    os.environ.update(OPENBLAS_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    if "torch" in libs:
        import torch

        torch.set_num_threads(a.threads)
    mi = machine("numpy")
    rows = [{"library": lib, **r, "machine": mi} for lib in libs for r in curves[lib]]
    write_results("time_to_quality", a.out, rows, markdown(curves, command, mi))
    plot(curves, Path(a.out) / "time_to_quality.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
