"""The toy experiments, as Python entry points that write their results to a folder.

- :func:`run_gaussian_1d` reproduces the Gaussian-fitting post: a linear generator
  ``G(z) = a*z + b`` with z ~ N(0, 1) against data N(mu, sigma^2). G's output is exactly
  N(b, a^2), so the game's equilibrium is ``b = mu``, ``|a| = sigma``, and there D cannot
  tell the two apart: D(x) = 1/2 everywhere. The same function trains on two-mode mixtures
  (``mixture="near"`` or ``"far"``) to show what a linear G cannot do (average the modes,
  or collapse onto one) and what an MLP generator (``generator="mlp"``) can.
- :func:`run_vanishing_gradients` shows why the original minimax generator loss stalls:
  with G fixed far from the data, D is trained until it confidently rejects the fakes, and
  G's gradient is measured along the way under the minimax loss ``log(1 - D(G(z)))`` and the
  non-saturating loss ``-log D(G(z))``.

Each run writes ``config.json`` (everything needed to repeat it), ``metrics.json`` (the
numbers), ``history.json`` (per-step curves) and PNG/GIF plots into ``out``, and returns the
metrics dict. ``minigan train --model gaussian-1d --steps 3000 --out DIR`` calls
:func:`run_gaussian_1d`.

Layering: this module sits on top of ``minigan.data.toy`` and ``minigan.viz.toy``, so it is
in the data/viz layer although it lives in the ``gan`` package (``minigan.gan`` does not
import it; ``from minigan.gan import experiments`` does).

Read next: ``benchmarks/toy2d.py`` (the 2-D ring and grid benchmarks).
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import minigan.functions as F
from minigan import backend as B
from minigan import models
from minigan.autograd import Tensor, grad, no_grad
from minigan.data import toy
from minigan.gan.losses import minimax_g_loss, nonsaturating_g_loss
from minigan.gan.trainer import CosineLR, GANTrainer, ParameterAverage, every, frozen
from minigan.nn.activation import LeakyReLU
from minigan.nn.linear import Dense
from minigan.nn.module import Module, Sequential
from minigan.optim import Adam

__all__ = ["build_1d_generator", "run_gaussian_1d", "run_mixtures", "run_vanishing_gradients"]


# ----------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------
def build_1d_generator(kind: str, rng: B.Generator, latent_dim: int = 1, hidden: int = 32) -> Module:
    """``"linear"``: a*z + b (the registered ``gaussian-1d-generator``); ``"mlp"``:
    latent_dim-hidden-hidden-1 with LeakyReLU(0.2), which can bend N(0, 1) into two modes."""
    if kind == "linear":
        return models.build("gaussian-1d-generator", rng=rng, latent_dim=latent_dim)
    if kind == "mlp":
        return Sequential(
            Dense(latent_dim, hidden, rng=rng),
            LeakyReLU(0.2),
            Dense(hidden, hidden, rng=rng),
            LeakyReLU(0.2),
            Dense(hidden, 1, rng=rng),
        )
    raise ValueError(f"generator must be 'linear' or 'mlp', got {kind!r}")


# ----------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------
def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def _host1d(x: Tensor) -> Any:
    return B.to_host(x.data).astype("float64").reshape(-1)


def _d_curve(D: Module, xs: Any) -> Any:
    """D(x) = sigmoid(logit) on host grid points xs (D's buffers untouched: no BatchNorm here)."""
    with no_grad():
        logits = D(Tensor(B.asarray(xs.reshape(-1, 1), dtype=B.float_dtype())))
        return _host1d(F.sigmoid(logits))


def _mixture_report(fake: Any, real: Any, mixture: toy.Mixture) -> dict[str, Any]:
    """How a generator covers a two-mode mixture (host float64 sample arrays).

    - ``mode_fractions``: fraction of samples whose nearest mode is each mode;
    - ``center_fraction``: fraction within a quarter of the gap of the midpoint (the valley of
      the real density), for generated and real samples;
    - ``outcome``: ``"collapse"`` when a mode gets under 10% of the samples, ``"averaging"``
      when the valley holds more than 1.5x the real fraction plus 5% of the samples (one wide
      mode across both),
      ``"both modes"`` otherwise.
    """
    (m0,), (m1,) = sorted(mixture.means)
    center, gap = 0.5 * (m0 + m1), m1 - m0
    near_first = abs(fake - m0) < abs(fake - m1)
    fractions = [float(near_first.mean()), float(1.0 - near_first.mean())]
    valley_fake = float((abs(fake - center) < gap / 4).mean())
    valley_real = float((abs(real - center) < gap / 4).mean())
    if min(fractions) < 0.1:
        outcome = "collapse"
    elif valley_fake > 1.5 * valley_real + 0.05:
        outcome = "averaging"
    else:
        outcome = "both modes"
    return {
        "mode_fractions": fractions,
        "center_fraction": valley_fake,
        "center_fraction_real": valley_real,
        "outcome": outcome,
    }


# ----------------------------------------------------------------------------
# The Gaussian-fitting experiment
# ----------------------------------------------------------------------------
def run_gaussian_1d(
    mu: float = 4.0,
    sigma: float = 1.25,
    steps: int = 3000,
    out: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    generator: str = "linear",
    mixture: str | float | None = None,
    loss: str = "ns",
    batch_size: int = 512,
    lr: float | None = None,
    betas: tuple[float, float] = (0.5, 0.999),
    lr_schedule: str = "cosine",
    average: float = 0.5,
    hidden: int = 32,
    latent_dim: int | None = None,
    n_eval: int = 10_000,
    frames: int = 60,
    plots: bool = True,
) -> dict[str, Any]:
    """Train G against D on N(mu, sigma^2) (or a two-mode mixture) and report how well G fits.

    Args:
        mu, sigma: the target N(mu, sigma^2); with ``mixture`` the modes are N(mu -+ d/2, sigma^2).
        steps: training steps (one D update and one G update each).
        out: folder for ``config.json``, ``metrics.json``, ``history.json`` and the plots
            (None: write nothing).
        seed: seeds the models' initial weights and the trainer (noise, data batches).
        generator: ``"linear"`` (a*z + b) or ``"mlp"``.
        mixture: None (one Gaussian), ``"near"`` (modes 2 apart), ``"far"`` (8 apart) or a
            separation d.
        loss: a registered GAN loss (default the non-saturating one).
        batch_size, lr, betas: Adam for both players with the same settings (lr default:
            0.02 for the linear generator, 0.005 for the MLP).
        lr_schedule: ``"cosine"`` (decay to 0 over ``steps``) or ``"constant"``.
        average: report the generator whose weights are averaged over this final fraction
            of training (0: the last weights). Both are in the metrics.
        hidden: width of D's (and the MLP generator's) hidden layers.
        latent_dim: size of z (default: 1 for the linear generator, as in the post; 4 for the
            MLP, which then splits its noise into two modes more reliably).
        n_eval: samples drawn from the final generator for ``gen_mean`` / ``gen_std``.
        frames: frames of the training animation (0: no GIF).

    Returns the metrics (also written to ``metrics.json``):
        ``gen_mean``, ``gen_std`` (of ``n_eval`` samples of the final generator),
        ``d_real`` / ``d_fake`` (mean D(x) / D(G(z)) over the last 100 steps),
        ``mean_error``, ``std_error`` (relative to mu and sigma, one-Gaussian runs),
        ``last_gen_mean``, ``last_gen_std`` (the un-averaged last weights), ``a``, ``b``
        (linear G), and for mixtures ``mode_fractions``, ``center_fraction``, ``outcome``.
    """
    if lr is None:
        lr = 0.02 if generator == "linear" else 0.005
    if latent_dim is None:
        latent_dim = 1 if generator == "linear" else 4
    if lr_schedule not in ("cosine", "constant"):
        raise ValueError(f"lr_schedule must be 'cosine' or 'constant', got {lr_schedule!r}")
    if not 0.0 <= average < 1.0:
        raise ValueError(f"average must be in [0, 1), got {average}")
    data = toy.gaussian_1d(mu, sigma) if mixture is None else toy.mixture_1d(mixture, sigma=sigma, center=mu)
    root = B.Generator(seed)
    G = build_1d_generator(generator, root.spawn(), latent_dim=latent_dim, hidden=hidden)
    D = models.build("gaussian-1d-discriminator", rng=root.spawn(), hidden=hidden)
    g_opt = Adam(G.parameters(), lr=lr, betas=betas)
    d_opt = Adam(D.parameters(), lr=lr, betas=betas)
    trainer = GANTrainer(
        G, D, g_opt, d_opt, data, loss=loss, latent_dim=latent_dim, batch_size=batch_size, seed=seed, n_fixed=2000
    )

    # What to watch during training: the generated mean/std (on the fixed noise batch) every
    # few steps, and animation frames (generated histogram and the D(x) curve).
    lo, hi = min(m[0] for m in data.means) - 4 * sigma, max(m[0] for m in data.means) + 4 * sigma
    xs = B.host_np.linspace(min(lo, -1.0), max(hi, 1.0), 300)
    tracked: dict[str, list[float]] = {"step": [], "gen_mean": [], "gen_std": []}
    snapshots: list[dict[str, Any]] = []

    def track(t: GANTrainer, record: dict[str, Any]) -> None:
        fake = _host1d(t.sample_fixed())
        tracked["step"].append(t.step)
        tracked["gen_mean"].append(float(fake.mean()))
        tracked["gen_std"].append(float(fake.std()))

    def snapshot(t: GANTrainer, record: dict[str, Any]) -> None:
        snapshots.append({"step": t.step, "fake": _host1d(t.sample_fixed()), "d_curve": _d_curve(D, xs)})

    callbacks: list[Any] = [every(max(1, steps // 300), track)]
    if plots and frames and out is not None:
        snapshot(trainer, {})  # frame 0: before training
        callbacks.append(every(max(1, steps // frames), snapshot))
    if lr_schedule == "cosine":
        callbacks.append(CosineLR([g_opt, d_opt], steps))
    averager = ParameterAverage(G, start=int(round((1.0 - average) * steps)) + 1) if average > 0 else None
    if averager is not None:
        callbacks.append(averager)

    started = time.perf_counter()
    trainer.train(steps, callbacks)
    seconds = time.perf_counter() - started

    # Evaluate the final generator on fresh noise (its own stream: independent of training).
    eval_rng = B.Generator(seed).spawn()
    z = trainer.sample_noise(n_eval, eval_rng)
    with no_grad():
        last = _host1d(G(z))
        final_G = (
            G
            if averager is None
            else averager.copy_to(build_1d_generator(generator, B.Generator(0), latent_dim, hidden))
        )
        fake = _host1d(final_G(z))
    real = _host1d(data.sample(n_eval, eval_rng))
    tail = trainer.history[-100:]
    metrics: dict[str, Any] = {
        "gen_mean": float(fake.mean()),
        "gen_std": float(fake.std()),
        "d_real": sum(r["d_real"] for r in tail) / len(tail),
        "d_fake": sum(r["d_fake"] for r in tail) / len(tail),
        "last_gen_mean": float(last.mean()),
        "last_gen_std": float(last.std()),
        "steps": steps,
        "train_seconds": round(seconds, 2),
    }
    if mixture is None:
        metrics["mean_error"] = abs(metrics["gen_mean"] - mu) / abs(mu) if mu else abs(metrics["gen_mean"])
        metrics["std_error"] = abs(metrics["gen_std"] - sigma) / sigma
    else:
        metrics.update(_mixture_report(fake, real, data))
    if generator == "linear" and latent_dim == 1:
        a, b = (float(B.to_host(p.data).reshape(-1)[0]) for p in final_G.parameters())
        metrics["a"], metrics["b"] = a, b

    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        config = {
            "model": "gaussian-1d",
            "mu": mu,
            "sigma": sigma,
            "steps": steps,
            "seed": seed,
            "generator": generator,
            "discriminator": f"gaussian-1d-discriminator (1-{hidden}-{hidden}-1, LeakyReLU 0.2)",
            "mixture": mixture,
            "means": [m[0] for m in data.means],
            "loss": loss,
            "batch_size": batch_size,
            "optimizer": {"name": "Adam", "lr": lr, "betas": list(betas)},
            "lr_schedule": lr_schedule,
            "average": average,
            "hidden": hidden,
            "latent_dim": latent_dim,
            "noise": "normal",
            "n_eval": n_eval,
            "backend": B.get_backend().name,
        }
        _write_json(out / "config.json", config)
        _write_json(out / "metrics.json", metrics)
        _write_json(out / "history.json", {"steps": trainer.history_columns(), "tracked": tracked})
        if plots:
            _plot_gaussian_1d(out, trainer, tracked, snapshots, data, xs, fake, real, D, mixture is None)
    return metrics


def _plot_gaussian_1d(out, trainer, tracked, snapshots, data, xs, fake, real, D, single) -> None:
    from minigan.viz import curves
    from minigan.viz import toy as vtoy

    cols = trainer.history_columns()
    pdf = data.pdf(xs)
    vtoy.plot_d_values(out / "d_values.png", cols["step"], cols["d_real"], cols["d_fake"])
    vtoy.plot_generator_stats(
        out / "generator_stats.png",
        tracked["step"],
        tracked["gen_mean"],
        tracked["gen_std"],
        data.mean[0],
        data.std[0],
    )
    vtoy.plot_histogram_1d(
        out / "histogram.png",
        xs,
        pdf,
        fake,
        _d_curve(D, xs),
        real=real,
        title=f"{data.name}: real vs generated after {trainer.step} steps",
    )
    curves.plot_losses(cols, out / "losses.png")
    curves.plot_grad_norms(cols, out / "grad_norms.png")
    if snapshots:
        vtoy.animate_1d(out / "training.gif", xs, pdf, snapshots)


def run_mixtures(
    out: str | os.PathLike | None = None,
    *,
    mu: float = 4.0,
    sigma: float = 0.5,
    steps: int = 3000,
    seed: int = 0,
    plots: bool = True,
) -> dict[str, dict[str, Any]]:
    """The two-mode runs of the post: linear and MLP generators on near and far modes.

    The modes sit at mu -+ 1 ("near") and mu -+ 4 ("far") with standard deviation ``sigma``;
    every generator starts near 0, i.e. at the lower far mode. Expected outcomes: the linear
    G averages the near modes into one wide Gaussian and collapses onto one far mode; the MLP
    G covers both far modes. Writes one sub-folder per run and ``summary.json`` into ``out``;
    returns ``{"linear-near": metrics, ...}``.
    """
    results: dict[str, dict[str, Any]] = {}
    for generator in ("linear", "mlp"):
        for mixture in ("near", "far"):
            name = f"{generator}-{mixture}"
            sub = None if out is None else Path(out) / name
            results[name] = run_gaussian_1d(
                mu, sigma, steps, sub, seed=seed, generator=generator, mixture=mixture, plots=plots
            )
    if out is not None:
        summary = {
            name: {k: m[k] for k in ("outcome", "mode_fractions", "center_fraction", "gen_mean", "gen_std")}
            for name, m in results.items()
        }
        _write_json(Path(out) / "summary.json", summary)
    return results


# ----------------------------------------------------------------------------
# Vanishing gradients
# ----------------------------------------------------------------------------
def run_vanishing_gradients(
    out: str | os.PathLike | None = None,
    *,
    steps: int = 1000,
    mu: float = 4.0,
    sigma: float = 1.25,
    fake_mean: float = -4.0,
    fake_std: float = 1.0,
    seed: int = 0,
    batch_size: int = 256,
    lr: float = 1e-3,
    log_every: int = 10,
    hidden: int = 32,
    plots: bool = True,
) -> dict[str, Any]:
    """Measure G's gradient under the minimax and the non-saturating losses as D wins.

    G is the linear generator fixed at N(fake_mean, fake_std^2), far from the data
    N(mu, sigma^2); only D is trained (``steps`` Adam updates). Every ``log_every`` updates
    the gradient of each generator loss with respect to G's weights is computed on the same
    noise batch, through the frozen D:

        minimax:         d/dtheta E[log(1 - D(G(z)))]  = -E[ D(G(z)) * dlogit/dtheta ]
        non-saturating:  d/dtheta -E[log D(G(z))]      = -E[ (1 - D(G(z))) * dlogit/dtheta ]

    As D(G(z)) -> 0 the first is scaled by D(G(z)) and vanishes, the second by ~1.

    Returns ``{"step", "grad_norm_minimax", "grad_norm_ns", "d_fake", "ratio_final", ...}``
    (also in ``metrics.json``; plot ``vanishing_gradients.png``).
    """
    root = B.Generator(seed)
    G = models.build("gaussian-1d-generator", rng=root.spawn())
    D = models.build("gaussian-1d-discriminator", rng=root.spawn(), hidden=hidden)
    a, b = G.parameters()
    a.data = B.asarray([[fake_std]], dtype=a.dtype)  # G(z) = fake_std * z + fake_mean
    b.data = B.asarray([fake_mean], dtype=b.dtype)
    trainer = GANTrainer(
        G,
        D,
        Adam(G.parameters(), lr=1e-3),  # G is never stepped here: the lr is unused
        Adam(D.parameters(), lr=lr, betas=(0.5, 0.999)),
        toy.gaussian_1d(mu, sigma),
        loss="ns",
        latent_dim=1,
        batch_size=batch_size,
        seed=seed,
    )
    z = trainer.sample_noise(batch_size, B.Generator(seed).spawn())  # one fixed batch for every measurement
    result: dict[str, list[float]] = {"step": [], "grad_norm_minimax": [], "grad_norm_ns": [], "d_fake": []}

    def measure(step: int) -> None:
        with frozen(D):  # D passes gradients through to G but is not changed
            logits = D(G(z))
            for key, g_loss in (("grad_norm_minimax", minimax_g_loss), ("grad_norm_ns", nonsaturating_g_loss)):
                grads = grad(g_loss(logits), G.parameters(), retain_graph=True)
                result[key].append(math.sqrt(sum(float(B.xp().sum(g.data * g.data)) for g in grads)))
        result["step"].append(step)
        result["d_fake"].append(float(B.xp().mean(F.sigmoid(logits).data)))

    measure(0)
    for step in range(1, steps + 1):
        trainer.discriminator_step()  # G is held constant: only D learns
        if step % log_every == 0 or step == steps:
            measure(step)

    metrics: dict[str, Any] = {
        **result,
        "first": {k: result[k][0] for k in ("grad_norm_minimax", "grad_norm_ns", "d_fake")},
        "final": {k: result[k][-1] for k in ("grad_norm_minimax", "grad_norm_ns", "d_fake")},
        "ratio_final": result["grad_norm_ns"][-1] / max(result["grad_norm_minimax"][-1], 1e-300),
    }
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        config = {
            "experiment": "vanishing-gradients",
            "mu": mu,
            "sigma": sigma,
            "fake_mean": fake_mean,
            "fake_std": fake_std,
            "steps": steps,
            "seed": seed,
            "batch_size": batch_size,
            "optimizer": {"name": "Adam", "lr": lr, "betas": [0.5, 0.999]},
            "hidden": hidden,
        }
        _write_json(out / "config.json", config)
        _write_json(out / "metrics.json", metrics)
        if plots:
            from minigan.viz import toy as vtoy

            vtoy.plot_vanishing_gradients(
                out / "vanishing_gradients.png",
                result["step"],
                {
                    "minimax  log(1 - D(G(z)))": result["grad_norm_minimax"],
                    "non-saturating  -log D(G(z))": result["grad_norm_ns"],
                },
                d_fake=result["d_fake"],
            )
    return metrics
