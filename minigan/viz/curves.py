"""Training curves: losses, discriminator outputs, gradient norms.

Every function takes a *history*: a dict of equal-length lists, one entry per
logged step, as the trainer records it, e.g.::

    {"step": [0, 50, 100, ...], "d_loss": [...], "g_loss": [...],
     "d_real": [...], "d_fake": [...], "d_grad_norm": [...], "g_grad_norm": [...]}

and writes one PNG, returning its path. Keys that are missing are skipped, so
the same call works for every loss (a WGAN critic has no D(x) probability).

How to read them:

- **losses**: a GAN's losses do not go to zero; two players push against each
  other. Look for stability: for the minimax loss, D's loss near
  ``2 log 2 = 1.386`` (D cannot tell real from fake) is the textbook equilibrium;
  D's loss collapsing to 0 means D wins and G's gradient vanishes.
- **D outputs**: ``D(x)`` (on real data) and ``D(G(z))`` (on fakes) as
  probabilities. At the equilibrium of the original GAN both are 0.5, drawn as
  a dashed line. ``D(x) -> 1, D(G(z)) -> 0`` for long is a discriminator that
  won; the two lines crossing back and forth is the game being played.
- **gradient norms**: on a log scale. Exploding norms precede divergence;
  vanishing G norms are the saturation the non-saturating loss was invented for.

Raw values are drawn faintly, with a moving average on top (GAN losses are noisy).

Read next: ``minigan/viz/toy.py`` (pictures of 1-D and 2-D toy distributions).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from minigan.backend import host_np as np
from minigan.viz.images import new_figure, save_figure

__all__ = ["plot_curves", "plot_d_outputs", "plot_grad_norms", "plot_history", "plot_losses", "smooth"]

LABELS = {
    "d_loss": "D loss",
    "g_loss": "G loss",
    "d_real": "D(x)  (real)",
    "d_fake": "D(G(z))  (fake)",
    "d_grad_norm": "||grad D||",
    "g_grad_norm": "||grad G||",
}


def smooth(values: Sequence[float], window: int) -> Any:
    """Trailing moving average over ``window`` points (shorter at the start), NaNs ignored.

    Point i is the mean of the finite values among ``values[max(0, i-window+1) : i+1]``.
    """
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    # Cumulative sums give every window's sum in O(N): sum[a:b] = c[b] - c[a].
    c = np.concatenate([[0.0], np.cumsum(np.where(ok, v, 0.0))])
    k = np.concatenate([[0], np.cumsum(ok)])
    i = np.arange(1, len(v) + 1)
    start = np.maximum(i - window, 0)
    count = k[i] - k[start]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (c[i] - c[start]) / count, np.nan)


def _steps(history: Mapping[str, Sequence[float]], n: int) -> Any:
    steps = history.get("step")
    if steps is not None and len(steps) == n:
        return np.asarray(steps, dtype=np.float64)
    return np.arange(n, dtype=np.float64)


def plot_curves(
    history: Mapping[str, Sequence[float]],
    keys: Sequence[str],
    path: str | os.PathLike,
    title: str = "",
    ylabel: str = "",
    log_y: bool = False,
    hline: float | None = None,
    smooth_window: int | None = None,
) -> Path:
    """Plot ``history[key]`` against ``history["step"]`` for every key present; save a PNG.

    Args:
        history: dict of lists (see the module docstring).
        keys: which series to draw (missing ones are skipped).
        path: PNG file to write.
        title, ylabel: labels.
        log_y: logarithmic y axis (for norms).
        hline: draw a dashed horizontal reference line at this value.
        smooth_window: moving-average window; default about 1/25 of the points, at least 1.

    Raises:
        ValueError: none of ``keys`` is in ``history`` (the message lists what is).
    """
    present = [k for k in keys if k in history and len(history[k]) > 0]
    if not present:
        raise ValueError(f"history has none of the keys {list(keys)}; it has {sorted(history)}")
    fig = new_figure((7.0, 4.0))
    ax = fig.add_subplot()
    colors = {k: f"C{i}" for i, k in enumerate(keys)}
    for key in present:
        values = np.asarray(history[key], dtype=np.float64)
        x = _steps(history, len(values))
        window = smooth_window or max(1, len(values) // 25)
        if window > 1:
            ax.plot(x, values, color=colors[key], alpha=0.25, linewidth=0.8)
            ax.plot(x, smooth(values, window), color=colors[key], linewidth=1.6, label=LABELS.get(key, key))
        else:
            ax.plot(x, values, color=colors[key], linewidth=1.4, label=LABELS.get(key, key))
    if hline is not None:
        ax.axhline(hline, color="0.4", linestyle="--", linewidth=1.0, label=f"{hline:g}")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("step" if "step" in history else "logged point")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    return save_figure(fig, path)


def plot_losses(history: Mapping[str, Sequence[float]], path: str | os.PathLike, **kwargs: Any) -> Path:
    """D and G losses over training (``d_loss``, ``g_loss``). Returns the PNG path."""
    kwargs.setdefault("title", "Losses")
    kwargs.setdefault("ylabel", "loss")
    return plot_curves(history, ("d_loss", "g_loss"), path, **kwargs)


def plot_d_outputs(history: Mapping[str, Sequence[float]], path: str | os.PathLike, **kwargs: Any) -> Path:
    """Mean ``D(x)`` and ``D(G(z))`` with the 0.5 equilibrium line. Returns the PNG path."""
    kwargs.setdefault("title", "Discriminator outputs")
    kwargs.setdefault("ylabel", "mean D output")
    kwargs.setdefault("hline", 0.5)
    return plot_curves(history, ("d_real", "d_fake"), path, **kwargs)


def plot_grad_norms(history: Mapping[str, Sequence[float]], path: str | os.PathLike, **kwargs: Any) -> Path:
    """Gradient norms of D's and G's parameters, log scale. Returns the PNG path."""
    kwargs.setdefault("title", "Gradient norms")
    kwargs.setdefault("ylabel", "L2 norm")
    values = [v for k in ("d_grad_norm", "g_grad_norm") for v in history.get(k, [])]
    # A log axis needs positive values; fall back to linear if some norm is 0 or missing.
    kwargs.setdefault("log_y", bool(values) and all(math.isfinite(v) and v > 0 for v in values))
    return plot_curves(history, ("d_grad_norm", "g_grad_norm"), path, **kwargs)


def plot_history(history: Mapping[str, Sequence[float]], out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``losses.png``, ``d_outputs.png`` and ``grad_norms.png`` into ``out_dir``
    for whichever of them the history has data for. Returns ``{name: path}``."""
    out = Path(out_dir)
    written: dict[str, Path] = {}
    for name, fn, keys in (
        ("losses", plot_losses, ("d_loss", "g_loss")),
        ("d_outputs", plot_d_outputs, ("d_real", "d_fake")),
        ("grad_norms", plot_grad_norms, ("d_grad_norm", "g_grad_norm")),
    ):
        if any(history.get(k) for k in keys):
            written[name] = fn(history, out / f"{name}.png")
    return written
