"""Batch and instance normalisation and dropout, as composites of differentiable primitives.

Batch norm in training mode normalises with the statistics of the batch::

    mu  = mean(x)            over the batch (and the pixels, for images)
    var = mean((x - mu)^2)
    y   = gamma * (x - mu) / sqrt(var + eps) + beta

The gradient flows through mu and var too (each sample's output depends on
every other sample). Training mode is one primitive, :class:`BatchNormTrain`,
whose backward is the closed form

    dx = gamma / sqrt(var + eps) * (gy - mean(gy) - xhat * mean(gy * xhat)),   xhat = (x - mu) / sqrt(var + eps)

(a third of the full-size passes that autograd through the composite makes).
Its second derivatives stay exact because the backward rebuilds ``xhat`` from
``x`` with minigan functions instead of using arrays cached by the forward pass:
caching is where DeZero's BatchNorm gets WGAN-GP wrong. (The first-order
backward of ``minigan/kernels/norm.py`` may cache: nothing differentiates it.)
Eval mode, with fixed running statistics, is a plain composite.

Instance norm (pix2pix, CycleGAN) is the same normalisation per image and channel, over the
pixels only: no statistics are shared between the images of a batch, so training and eval
compute the same thing. A composite of mean, var and sqrt (small per-image work; its second
derivatives come from theirs).

Read next: ``minigan/gradcheck.py``.
"""

from __future__ import annotations

from typing import Any

from minigan import backend as B
from minigan.autograd import Function, Tensor
from minigan.functions.basic import mean, reshape, sqrt, sum, var
from minigan.functions.replaceable import replaceable

__all__ = ["batch_norm", "dropout", "instance_norm"]


@replaceable
class BatchNormTrain(Function):
    """Training-mode batch norm: ``y = xhat * gamma + beta`` with the batch's own mu and var.

    Inputs x (N, F) or (N, C, H, W), gamma and beta (F,) or (C,) (constants when not affine).
    Like PyTorch's, the forward pass also moves the running averages (``running``: the
    ``(mean, var)`` Tensors, or None) toward the batch statistics.
    """

    def __init__(
        self, axes: tuple[int, ...], shape: tuple[int, ...], eps: float, count: int, running: Any, momentum: float
    ) -> None:
        self.axes, self.shape, self.eps, self.count = axes, shape, eps, count  # count: values per channel
        self.running, self.momentum = running, momentum

    def forward(self, x, gamma, beta):
        xp = B.xp()
        mu = xp.mean(x, axis=self.axes, keepdims=True)  # (1, C[, 1, 1])
        var = xp.mean((x - mu) ** 2, axis=self.axes, keepdims=True)
        self.update_running(mu, var)
        xhat = (x - mu) / xp.sqrt(var + self.eps)
        return xhat * xp.reshape(gamma, self.shape) + xp.reshape(beta, self.shape)

    def update_running(self, mu: Any, var: Any) -> None:
        """running = (1 - momentum) * running + momentum * batch statistic (the variance unbiased, as in PyTorch)."""
        if self.running is None:
            return
        xp, (running_mean, running_var), m = B.xp(), self.running, self.momentum
        n = self.count
        running_mean.data = (1.0 - m) * running_mean.data + m * xp.reshape(mu, (-1,))
        running_var.data = (1.0 - m) * running_var.data + (m * n / (n - 1)) * xp.reshape(var, (-1,))

    def backward(self, gy):
        x, gamma, beta = self.inputs
        # xhat and 1/std recomputed from x with minigan functions (not cached arrays), so that the
        # gradient below can itself be differentiated (WGAN-GP through a batch-normed critic).
        d = x - mean(x, axis=self.axes, keepdims=True)
        inv_std = 1.0 / sqrt(mean(d * d, axis=self.axes, keepdims=True) + self.eps)
        xhat = d * inv_std
        g = reshape(gamma, self.shape) if isinstance(gamma, Tensor) else Tensor(B.xp().reshape(gamma, self.shape))
        gbeta = sum(gy, axis=self.axes, keepdims=True)  # (1, C, 1, 1)
        ggamma = sum(gy * xhat, axis=self.axes, keepdims=True)  # (1, C, 1, 1)
        gx = None
        if self.needs_input_grad[0]:
            # d/dx of (x - mu) / std, through mu and var too: remove the part of gy that moves
            # the mean (gbeta / m) and the part along xhat that moves the variance.
            m = self.count
            gx = (g * inv_std) * (gy - gbeta * (1.0 / m) - xhat * (ggamma * (1.0 / m)))
        return gx, reshape(ggamma, (-1,)), reshape(gbeta, (-1,))


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
        xp = B.xp()
        dtype = x.data.dtype if isinstance(x, Tensor) else x.dtype
        # Not affine: constant ones and zeros (constants get no gradient).
        gamma = gamma if gamma is not None else xp.ones((x.shape[1],), dtype=dtype)
        beta = beta if beta is not None else xp.zeros((x.shape[1],), dtype=dtype)
        running = (running_mean, running_var) if running_mean is not None and running_var is not None else None
        return BatchNormTrain(axes, shape, eps, count, running, momentum)(x, gamma, beta)

    # Eval mode: the running statistics are constants, so this is an affine map of x.
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
    mask = rng.bernoulli(tuple(x.shape), 1.0 - p, dtype=x.dtype, value=1.0 / (1.0 - p))  # 0 or 1/(1-p)
    return x * mask


def instance_norm(x: Any, gamma: Any = None, beta: Any = None, eps: float = 1e-5) -> Tensor:
    """Normalise each image's each channel over its pixels: (N, C, H, W) -> (N, C, H, W).

    ``y = gamma * (x - mu) / sqrt(var + eps) + beta`` with mu and the biased var of x[n, c] over
    (H, W), as PyTorch's ``InstanceNorm2d`` (which keeps no running statistics by default).
    gamma and beta: (C,), or None for no affine part.
    """
    eps = B.py_scalar(eps)  # a NumPy float64 would make float32 images float64
    if x.ndim != 4:
        raise ValueError(f"instance_norm takes (N, C, H, W) images, got shape {tuple(x.shape)}")
    if x.shape[2] * x.shape[3] < 2:
        raise ValueError(f"instance_norm needs more than one pixel per channel, got shape {tuple(x.shape)}")
    mu = mean(x, axis=(2, 3), keepdims=True)  # (N, C, 1, 1)
    y = (x - mu) / sqrt(var(x, axis=(2, 3), keepdims=True) + eps)
    if gamma is not None:
        y = y * reshape(gamma, (1, -1, 1, 1))
    if beta is not None:
        y = y + reshape(beta, (1, -1, 1, 1))
    return y
