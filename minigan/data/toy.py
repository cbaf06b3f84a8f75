"""Toy distributions for GAN experiments, and the mode-coverage metrics used with them.

Everything here is a mixture of isotropic Gaussians with equal weights::

    p(x) = (1/K) sum_k N(x; m_k, sigma^2 I)

- :func:`gaussian_1d`: one Gaussian N(mu, sigma) on the line (the Gaussian-fitting post:
  a linear generator ``a*z + b`` can match it exactly, b -> mu and |a| -> sigma);
- :func:`mixture_1d`: two modes on the line, ``"near"`` (a linear generator averages
  them into one wide Gaussian) or ``"far"`` (it collapses onto one of them);
- :func:`ring_2d`: 8 Gaussians on a circle of radius 1, sigma 0.01;
- :func:`grid_2d`: 25 Gaussians at {-4,-2,0,2,4}^2, sigma 0.05;
- :func:`two_moons`: two interleaving half circles (scikit-learn's ``make_moons`` shape), as
  100 small Gaussians strung along the arcs.

The last two are the standard mode-collapse benchmarks; :func:`mode_metrics`
scores generated samples against them (modes captured, percent high quality,
reverse KL of the mode histogram).

Samples are drawn from an explicit :class:`minigan.Generator`, so a seed fixes them
on every backend. A :class:`Mixture` can be used directly as the data source of
:class:`minigan.gan.trainer.GANTrainer` (it is called as ``mixture(batch_size, rng)``).

Read next: ``minigan/gan/experiments.py`` (the experiments that train on these).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from minigan import backend as B
from minigan.autograd import Tensor

__all__ = [
    "Mixture",
    "gaussian_1d",
    "grid_2d",
    "mixture_1d",
    "mode_metrics",
    "ring_2d",
    "two_moons",
]


class Mixture:
    """An equal-weight mixture of isotropic Gaussians in ``dim`` dimensions.

    Attributes:
        means: host list of K mean vectors, each of length ``dim``.
        sigma: the standard deviation of every component (per coordinate).
        name: a short label used in plots and reports.
    """

    def __init__(self, means: Sequence[Sequence[float]], sigma: float, name: str = "mixture") -> None:
        self.means = [[float(v) for v in m] for m in means]
        if not self.means or len({len(m) for m in self.means}) != 1:
            raise ValueError("means must be a non-empty list of equal-length vectors")
        if sigma <= 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        self.sigma = float(sigma)
        self.name = name
        self._device_means: dict[tuple[str, str], Any] = {}  # (backend, dtype) -> the means there

    @property
    def dim(self) -> int:
        return len(self.means[0])

    @property
    def n_modes(self) -> int:
        return len(self.means)

    def means_array(self, dtype: Any = None) -> Any:
        """The means as a (K, dim) array of the active backend.

        Moved to the device once per backend and dtype, then kept: a training step that samples
        the mixture must not copy host data to the GPU every time.
        """
        dtype = dtype or B.float_dtype()
        key = (B.get_backend().name, str(dtype))
        if key not in self._device_means:
            self._device_means[key] = B.to_device(self.means, dtype=dtype)
        return self._device_means[key]

    def sample(self, n: int, rng: B.Generator, dtype: Any = None) -> Tensor:
        """``n`` samples as an (n, dim) Tensor: pick a component uniformly, add N(0, sigma^2 I)."""
        xp = B.xp()
        dtype = dtype or B.float_dtype()
        component = rng.integers(0, self.n_modes, (n,))  # (n,) int64 on the backend
        centers = xp.take(self.means_array(dtype), component, axis=0)  # (K, dim) -> (n, dim)
        return Tensor(centers + rng.normal((n, self.dim), std=self.sigma, dtype=dtype))

    def __call__(self, n: int, rng: B.Generator) -> Tensor:
        """Data-source protocol of the trainer: a real batch of ``n`` samples."""
        return self.sample(n, rng)

    def pdf(self, x: Any) -> Any:
        """Density at host points ``x`` (1-D mixtures only; used for plots). Returns a host array."""
        if self.dim != 1:
            raise ValueError("pdf() is defined here for 1-D mixtures only")
        x = B.host_np.asarray(x, dtype="float64")
        total = 0.0
        for (m,) in self.means:
            total = total + B.host_np.exp(-0.5 * ((x - m) / self.sigma) ** 2)
        return total / (self.n_modes * self.sigma * math.sqrt(2.0 * math.pi))

    @property
    def mean(self) -> list[float]:
        """Mean of the whole mixture, per coordinate."""
        return [sum(m[i] for m in self.means) / self.n_modes for i in range(self.dim)]

    @property
    def std(self) -> list[float]:
        """Standard deviation of the whole mixture, per coordinate (within- plus between-mode spread)."""
        mu = self.mean
        return [
            math.sqrt(self.sigma**2 + sum((m[i] - mu[i]) ** 2 for m in self.means) / self.n_modes)
            for i in range(self.dim)
        ]

    def __repr__(self) -> str:
        return f"Mixture({self.name!r}, K={self.n_modes}, dim={self.dim}, sigma={self.sigma})"


def gaussian_1d(mu: float = 4.0, sigma: float = 1.25) -> Mixture:
    """N(mu, sigma^2) on the line (a one-component mixture)."""
    return Mixture([[mu]], sigma, name=f"N({mu:g}, {sigma:g})")


def mixture_1d(separation: str | float = "near", sigma: float = 0.5, center: float = 0.0) -> Mixture:
    """Two equal modes at ``center -+ d/2`` with standard deviation ``sigma``.

    ``separation``: ``"near"`` (d = 2, 4 sigma for the default sigma: the modes overlap in the
    tails and a linear generator settles on one wide Gaussian covering both, *mode averaging*),
    ``"far"`` (d = 8: a linear generator can only sit on one of them, *mode collapse*), or a
    number d.
    """
    d = {"near": 2.0, "far": 8.0}.get(separation, separation) if isinstance(separation, str) else separation
    if isinstance(d, str):
        raise ValueError(f"separation must be 'near', 'far' or a number, got {separation!r}")
    d = float(d)
    return Mixture([[center - d / 2], [center + d / 2]], sigma, name=f"two modes {d:g} apart")


def ring_2d(n_modes: int = 8, radius: float = 1.0, sigma: float = 0.01) -> Mixture:
    """``n_modes`` Gaussians with means at angles 2*pi*k/n_modes on a circle of ``radius``."""
    means = [
        [radius * math.cos(2 * math.pi * k / n_modes), radius * math.sin(2 * math.pi * k / n_modes)]
        for k in range(n_modes)
    ]
    return Mixture(means, sigma, name=f"ring of {n_modes}")


def grid_2d(values: Sequence[float] = (-4.0, -2.0, 0.0, 2.0, 4.0), sigma: float = 0.05) -> Mixture:
    """Gaussians at every point of ``values`` x ``values`` (25 modes by default)."""
    means = [[float(a), float(b)] for a in values for b in values]
    return Mixture(means, sigma, name=f"grid of {len(means)}")


def two_moons(points_per_moon: int = 50, sigma: float = 0.08) -> Mixture:
    """Two interleaving half circles of radius 1: the upper one centred at (0, 0), the lower one at (1, 0.5).

    The shape of scikit-learn's ``make_moons``, written as a mixture: ``points_per_moon`` Gaussians
    evenly spaced along each arc, so that with the default ``sigma`` the arcs look continuous and
    :func:`mode_metrics` can still count which parts of them a generator covers.
    """
    if points_per_moon < 2:
        raise ValueError(f"points_per_moon must be >= 2, got {points_per_moon}")
    angles = [math.pi * k / (points_per_moon - 1) for k in range(points_per_moon)]
    upper = [[math.cos(t), math.sin(t)] for t in angles]
    lower = [[1.0 - math.cos(t), 0.5 - math.sin(t)] for t in angles]
    return Mixture(upper + lower, sigma, name="two moons")


def mode_metrics(samples: Any, mixture: Mixture, n_sigma: float = 3.0) -> dict[str, Any]:
    """Score samples against a mixture's modes (the VEEGAN / PacGAN benchmark metrics).

    Each sample is assigned to its nearest mean m_k. It is *high quality* when it lies within
    ``n_sigma`` standard deviations of that mean: ``||x - m_k|| <= n_sigma * sigma``.

    Returns a dict with

    - ``modes``: the number of modes captured; a mode counts when at least one
      high-quality sample has it as nearest mean;
    - ``n_modes``: K, the number of modes of the mixture;
    - ``high_quality``: percent of all samples that are high quality (0..100);
    - ``reverse_kl``: KL(q || p) = sum_k q_k log(q_k / p_k), where q_k is the fraction of the
      *high-quality* samples whose nearest mean is m_k and p_k = 1/K is the data's mode
      distribution. Terms with q_k = 0 contribute 0 (0 log 0 = 0), so dropping modes is
      penalised only through the extra mass on the others: 0 when the high-quality samples are
      spread evenly over all modes, log K when they all sit on one mode. *Reverse* because
      the model distribution q comes first (the direction that punishes mass where the data
      has none, and in which mode dropping is cheap). ``None`` when no sample is high quality;
    - ``counts``: the per-mode count of high-quality samples (host list of K ints).

    ``samples``: (N, dim) Tensor or array of any backend.
    """
    xp = B.xp()
    x = samples.data if isinstance(samples, Tensor) else samples
    if not B.is_array(x):
        x = B.to_device(B.to_numpy(x))  # host data, or an array of another backend
    x = xp.astype(x, xp.float64)  # distances in float64: sigma = 0.01 needs the precision
    if x.ndim != 2 or x.shape[1] != mixture.dim:
        raise ValueError(f"samples must have shape (N, {mixture.dim}), got {tuple(x.shape)}")
    means = mixture.means_array(dtype=x.dtype)  # (K, dim)
    n, k = x.shape[0], mixture.n_modes
    # (N, 1, dim) - (1, K, dim) -> (N, K, dim) -> squared distances (N, K)
    diff = xp.reshape(x, (n, 1, mixture.dim)) - xp.reshape(means, (1, k, mixture.dim))
    d2 = xp.sum(diff * diff, axis=2)
    nearest = xp.argmin(d2, axis=1)  # (N,)
    high_quality = xp.min(d2, axis=1) <= (n_sigma * mixture.sigma) ** 2  # (N,) bool
    # Histogram of the nearest modes of high-quality samples, without integer-array scatter:
    # one-hot (N, K) masked by quality, summed over samples.
    onehot = xp.reshape(nearest, (n, 1)) == xp.reshape(xp.arange(k, dtype=nearest.dtype), (1, k))
    counts_arr = xp.sum(xp.astype(onehot & xp.reshape(high_quality, (n, 1)), xp.int64), axis=0)
    counts = [int(c) for c in B.to_host(counts_arr).tolist()]
    n_hq = sum(counts)
    if n_hq == 0:
        reverse_kl = None
    else:
        reverse_kl = sum((c / n_hq) * math.log((c / n_hq) * k) for c in counts if c > 0)
    return {
        "modes": sum(1 for c in counts if c > 0),
        "n_modes": k,
        "high_quality": 100.0 * n_hq / n if n else 0.0,
        "reverse_kl": reverse_kl,
        "counts": counts,
    }
