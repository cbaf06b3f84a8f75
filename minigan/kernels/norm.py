"""Training-mode batch norm with folded per-channel factors and a cached first-order backward.

Replaces :class:`minigan.functions.norm.BatchNormTrain`:

- batch-axis sums through ``sum_array`` (BLAS for (N, F), axis 0 first for images: 2-4x faster
  than one ``sum`` call);
- the forward pass ``y = (x - mu) * (gamma / std) + beta``: one per-channel scale, so the
  full-size work is a subtraction, a multiply and an add (no separate xhat);
- the first-order backward on raw arrays, reusing ``d = x - mu`` and ``1/std`` from the forward
  pass. Caching is exact here because nothing differentiates a first-order gradient; under
  ``create_graph=True`` the textbook backward recomputes them from x with minigan functions;
- the full-size passes go a block of rows at a time, shared between threads on large arrays
  (``B.map_rows``); the per-channel sums stay whole, so the result is bitwise the same.

Read next: ``tests/test_kernels.py`` (each kernel held equal to the textbook).
"""

from __future__ import annotations

from typing import Any

from minigan import backend as B
from minigan.autograd import Tensor, is_grad_enabled
from minigan.functions.basic import sum_array
from minigan.functions.norm import BatchNormTrain
from minigan.functions.replaceable import register

__all__ = ["FastBatchNormTrain"]


class FastBatchNormTrain(BatchNormTrain):
    """:class:`~minigan.functions.norm.BatchNormTrain` with folded factors and a cached first-order backward."""

    def forward(self, x, gamma, beta):
        xp = B.xp()
        inv_m = 1.0 / self.count
        mu = sum_array(x, self.axes, keepdims=True) * inv_m  # (1, C[, 1, 1])
        d = B.map_rows(lambda xs: xs - mu, x)  # the one full-size buffer kept for backward
        var = sum_array(B.map_rows(lambda ds: ds * ds, d), self.axes, keepdims=True) * inv_m
        self.update_running(mu, var)
        self.inv_std = 1.0 / xp.sqrt(var + self.eps)  # (1, C[, 1, 1]): per-channel work is cheap
        self.d = d  # raw array, for the first-order backward only
        k, b = xp.reshape(gamma, self.shape) * self.inv_std, xp.reshape(beta, self.shape)

        def affine(ds):  # y = d * k + beta, in one array
            y = ds * k
            y += b
            return y

        return B.map_rows(affine, d)

    def backward(self, gy):
        if is_grad_enabled():  # create_graph=True: the differentiable textbook backward
            return super().backward(gy)
        return self._first_order(gy.data, self.inputs[1])

    def _first_order(self, gy: Any, gamma: Any) -> tuple[Tensor | None, Tensor, Tensor]:
        """With xhat = d * inv_std and per-channel sums gbeta = sum(gy), gd = sum(gy * d):

            ggamma = gd * inv_std
            gx = k * (gy - gbeta / m) - d * (k * inv_std^2 * gd / m),   k = gamma * inv_std

        three full-size passes and one temporary beyond the two sums.
        """
        xp = B.xp()
        d, inv_std, inv_m = self.d, self.inv_std, 1.0 / self.count
        g = xp.reshape(gamma.data if isinstance(gamma, Tensor) else gamma, self.shape)
        gbeta = sum_array(gy, self.axes, keepdims=True)  # (1, C[, 1, 1])
        gd = sum_array(B.map_rows(lambda a, b: a * b, gy, d), self.axes, keepdims=True)
        gx = None
        if self.needs_input_grad[0]:
            k = g * inv_std
            shift, c = gbeta * inv_m, k * inv_std * inv_std * gd * inv_m  # per channel

            def gx_rows(gys, ds):
                out = gys - shift
                out *= k
                out -= ds * c
                return out

            gx = Tensor(B.map_rows(gx_rows, gy, d))
        ggamma = xp.reshape(gd * inv_std, (-1,))
        return gx, Tensor(ggamma), Tensor(xp.reshape(gbeta, (-1,)))


register(BatchNormTrain, FastBatchNormTrain)
