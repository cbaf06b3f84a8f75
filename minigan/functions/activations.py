"""Activations and the numerically stable losses built on them.

Most activations here are *composites* of the primitives in ``basic.py``
(``relu(x) = maximum(x, 0)``), which makes their derivatives of every order
exact with no extra code. Four are primitives with a hand-written backward,
each for a reason stated in its docstring: ``tanh`` and ``sigmoid`` reuse their
output in the backward pass, ``softplus`` must never overflow, and
``leaky_relu`` (in every discriminator) is cheaper that way.

Read next: ``minigan/functions/conv.py``.
"""

from __future__ import annotations

from typing import Any

from minigan import backend as B
from minigan.autograd import Function, Tensor
from minigan.functions.basic import exp, log, max, maximum, mean, sum
from minigan.functions.replaceable import replaceable

__all__ = [
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "leaky_relu",
    "log_sigmoid",
    "log_softmax",
    "relu",
    "sigmoid",
    "softmax",
    "softplus",
    "tanh",
]


class Tanh(Function):
    """tanh(x); d/dx = 1 - tanh(x)^2, computed from the output (no second tanh)."""

    def forward(self, x):
        return B.xp().tanh(x)

    def backward(self, gy):
        y = self.output()
        return gy * (1.0 - y * y)


class Sigmoid(Function):
    """sigma(x) = 1 / (1 + e^-x); d/dx = sigma(x) (1 - sigma(x)) from the output.

    The forward pass evaluates ``e^-|x|`` only, so it never overflows: for
    x >= 0 it is 1 / (1 + e^-x), for x < 0 the equal e^x / (1 + e^x).
    """

    def forward(self, x):
        xp = B.xp()
        e = xp.exp(-xp.abs(x))  # in (0, 1]: no overflow for any x
        return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def backward(self, gy):
        y = self.output()
        return gy * (y * (1.0 - y))


class Softplus(Function):
    """softplus(x) = log(1 + e^x), computed as max(x, 0) + log1p(e^-|x|).

    Hand-written because the composite of max and abs would give the wrong
    derivative at exactly x = 0 (1 instead of 1/2); the derivative is sigmoid(x).
    """

    def forward(self, x):
        xp = B.xp()
        return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, gy):
        return gy * sigmoid(self.inputs[0])


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent, output in (-1, 1): the usual image generator output."""
    return Tanh()(x)


def sigmoid(x: Any) -> Tensor:
    """Logistic sigmoid 1 / (1 + e^-x), stable for any x."""
    return Sigmoid()(x)


def softplus(x: Any) -> Tensor:
    """log(1 + e^x), stable for any x (softplus(1000) = 1000)."""
    return Softplus()(x)


def relu(x: Any) -> Tensor:
    """max(x, 0). Gradient 1 for x > 0 and 0 otherwise."""
    return maximum(x, 0.0)


@replaceable
class LeakyReLU(Function):
    """max(x, slope * x) for 0 <= slope <= 1; d/dx = 1 where x > 0, ``slope`` elsewhere.

    The derivative is piecewise constant, so ``gy * scale`` with a constant ``scale`` is exact
    to every order (the second derivative is 0 almost everywhere), and
    ``backward(create_graph=True)`` differentiates it as usual. At x = 0 the gradient is
    ``slope``, as in PyTorch. (A primitive rather than ``maximum(x, x * slope)``: the
    composite's backward makes about seven full-size passes.)
    """

    def __init__(self, slope: float) -> None:
        self.slope = slope

    def forward(self, x):
        return B.xp().maximum(x * self.slope, x)

    def backward(self, gy):
        x, xp = self.inputs[0].data, B.xp()
        scale = xp.astype(x > 0, gy.dtype) * (1.0 - self.slope) + self.slope  # 1 where x > 0, slope elsewhere
        return gy * scale


def leaky_relu(x: Any, slope: float = 0.2) -> Tensor:
    """x where x > 0, ``slope * x`` elsewhere (0 <= slope <= 1); see :class:`LeakyReLU`."""
    slope = B.py_scalar(slope)  # a NumPy float64 slope would make float32 activations float64
    if not 0.0 <= slope <= 1.0:
        raise ValueError(f"leaky_relu slope must be in [0, 1], got {slope}")
    return LeakyReLU(slope)(x)


def log_sigmoid(x: Any) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x): finite for any x (log_sigmoid(-1000) = -1000)."""
    return -softplus(-x)


def binary_cross_entropy_with_logits(logits: Any, targets: Any, reduction: str = "mean") -> Tensor:
    """BCE of sigmoid(logits) against targets in [0, 1], computed from logits.

    loss = -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))] = softplus(x) - t * x

    which stays finite and has gradient sigmoid(x) - t even for logits of +-1000.
    ``reduction``: ``"mean"`` (default), ``"sum"`` or ``"none"``.
    """
    loss = softplus(logits) - logits * targets
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """x - logsumexp(x): log-probabilities, stable because the max is subtracted first."""
    m = max(x, axis=axis, keepdims=True).detach()  # a constant shift: it cancels out
    shifted = x - m
    return shifted - log(sum(exp(shifted), axis=axis, keepdims=True))


def softmax(x: Any, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)), computed as exp(log_softmax(x))."""
    return exp(log_softmax(x, axis=axis))


def cross_entropy(logits: Any, labels: Any) -> Tensor:
    """Mean negative log-likelihood of integer ``labels`` (N,) under ``softmax(logits)`` (N, K)."""
    xp = B.xp()
    lab = labels.data if isinstance(labels, Tensor) else labels
    k = logits.shape[-1]
    onehot = xp.astype(xp.reshape(lab, (-1, 1)) == xp.arange(k), logits.dtype)  # (N,) -> (N, K)
    return -mean(sum(log_softmax(logits, axis=-1) * onehot, axis=-1))
