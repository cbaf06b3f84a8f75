"""Discriminator rejection sampling: keep the generator's samples that the discriminator believes.

A trained GAN leaves two models behind, and sampling usually throws the discriminator away. But
for the standard GAN losses the optimal discriminator knows the density ratio: with
``D(x) = sigmoid(logit(x))``, ``D* = p_data / (p_data + p_g)``, so

    logit*(x) = log p_data(x) - log p_g(x).

Rejection sampling turns that into a correction of G's distribution (Azadi et al., 2019,
"Discriminator Rejection Sampling"): draw ``x ~ p_g`` and accept it with probability
``p_data(x) / (M p_g(x)) = exp(logit(x) - log M)``, where ``M`` bounds the ratio. The accepted
samples follow ``p_data`` exactly when D is optimal and G covers the data. In practice D is not
optimal and ``M`` is estimated (the largest logit seen so far), so the paper accepts with

    p(x) = sigmoid(F(x)),   F(x) = logit(x) - L - log(1 - exp(logit(x) - L - eps)) - gamma,

``L`` the running maximum of the logits: ``gamma`` trades acceptance rate for fidelity
(``gamma = 0``: about half the samples near the best one are kept; larger: fewer, better).

This is a sampler, not training: the generator is unchanged. It helps most where G puts mass
between modes (the 2-D mixtures of ``benchmarks/toy2d.py``), and only for losses whose logit
estimates a log density ratio (non-saturating / minimax; not hinge or Wasserstein).

Read next: ``benchmarks/toy2d.py`` (its ``drs`` rows).
"""

from __future__ import annotations

import math
from typing import Any

from minigan import backend as B
from minigan.autograd import Tensor, no_grad
from minigan.backend import host_np as np
from minigan.nn.module import Module

__all__ = ["RejectionResult", "rejection_sample"]


class RejectionResult:
    """The accepted samples (host array) and how many draws it took.

    Attributes: ``samples`` (n, ...) host array; ``drawn``: samples drawn after the burn-in;
    ``acceptance``: the fraction of those accepted (more than ``n`` may have been accepted in
    the last batch); ``log_m``: the final bound ``L`` on the logits.
    """

    def __init__(self, samples: Any, accepted: int, drawn: int, log_m: float) -> None:
        self.samples, self.drawn, self.log_m = samples, drawn, log_m
        self.acceptance = accepted / drawn if drawn else 0.0


def rejection_sample(
    G: Module,
    D: Module,
    n: int,
    latent_dim: int,
    rng: B.Generator,
    *,
    gamma: float = 0.0,
    batch_size: int = 1000,
    burn_in: int = 10000,
    max_draws: int | None = None,
    eps: float = 1e-6,
) -> RejectionResult:
    """``n`` samples of G accepted by discriminator rejection sampling (see the module docstring).

    Args:
        G, D: the trained generator and discriminator (D returns logits, shape (N, 1)); both
            run in eval mode under ``no_grad`` and are put back in their modes afterwards.
        n: how many samples to return.
        latent_dim: the size of G's noise, drawn from ``rng`` (standard normal).
        gamma: the shift of the acceptance score: larger keeps fewer, better samples.
        batch_size: samples drawn and judged at a time.
        burn_in: samples drawn first only to estimate ``L`` (the paper uses 10,000).
        max_draws: give up after drawing this many (default ``1000 * n``) with a clear error.
        eps: keeps ``log(1 - exp(.))`` finite at the maximum.
    """
    if n < 1 or batch_size < 1 or burn_in < 0:
        raise ValueError(f"need n >= 1, batch_size >= 1 and burn_in >= 0, got {n}, {batch_size}, {burn_in}")
    max_draws = 1000 * n if max_draws is None else max_draws
    modes = [(m, m.training) for _, m in (*G.named_modules(), *D.named_modules())]
    G.eval()
    D.eval()
    try:
        log_m = -math.inf
        for _ in range(0, burn_in, batch_size):
            _, logits = _draw(G, D, batch_size, latent_dim, rng)
            log_m = max(log_m, float(logits.max()))
        kept: list[Any] = []
        count, drawn = 0, 0
        while count < n:
            if drawn >= max_draws:
                raise RuntimeError(
                    f"rejection sampling kept {count} of {drawn} samples, short of {n}: lower gamma "
                    f"(now {gamma}) or raise max_draws"
                )
            x, logits = _draw(G, D, batch_size, latent_dim, rng)
            drawn += batch_size
            log_m = max(log_m, float(logits.max()))  # a new maximum raises the bound first
            d = logits - log_m  # <= 0
            score = d - np.log1p(-np.exp(d - eps)) - gamma
            accept = B.to_host(rng.uniform((batch_size,))) < 1.0 / (1.0 + np.exp(-score))
            kept.append(x[accept])
            count += int(accept.sum())
        return RejectionResult(np.concatenate(kept)[:n], count, drawn, log_m)
    finally:
        for m, flag in modes:
            m.training = flag


def _draw(G: Module, D: Module, m: int, latent_dim: int, rng: B.Generator) -> tuple[Any, Any]:
    """``m`` samples of G and D's logits for them, both as host arrays (float64 logits)."""
    with no_grad():
        x = G(Tensor(rng.normal((m, latent_dim))))
        logits = D(x)
    return B.to_host(x.data), B.to_host(logits.data).astype(np.float64).reshape(m)
