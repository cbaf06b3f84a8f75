"""Batch normalisation and dropout, as composites of differentiable primitives.

Batch norm in training mode normalises with the statistics of the batch::

    mu  = mean(x)            over the batch (and the pixels, for images)
    var = mean((x - mu)^2)
    y   = gamma * (x - mu) / sqrt(var + eps) + beta

The gradient flows through mu and var too (each sample's output depends on
every other sample). Training mode is one primitive, :class:`BatchNormTrain`,
whose backward is the closed form

    dx = gamma / sqrt(var + eps) * (gy - mean(gy) - xhat * mean(gy * xhat)),   xhat = (x - mu) / sqrt(var + eps)

(a third of the full-size passes that autograd through the composite makes).
Its second derivatives stay exact because, under ``create_graph=True``, the
backward rebuilds ``xhat`` from ``x`` with minigan functions instead of using
the arrays cached by the forward pass: caching is where DeZero's BatchNorm gets
WGAN-GP wrong. Eval mode, with fixed running statistics, is a plain composite.

Read next: ``minigan/gradcheck.py``.
"""

from __future__ import annotations

from typing import Any

from minigan import backend as B
from minigan.autograd import Function, Tensor, is_grad_enabled, no_grad
from minigan.functions.basic import mean, reshape, sqrt, sum, sum_array

__all__ = ["batch_norm", "dropout"]


class BatchNormTrain(Function):
    """Training-mode batch norm: ``y = xhat * gamma + beta`` with the batch's own mu and var.

    Inputs x (N, F) or (N, C, H, W), gamma and beta (F,) or (C,) (constants when not affine).
    After the forward pass ``self.mu`` and ``self.var`` hold the batch statistics (1, C[, 1, 1])
    for the running averages.
    """

    def __init__(self, axes: tuple[int, ...], shape: tuple[int, ...], eps: float, count: int) -> None:
        self.axes, self.shape, self.eps, self.count = axes, shape, eps, count  # count: values per channel

    def forward(self, x, gamma, beta):
        xp = B.xp()
        inv_m = 1.0 / self.count
        self.mu = sum_array(x, self.axes, keepdims=True) * inv_m  # (1, C[, 1, 1])
        d = x - self.mu  # the one full-size buffer kept for backward
        self.var = sum_array(d * d, self.axes, keepdims=True) * inv_m
        self.inv_std = 1.0 / xp.sqrt(self.var + self.eps)  # (1, C[, 1, 1]): per-channel work is cheap
        self.d = d  # raw array, for the first-order backward only (see backward)
        # y = gamma * (x - mu) / std + beta = d * scale + beta: one per-channel scale, so the
        # full-size work is a multiply and an add (no separate xhat array in the forward pass).
        y = d * (xp.reshape(gamma, self.shape) * self.inv_std)
        y += xp.reshape(beta, self.shape)
        return y

    def backward(self, gy):
        x, gamma, beta = self.inputs
        if not is_grad_enabled():
            return self._first_order_backward(gy.data, gamma)
        # create_graph=True: the gradient below will itself be differentiated (WGAN-GP), so
        # xhat and 1/std must be functions of x, not the forward pass's cached arrays.
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

    def _first_order_backward(self, gy: Any, gamma: Any) -> tuple[Tensor | None, Tensor, Tensor]:
        """The same formula on raw arrays, with every per-channel factor folded first.

        Nothing differentiates a first-order gradient, so the cached ``d = x - mu`` and
        ``inv_std`` are exact here. With xhat = d * inv_std and per-channel sums
        gbeta = sum(gy), gd = sum(gy * d):

            ggamma = gd * inv_std
            gx = k * (gy - gbeta / m) - d * (k * inv_std^2 * gd / m),   k = gamma * inv_std

        three full-size passes and one temporary beyond the two sums.
        """
        xp = B.xp()
        d, inv_std, inv_m = self.d, self.inv_std, 1.0 / self.count
        g = xp.reshape(gamma.data if isinstance(gamma, Tensor) else gamma, self.shape)
        gbeta = sum_array(gy, self.axes, keepdims=True)  # (1, C[, 1, 1])
        gd = sum_array(gy * d, self.axes, keepdims=True)
        gx = None
        if self.needs_input_grad[0]:
            k = g * inv_std
            gx = gy - gbeta * inv_m
            gx *= k
            gx -= d * (k * inv_std * inv_std * gd * inv_m)
            gx = Tensor(gx)
        ggamma = xp.reshape(gd * inv_std, (-1,))
        return gx, Tensor(ggamma), Tensor(xp.reshape(gbeta, (-1,)))


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
        fn = BatchNormTrain(axes, shape, eps, count)
        y = fn(x, gamma, beta)
        if running_mean is not None and running_var is not None:
            with no_grad():
                m, v = xp.reshape(fn.mu, (-1,)), xp.reshape(fn.var, (-1,))
                running_mean.data = (1.0 - momentum) * running_mean.data + momentum * m
                # count / (count - 1): the running variance is the unbiased one, as in PyTorch
                running_var.data = (1.0 - momentum) * running_var.data + (momentum * count / (count - 1)) * v
        return y

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
