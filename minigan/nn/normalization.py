"""Batch normalisation for vectors (N, F) and images (N, C, H, W); instance normalisation for images.

In training mode each feature (or channel, pooling over the pixels too) is
normalised with the statistics of the current batch and then scaled and
shifted by learned ``gamma`` and ``beta``::

    y = gamma * (x - mean_batch) / sqrt(var_batch + eps) + beta

while exponential moving averages of the batch statistics are kept in the
*buffers* ``running_mean`` and ``running_var``. In eval mode those running
statistics replace the batch ones, so a single sample can be processed.

Momentum convention. minigan follows PyTorch: ``momentum`` is the weight of
the *new* batch statistic::

    running = (1 - momentum) * running + momentum * batch_statistic

Keras' ``BatchNormalization(momentum=m)`` gives ``m`` to the *old* value, so
Keras momentum ``m`` is minigan momentum ``1 - m``: the Keras seeds' 0.99 is
``BatchNorm(F, momentum=0.01)`` here (Keras' ``eps`` default is 1e-3, PyTorch's
1e-5). As in PyTorch the running variance is the unbiased one (n / (n - 1)).

Counting parameters as Keras does: ``gamma`` and ``beta`` are trainable
parameters, the running mean and variance are non-trainable state, so
``BatchNorm(128)`` has 256 trainable and 256 non-trainable numbers.

Because the batch statistics are computed with differentiable functions,
gradients (and second derivatives, needed by WGAN-GP) flow through them.

:class:`InstanceNorm` normalises each image's each channel over its own pixels (pix2pix,
CycleGAN): no statistic is shared across the batch, so a batch of one trains, and training and
eval compute the same function. As PyTorch's ``InstanceNorm2d``, not affine by default.

Read next: ``minigan/nn/dropout.py``.
"""

from __future__ import annotations

import minigan.functions as F
from minigan import backend as B
from minigan.autograd import Tensor
from minigan.nn.module import Module, Parameter

__all__ = ["BatchNorm", "InstanceNorm"]


class BatchNorm(Module):
    """Batch normalisation over axis 1 of (N, F) or (N, C, H, W) inputs.

    Args:
        num_features: F (vectors) or C (images).
        momentum: weight of the new batch statistic in the running averages
            (PyTorch's convention; Keras momentum m corresponds to 1 - m).
        eps: added to the variance before the square root.
        affine: learn ``gamma`` (init 1) and ``beta`` (init 0).

    Parameters: ``gamma``, ``beta`` (num_features,). Buffers: ``running_mean``
    (init 0), ``running_var`` (init 1).
    """

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5, affine: bool = True) -> None:
        super().__init__()
        if num_features < 1:
            raise ValueError(f"BatchNorm needs num_features >= 1, got {num_features}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm momentum must be in [0, 1] (PyTorch convention), got {momentum}")
        self.num_features, self.momentum, self.eps, self.affine = num_features, float(momentum), float(eps), affine
        xp, dtype = B.xp(), B.float_dtype()
        if affine:
            self.gamma = Parameter(xp.ones((num_features,), dtype=dtype))
            self.beta = Parameter(xp.zeros((num_features,), dtype=dtype))
        else:
            self.gamma = self.beta = None
        self.register_buffer("running_mean", Tensor(xp.zeros((num_features,), dtype=dtype)))
        self.register_buffer("running_var", Tensor(xp.ones((num_features,), dtype=dtype)))

    def forward(self, x: Tensor) -> Tensor:
        f = self.num_features
        self._check_input(x, x.ndim in (2, 4) and x.shape[1] == f, f"(N, {f}) or (N, {f}, H, W)")
        if self.training:  # batch statistics need at least two values per feature
            per_feature = x.shape[0] * (x.shape[2] * x.shape[3] if x.ndim == 4 else 1)
            self._check_input(x, per_feature >= 2, f"(N, {f}) or (N, {f}, H, W) with N*H*W >= 2 in training mode")
        self._check_dtype(x)
        return F.batch_norm(
            x,
            self.gamma,
            self.beta,
            self.running_mean,
            self.running_var,
            training=self.training,
            momentum=self.momentum,
            eps=self.eps,
        )

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}" + (
            "" if self.affine else ", affine=False"
        )


class InstanceNorm(Module):
    """Instance normalisation of (N, C, H, W) images: each (image, channel) over its H x W pixels.

    Args:
        num_features: C.
        eps: added to the variance before the square root.
        affine: learn ``gamma`` (init 1) and ``beta`` (init 0), each (C,); off by default, as in
            PyTorch's ``InstanceNorm2d``.

    (N, C, H, W) -> (N, C, H, W), with H * W >= 2.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, affine: bool = False) -> None:
        super().__init__()
        if num_features < 1:
            raise ValueError(f"InstanceNorm needs num_features >= 1, got {num_features}")
        self.num_features, self.eps, self.affine = num_features, float(eps), affine
        xp, dtype = B.xp(), B.float_dtype()
        if affine:
            self.gamma = Parameter(xp.ones((num_features,), dtype=dtype))
            self.beta = Parameter(xp.zeros((num_features,), dtype=dtype))
        else:
            self.gamma = self.beta = None

    def forward(self, x: Tensor) -> Tensor:
        c = self.num_features
        ok = x.ndim == 4 and x.shape[1] == c and x.shape[2] * x.shape[3] >= 2
        self._check_input(x, ok, f"(N, {c}, H, W) with H*W >= 2")
        self._check_dtype(x)
        return F.instance_norm(x, self.gamma, self.beta, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}" + (", affine=True" if self.affine else "")
