"""Pictures of the toy experiments: 1-D densities, their animation, 2-D scatter plots.

- :func:`plot_histogram_1d`: real density, histogram of generated samples and the
  discriminator's D(x) curve on one set of axes (the picture of the Gaussian-fitting post);
- :func:`animate_1d`: the same picture over training, as a GIF;
- :func:`plot_generator_stats`: the generator's mean and standard deviation over steps,
  with the target values dashed;
- :func:`plot_d_values`: mean D(x) and D(G(z)) over steps (the 0.5 line is the equilibrium);
- :func:`plot_vanishing_gradients`: the generator's gradient norm under the minimax and
  the non-saturating losses as D grows confident;
- :func:`scatter_2d`: generated 2-D samples over the means of a ring or grid mixture;
- :func:`scatter_points`: generated points over real ones (a ``csv:`` file's), 1-D as
  histograms, 2-D as scatter plots.

All drawing uses matplotlib's Agg renderer through :func:`minigan.viz.images.new_figure`
(headless, never touches pyplot's global state); matplotlib is imported only when a
picture is drawn. Every function writes its file and returns the path.

Read next: ``minigan/viz/curves.py`` (loss and gradient-norm curves of any GAN).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from minigan import backend as B
from minigan.backend import host_np as np
from minigan.viz.images import new_figure, save_figure

__all__ = [
    "animate_1d",
    "plot_d_values",
    "plot_generator_stats",
    "plot_histogram_1d",
    "plot_vanishing_gradients",
    "scatter_2d",
    "scatter_points",
]


def _host(x: Any) -> Any:
    """Tensor / backend array / list -> flat host float64 array."""
    return np.asarray(B.to_numpy(x), dtype=np.float64).reshape(-1)  # to_numpy: tensors, arrays, lists


def _draw_1d(
    ax: Any,
    xs: Any,
    real_pdf: Any,
    fake: Any,
    d_curve: Any | None,
    bins: Any,
    title: str,
    real: Any | None = None,
) -> None:
    """One frame of the 1-D picture on ``ax`` (densities on the left axis, D(x) on a twin axis)."""
    ax.plot(xs, real_pdf, color="C0", linewidth=2.0, label="real density")
    if real is not None:
        ax.hist(real, bins=bins, density=True, color="C0", alpha=0.25, label="real samples")
    ax.hist(fake, bins=bins, density=True, color="C1", alpha=0.55, label="generated")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    if d_curve is not None:
        ax2 = ax.twinx()
        ax2.plot(xs, d_curve, color="C2", linewidth=1.6, label="D(x)")
        ax2.axhline(0.5, color="0.5", linestyle="--", linewidth=0.8)
        ax2.set_ylim(0.0, 1.0)
        ax2.set_ylabel("D(x)")
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, loc="upper left", fontsize=8)


def plot_histogram_1d(
    path: str | os.PathLike,
    xs: Sequence[float],
    real_pdf: Sequence[float],
    fake: Any,
    d_curve: Sequence[float] | None = None,
    real: Any | None = None,
    title: str = "real vs generated",
    bins: int = 60,
) -> Path:
    """Real density (line), optional real-sample histogram, generated histogram and D(x).

    Args:
        xs: the grid the curves are evaluated on (also fixes the x range).
        real_pdf: the data density on ``xs``.
        fake: generated samples (any shape; flattened).
        d_curve: D(x) = sigmoid(logit) on ``xs``, drawn on a right-hand axis in [0, 1].
        real: real samples for a second histogram.
    """
    xs = _host(xs)
    fig = new_figure((7.0, 4.0))
    edges = np.linspace(xs[0], xs[-1], bins + 1)
    _draw_1d(
        fig.add_subplot(),
        xs,
        _host(real_pdf),
        _host(fake),
        None if d_curve is None else _host(d_curve),
        edges,
        title,
        None if real is None else _host(real),
    )
    return save_figure(fig, path)


def animate_1d(
    path: str | os.PathLike,
    xs: Sequence[float],
    real_pdf: Sequence[float],
    frames: Sequence[Mapping[str, Any]],
    fps: float = 8.0,
    bins: int = 60,
    y_max: float | None = None,
) -> Path:
    """A GIF of training: each frame shows the real density, the generated histogram and D(x).

    ``frames``: dicts with ``"step"``, ``"fake"`` (samples) and optionally ``"d_curve"``
    (D(x) on ``xs``). ``y_max``: the density axis's upper limit, the same in every frame;
    by default the tallest histogram of any frame (a frame where G collapsed to a spike then
    flattens all the others: pass e.g. ``3 * real_pdf.max()`` to clip it). Returns the path.
    """
    from PIL import Image

    if not frames:
        raise ValueError("animate_1d needs at least one frame")
    xs, real_pdf = _host(xs), _host(real_pdf)
    edges = np.linspace(xs[0], xs[-1], bins + 1)
    # One y range for every frame, so the animation does not jump.
    if y_max is None:
        heights = [np.histogram(_host(f["fake"]), bins=edges, density=True)[0].max() for f in frames]
        y_max = 1.1 * max(float(real_pdf.max()), *[float(h) for h in heights])
    pictures = []
    for f in frames:
        fig = new_figure((6.0, 3.6), dpi=80)
        ax = fig.add_subplot()
        d_curve = f.get("d_curve")
        _draw_1d(
            ax, xs, real_pdf, _host(f["fake"]), None if d_curve is None else _host(d_curve), edges, f"step {f['step']}"
        )
        ax.set_ylim(0.0, y_max)
        fig.canvas.draw()
        rgba = np.asarray(fig.canvas.buffer_rgba())  # (H, W, 4) uint8
        pictures.append(Image.fromarray(rgba[..., :3].copy()).convert("P", palette=Image.Palette.ADAPTIVE))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pictures[0].save(
        path, format="GIF", save_all=True, append_images=pictures[1:], duration=int(round(1000.0 / fps)), loop=0
    )
    return path


def plot_generator_stats(
    path: str | os.PathLike,
    steps: Sequence[float],
    means: Sequence[float],
    stds: Sequence[float],
    target_mean: float | None = None,
    target_std: float | None = None,
) -> Path:
    """The generated distribution's mean and standard deviation over training, targets dashed."""
    fig = new_figure((7.0, 4.0))
    ax = fig.add_subplot()
    steps = _host(steps)
    ax.plot(steps, _host(means), color="C0", label="generator mean")
    ax.plot(steps, _host(stds), color="C1", label="generator std")
    if target_mean is not None:
        ax.axhline(target_mean, color="C0", linestyle="--", linewidth=1.0, label=f"mu = {target_mean:g}")
    if target_std is not None:
        ax.axhline(target_std, color="C1", linestyle="--", linewidth=1.0, label=f"sigma = {target_std:g}")
    ax.set_xlabel("step")
    ax.set_title("Generated distribution over training")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    return save_figure(fig, path)


def plot_d_values(
    path: str | os.PathLike, steps: Sequence[float], d_real: Sequence[float], d_fake: Sequence[float]
) -> Path:
    """Mean D(x) on real and on generated batches per step; the dashed line is the equilibrium 1/2."""
    fig = new_figure((7.0, 4.0))
    ax = fig.add_subplot()
    steps = _host(steps)
    ax.plot(steps, _host(d_real), color="C0", linewidth=1.0, label="D(x), real")
    ax.plot(steps, _host(d_fake), color="C1", linewidth=1.0, label="D(G(z)), generated")
    ax.axhline(0.5, color="0.4", linestyle="--", linewidth=1.0, label="1/2")
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("step")
    ax.set_ylabel("mean D output")
    ax.set_title("Discriminator outputs")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    return save_figure(fig, path)


def plot_vanishing_gradients(
    path: str | os.PathLike,
    steps: Sequence[float],
    grad_norms: Mapping[str, Sequence[float]],
    d_fake: Sequence[float] | None = None,
) -> Path:
    """Generator gradient norm per loss (log scale) against D's training steps.

    ``grad_norms``: e.g. ``{"minimax  log(1 - D(G(z)))": [...], "non-saturating  -log D(G(z))": [...]}``.
    ``d_fake``: mean D(G(z)) on the same steps, drawn on a second panel.
    """
    fig = new_figure((7.0, 6.0) if d_fake is not None else (7.0, 4.0))
    ax = fig.add_subplot(2, 1, 1) if d_fake is not None else fig.add_subplot()
    steps = _host(steps)
    for i, (label, values) in enumerate(grad_norms.items()):
        v = np.maximum(_host(values), 1e-30)  # a log axis cannot show an exact 0
        ax.plot(steps, v, color=f"C{i}", label=label)
    ax.set_yscale("log")
    ax.set_ylabel("||grad_G loss||")
    ax.set_title("Generator gradient as D learns to reject the fakes")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    if d_fake is not None:
        ax2 = fig.add_subplot(2, 1, 2, sharex=ax)
        ax2.plot(steps, _host(d_fake), color="C3")
        ax2.set_yscale("log")
        ax2.set_ylabel("mean D(G(z))")
        ax2.grid(True, alpha=0.3)
        ax2.set_xlabel("discriminator training steps (G fixed)")
    else:
        ax.set_xlabel("discriminator training steps (G fixed)")
    return save_figure(fig, path)


def scatter_2d(
    path: str | os.PathLike,
    samples: Any,
    means: Sequence[Sequence[float]],
    title: str = "",
    sigma: float | None = None,
    n_sigma: float = 3.0,
) -> Path:
    """Generated 2-D samples (dots) over the mixture means (crosses), with the
    high-quality radius ``n_sigma * sigma`` drawn around each mean when ``sigma`` is given."""
    from matplotlib.patches import Circle

    x = B.to_numpy(samples) if not isinstance(samples, np.ndarray) else samples
    x = np.asarray(x, dtype=np.float64).reshape(-1, 2)
    m = np.asarray(means, dtype=np.float64).reshape(-1, 2)
    fig = new_figure((5.0, 5.0))
    ax = fig.add_subplot()
    ax.scatter(x[:, 0], x[:, 1], s=3, alpha=0.35, color="C0", label="generated")
    ax.scatter(m[:, 0], m[:, 1], s=60, marker="x", color="C3", label="mixture means")
    if sigma is not None:
        for cx, cy in m:
            ax.add_patch(Circle((cx, cy), n_sigma * sigma, fill=False, color="C3", linewidth=0.6))
    span = float(np.abs(m).max()) * 1.5 + 0.1
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    return save_figure(fig, path)


def scatter_points(path: str | os.PathLike, samples: Any, real: Any | None = None, title: str = "") -> Path:
    """Generated points (and the real ones, when given) of a ``csv:`` data set.

    2-D points are two scatter plots on the same axes; 1-D points two histograms.
    """
    fake = np.asarray(B.to_numpy(samples), dtype=np.float64)
    dim = fake.shape[1] if fake.ndim == 2 else 1
    fake = fake.reshape(-1, dim)  # (N,) or (N, D) -> (N, D)
    fig = new_figure((5.0, 5.0) if dim == 2 else (6.0, 4.0))
    ax = fig.add_subplot()
    if real is not None:
        real = np.asarray(real, dtype=np.float64).reshape(-1, dim)  # (N, D)
    if dim == 2:
        if real is not None:
            ax.scatter(real[:, 0], real[:, 1], s=3, alpha=0.35, color="C3", label="real")
        ax.scatter(fake[:, 0], fake[:, 1], s=3, alpha=0.35, color="C0", label="generated")
        ax.set_aspect("equal", adjustable="datalim")
    else:
        both = fake[:, 0] if real is None else np.concatenate([fake[:, 0], real[:, 0]])
        bins = np.linspace(float(both.min()), float(both.max()) + 1e-9, 61)
        if real is not None:
            ax.hist(real[:, 0], bins=bins, density=True, alpha=0.5, color="C3", label="real")
        ax.hist(fake[:, 0], bins=bins, density=True, alpha=0.5, color="C0", label="generated")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    return save_figure(fig, path)
