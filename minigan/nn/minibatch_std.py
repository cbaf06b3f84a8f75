"""Minibatch standard deviation (Karras et al., ProGAN, 2018, section 3).

A weapon against mode collapse: the discriminator is shown how *varied* the
batch is, so a generator producing near-identical samples is easy to spot.
For a batch x (N, C, H, W) split into groups of ``G`` samples::

    std  = sqrt(mean over the group of (x - mean over the group)^2 + 1e-8)   # (N/G, C, H, W)
    s    = mean of std over C, H, W                                          # one number per group
    out  = concat([x, s broadcast to (N, 1, H, W)], axis=1)                  # (N, C + 1, H, W)

For vectors x (N, F) the output is (N, F + 1). As in ProGAN, sample ``n``
belongs to group ``n mod (N / G)``: the batch is viewed as (G, N/G, ...).
``group_size=None`` (default) uses the whole batch as one group.

The statistic is built from differentiable functions, so the gradient of
the discriminator flows through it (second order too, for WGAN-GP).

Read next: ``minigan/nn/init.py``.
"""

from __future__ import annotations

import minigan.functions as F
from minigan.autograd import Tensor
from minigan.nn.module import Module

__all__ = ["MinibatchStdDev"]


class MinibatchStdDev(Module):
    """Append the batch's mean standard deviation as one extra channel (or feature).

    Args:
        group_size: samples per group (must divide the batch size; ProGAN uses 4);
            None for the whole batch.
        eps: added to the variance before the square root (keeps its gradient finite).
    """

    def __init__(self, group_size: int | None = None, eps: float = 1e-8) -> None:
        super().__init__()
        if group_size is not None and group_size < 2:
            raise ValueError(f"MinibatchStdDev group_size must be >= 2 (or None), got {group_size}")
        self.group_size, self.eps = group_size, float(eps)

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0] if x.ndim >= 1 else 0
        g = n if self.group_size is None else self.group_size
        expected = f"(N, F) or (N, C, H, W) with N >= 2 divisible by group_size {g}"
        self._check_input(x, x.ndim in (2, 4) and n >= 2 and n % g == 0, expected)
        m = n // g
        rest = tuple(x.shape[1:])
        y = F.reshape(x, (g, m) + rest)  # (N, ...) -> (G, M, ...): sample n is in group n mod M
        d = y - F.mean(y, axis=0, keepdims=True)
        std = F.sqrt(F.mean(d * d, axis=0) + self.eps)  # (M, ...): per-feature std within each group
        s = F.mean(std, axis=tuple(range(1, std.ndim)))  # (M,): averaged over the features
        if x.ndim == 4:
            h, w = rest[1], rest[2]
            s = F.broadcast_to(F.reshape(s, (1, m, 1, 1, 1)), (g, m, 1, h, w))  # (M,) -> (G, M, 1, H, W)
            s = F.reshape(s, (n, 1, h, w))  # -> (N, 1, H, W), matching the (G, M) view of the batch
        else:
            s = F.broadcast_to(F.reshape(s, (1, m, 1)), (g, m, 1))  # (M,) -> (G, M, 1)
            s = F.reshape(s, (n, 1))  # -> (N, 1)
        return F.concat([x, s], axis=1)  # (N, C, H, W) + (N, 1, H, W) -> (N, C + 1, H, W)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"
