"""Batch normalisation and dropout, as composites of differentiable primitives.

Batch norm in training mode normalises with the statistics of the batch::

    mu  = mean(x)            over the batch (and the pixels, for images)
    var = mean((x - mu)^2)
    y   = gamma * (x - mu) / sqrt(var + eps) + beta

Because mu and var are computed with minigan functions, the gradient flows
through them too (each sample's output depends on every other sample), and
second derivatives are exact: this is where DeZero, which caches raw arrays in
its BatchNorm backward, gets WGAN-GP wrong.

Read next: ``minigan/gradcheck.py``.
"""

from __future__ import annotations

from typing import Any

from minigan import backend as B
from minigan.autograd import Tensor, no_grad
from minigan.functions.basic import mean, reshape, sqrt

__all__ = ["batch_norm", "dropout"]


def batch_norm(
    x: Any,
    gamma: Any = None,
    beta: Any = None,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    training: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise ``x`` per feature (N, F) or per channel (N, C, H, W).

    Args:
        gamma, beta: scale and shift of shape (F,) or (C,), or None.
        running_mean, running_var: Tensors updated in place in training mode as
            ``running = (1 - momentum) * running + momentum * batch_stat``
            (PyTorch's convention; the running variance is the unbiased one);
            used instead of the batch statistics in eval mode.
        training: use batch statistics (True) or the running ones (False).
    """
    momentum, eps = B.py_scalar(momentum), B.py_scalar(eps)  # NumPy scalars would make float32 float64
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)  # (C,) -> broadcastable over x
    if training:
        count = 1
        for a in axes:
            count *= x.shape[a]
        if count < 2:
            raise ValueError(
                f"batch_norm in training mode needs more than one value per channel, got input of shape {x.shape}"
            )
        mu = mean(x, axis=axes, keepdims=True)
        d = x - mu
        var = mean(d * d, axis=axes, keepdims=True)
        inv_std = 1.0 / sqrt(var + eps)  # (1, C, 1, 1): per-channel work is cheap, full-size work is not
        if running_mean is not None and running_var is not None:
            with no_grad():
                xp = B.xp()
                m = xp.reshape(mu.data, (-1,))
                v = xp.reshape(var.data, (-1,)) * (count / (count - 1))  # unbiased, as PyTorch
                running_mean.data = (1.0 - momentum) * running_mean.data + momentum * m
                running_var.data = (1.0 - momentum) * running_var.data + momentum * v
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm in eval mode needs running_mean and running_var")
        d = x - reshape(running_mean.detach(), shape)
        inv_std = 1.0 / sqrt(reshape(running_var.detach(), shape) + eps)
    # gamma / sqrt(var + eps) folded into one per-channel scale, so the full-size work is a single
    # multiply (and its backward a multiply and a sum) instead of a divide and a multiply.
    scale = inv_std if gamma is None else inv_std * reshape(gamma, shape)
    y = d * scale
    if beta is not None:
        y = y + reshape(beta, shape)
    return y


def dropout(x: Any, p: float, rng: B.Generator, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p).

    The mask is drawn from the explicit generator ``rng`` (reproducible), and
    is a constant: the gradient passes exactly where the forward pass did.
    """
    p = B.py_scalar(p)  # a NumPy float64 would make the float32 mask float64
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x
    mask = rng.bernoulli(tuple(x.shape), 1.0 - p, dtype=x.dtype)
    return x * (mask / (1.0 - p))
