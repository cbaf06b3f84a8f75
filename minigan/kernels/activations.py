"""LeakyReLU with one full-size temporary in each pass.

Replaces :class:`minigan.functions.activations.LeakyReLU`. For large activations the cost of an
element-wise op is mostly its fresh full-size results (memory the OS must map, then the cache
misses of writing it), so each pass here reuses the one array it owns:

- forward: ``max(x * slope, x)`` written over the product (``B.maximum_into``): one array, not two;
- first-order backward: ``scale = slope + (1 - slope) * [x > 0]`` built in place, then
  multiplied by ``gy`` in place (the textbook's ``gy * scale`` makes three arrays);
- on large arrays both passes go a block of rows at a time, the blocks shared between threads
  (``B.map_rows``; NumPy runs an element-wise pass on one core): bitwise the same numbers.

With ``create_graph=True`` (grad mode on inside the backward pass) the textbook backward runs.

Read next: ``minigan/kernels/norm.py``.
"""

from __future__ import annotations

from minigan import backend as B
from minigan.autograd import Tensor, is_grad_enabled
from minigan.functions.activations import LeakyReLU
from minigan.functions.replaceable import register

__all__ = ["FastLeakyReLU"]


class FastLeakyReLU(LeakyReLU):
    """:class:`~minigan.functions.activations.LeakyReLU` writing into the temporaries it owns."""

    def forward(self, x):
        return B.map_rows(lambda xs: B.maximum_into(xs * self.slope, xs), x)

    def backward(self, gy):
        if is_grad_enabled():
            return super().backward(gy)
        return Tensor(B.map_rows(self._grad_rows, self.inputs[0].data, gy.data))  # x first: its layout

    def _grad_rows(self, x, gy):
        scale = B.xp().astype(x > 0, gy.dtype)  # the one temporary
        scale *= 1.0 - self.slope
        scale += self.slope
        scale *= gy
        return scale


register(LeakyReLU, FastLeakyReLU)
