"""Mode-collapse benchmarks: GANs on the 2-D ring of 8 and grid of 25 Gaussians.

For each run an MLP generator and an MLP discriminator are trained on a toy mixture
(``minigan.data.toy``), then 2,500 samples are scored with ``toy.mode_metrics``:

- modes: modes with at least one high-quality sample (ring: of 8, grid: of 25);
- HQ %: samples within 3 sigma of their nearest mean (ring: 0.03, grid: 0.15);
- reverse KL: KL(q || uniform) of the modes of the high-quality samples (0 is perfect,
  log K when everything sits on one mode).

Usage::

    python benchmarks/toy2d.py                       # every run below, table + JSON
    python benchmarks/toy2d.py plain-ring hinge-ring  # some of them
    python benchmarks/toy2d.py --list
    python benchmarks/toy2d.py --out runs/toy2d --steps 2000   # override the steps

Each run writes ``scatter_<run>.png`` (samples over the means) next to ``toy2d.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import minigan
import minigan.nn as nn
from minigan.data import toy
from minigan.gan import GANTrainer
from minigan.gan.ema import EMA
from minigan.gan.rejection import rejection_sample
from minigan.gan.trainer import CosineLR
from minigan.optim import Adam


@dataclass(frozen=True)
class Run:
    """One benchmark configuration (every field ends up in the JSON)."""

    data: str  # "ring" or "grid"
    loss: str = "ns"
    steps: int = 5000
    batch_size: int = 256
    latent_dim: int = 16
    g_hidden: int = 128
    d_hidden: int = 128
    layers: int = 2  # hidden layers in each network
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    d_steps: int | None = None  # None: the loss's n_critic (5 for WGAN-GP)
    r1_gamma: float = 0.0
    gp_weight: float | None = None  # None: the loss's (10 for WGAN-GP)
    minibatch_std: bool = False  # a MinibatchStdDev feature in front of D's last layer
    lr_decay: bool = False  # cosine decay of both learning rates to 0
    ema: float = 0.0  # sample from an EMA of G's weights with this decay (0: from G itself)
    drs_gamma: float | None = None  # discriminator rejection sampling with this gamma (None: off)
    seed: int = 0


def mixture(name: str) -> toy.Mixture:
    return {"ring": toy.ring_2d, "grid": toy.grid_2d}[name]()


#: The runs. "plain": the standard GAN recipe (non-saturating loss, Adam 1e-3, no tricks).
RUNS: dict[str, Run] = {
    "plain-ring": Run("ring"),
    "plain-grid": Run("grid"),
    # The best found (of: R1, cosine decay, longer training, wider nets, minibatch std, hinge):
    # an R1 penalty on real data (gamma 0.1) and learning rates decayed to 0 with a cosine;
    # the non-saturating loss on the ring, the hinge loss (and twice the steps) on the grid.
    "best-ring": Run("ring", loss="ns", r1_gamma=0.1, lr_decay=True, steps=5000),
    "best-grid": Run("grid", loss="hinge", r1_gamma=0.1, lr_decay=True, steps=10000),
    # The same recipes with wider and deeper networks (3 hidden layers of 256) and an EMA of G:
    # the capacity is what lets G's map from the noise jump between modes instead of bridging them.
    "wide-ring": Run("ring", loss="ns", r1_gamma=0.1, lr_decay=True, steps=5000, g_hidden=256, d_hidden=256, layers=3),
    "wide-ring-ema": Run(
        "ring", loss="ns", r1_gamma=0.1, lr_decay=True, steps=5000, g_hidden=256, d_hidden=256, layers=3, ema=0.999
    ),
    "wide-grid-ema": Run(
        "grid", loss="hinge", r1_gamma=0.1, lr_decay=True, steps=10000, g_hidden=256, d_hidden=256, layers=3, ema=0.999
    ),
    # Discriminator rejection sampling on top (minigan.gan.rejection; the ns loss: D's logit estimates
    # log p_data / p_g): gamma 4 keeps about half of G's samples.
    "wide-ring-drs": Run(
        "ring", loss="ns", r1_gamma=0.1, lr_decay=True, steps=5000, g_hidden=256, d_hidden=256, layers=3, drs_gamma=4.0
    ),
    # WGAN-GP as in Gulrajani et al. (n_critic 5, lambda 10, Adam betas (0.5, 0.9)), with a
    # two-time-scale learning rate (critic 1e-3, generator 1e-4): with equal rates the
    # generator's samples swing around the plane as a whole instead of spreading out.
    "wgan-gp-ring": Run("ring", loss="wgan-gp", lr_g=1e-4, lr_d=1e-3, betas=(0.5, 0.9), steps=4000),
    "hinge-ring": Run("ring", loss="hinge"),
    # Variants tried for WGAN-GP on the ring (see benchmarks/README.md).
    "wgan-gp-ring-eq": Run("ring", loss="wgan-gp", lr_g=1e-4, lr_d=1e-4, betas=(0.5, 0.9), steps=4000),
    "wgan-gp-ring-gp01": Run("ring", loss="wgan-gp", lr_g=1e-4, lr_d=1e-4, betas=(0.5, 0.9), gp_weight=0.1, steps=4000),
    "wgan-gp-ring-decay": Run(
        "ring", loss="wgan-gp", lr_g=1e-4, lr_d=1e-3, betas=(0.5, 0.9), lr_decay=True, steps=4000
    ),
}


def build(run: Run) -> tuple[nn.Module, nn.Module]:
    """G: latent -> hidden x layers (ReLU) -> 2; D: 2 -> hidden x layers (LeakyReLU 0.2) -> 1 logit."""
    rng = minigan.Generator(run.seed)
    g_layers: list[nn.Module] = []
    width = run.latent_dim
    for _ in range(run.layers):
        g_layers += [nn.Dense(width, run.g_hidden, rng=rng), nn.ReLU()]
        width = run.g_hidden
    g_layers.append(nn.Dense(width, 2, rng=rng))
    d_layers: list[nn.Module] = []
    width = 2
    for _ in range(run.layers):
        d_layers += [nn.Dense(width, run.d_hidden, rng=rng), nn.LeakyReLU(0.2)]
        width = run.d_hidden
    if run.minibatch_std:
        d_layers.append(nn.MinibatchStdDev(group_size=4))
        width += 1
    d_layers.append(nn.Dense(width, 1, rng=rng))
    return nn.Sequential(*g_layers), nn.Sequential(*d_layers)


def train(name: str, run: Run, out: Path | None = None, n_eval: int = 2500) -> dict:
    data = mixture(run.data)
    G, D = build(run)
    g_opt = Adam(G.parameters(), lr=run.lr_g, betas=run.betas)
    d_opt = Adam(D.parameters(), lr=run.lr_d, betas=run.betas)
    trainer = GANTrainer(
        G,
        D,
        g_opt,
        d_opt,
        data,
        loss=run.loss,
        latent_dim=run.latent_dim,
        batch_size=run.batch_size,
        d_steps=run.d_steps,
        r1_gamma=run.r1_gamma,
        gp_weight=run.gp_weight,
        seed=run.seed,
        n_fixed=n_eval,
    )
    callbacks: list = [CosineLR([g_opt, d_opt], run.steps)] if run.lr_decay else []
    ema = EMA(G, run.ema) if run.ema else None
    if ema is not None:
        callbacks.append(ema)
    start = time.perf_counter()
    trainer.train(run.steps, callbacks)
    seconds = time.perf_counter() - start
    sampler = G if ema is None else ema.average
    extra = {}
    if run.drs_gamma is not None:  # G's samples, filtered by D (minigan.gan.rejection)
        drs = rejection_sample(sampler, D, n_eval, run.latent_dim, minigan.Generator(run.seed + 1), gamma=run.drs_gamma)
        samples, extra = drs.samples, {"acceptance": round(drs.acceptance, 3)}
    elif ema is None:
        samples = trainer.sample_fixed()  # 2,500 samples of the fixed noise batch
    else:
        with minigan.no_grad():
            samples = ema.average(trainer.fixed_noise)
    metrics = toy.mode_metrics(samples, data)
    result = {"run": name, **metrics, **extra, "seconds": round(seconds, 1), "config": asdict(run)}
    if out is not None:
        from minigan.viz import toy as vtoy

        vtoy.scatter_2d(
            out / f"scatter_{name}.png",
            samples,
            data.means,
            sigma=data.sigma,
            title=f"{name}: {metrics['modes']}/{metrics['n_modes']} modes, {metrics['high_quality']:.1f}% HQ",
        )
    return result


def table(results: list[dict]) -> str:
    lines = [
        f"{'run':<14} {'loss':<8} {'steps':>6} {'modes':>7} {'HQ %':>6} {'rev KL':>7} {'time s':>7}",
        "-" * 62,
    ]
    for r in results:
        kl = "-" if r["reverse_kl"] is None else f"{r['reverse_kl']:.3f}"
        modes = f"{r['modes']}/{r['n_modes']}"
        lines.append(
            f"{r['run']:<14} {r['config']['loss']:<8} {r['config']['steps']:>6} {modes:>7} "
            f"{r['high_quality']:>6.1f} {kl:>7} {r['seconds']:>7.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", help=f"runs to do (default: all): {', '.join(RUNS)}")
    parser.add_argument("--out", default="runs/toy2d", help="folder for toy2d.json and the scatter plots")
    parser.add_argument("--steps", type=int, default=None, help="override every run's number of steps")
    parser.add_argument("--seed", type=int, default=None, help="override every run's seed")
    parser.add_argument("--list", action="store_true", help="list the runs and their settings")
    args = parser.parse_args(argv)
    if args.list:
        for name, run in RUNS.items():
            print(f"{name:<14} {run}")
        return 0
    names = args.runs or list(RUNS)
    unknown = [n for n in names if n not in RUNS]
    if unknown:
        parser.error(f"unknown runs {unknown}; choose from {', '.join(RUNS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for name in names:
        run = RUNS[name]
        if args.steps is not None:
            run = replace(run, steps=args.steps)
        if args.seed is not None:
            run = replace(run, seed=args.seed)
        results.append(train(name, run, out))
        print(table(results[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(results))
    command = "python benchmarks/toy2d.py " + " ".join(sys.argv[1:] if argv is None else argv)
    payload = {"command": command.strip(), "backend": minigan.get_backend().name, "n_eval": 2500, "results": results}
    (out / "toy2d.json").write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {out / 'toy2d.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
