"""Dropout: zero random elements in training, do nothing in evaluation.

In training mode each element is kept with probability ``1 - p`` and scaled
by ``1 / (1 - p)`` ("inverted dropout"), so the expected output equals the
input and evaluation needs no rescaling. The mask comes from the layer's own
:class:`minigan.Generator` (seeded), so a run is reproducible; checkpoints
save that generator's state with the model.

Read next: ``minigan/nn/conv.py``.
"""

from __future__ import annotations

import minigan.functions as F
from minigan import backend as B
from minigan.autograd import Tensor
from minigan.nn import init
from minigan.nn.module import Module

__all__ = ["Dropout"]


class Dropout(Module):
    """Zero each element with probability ``p`` (training mode only).

    Args:
        p: drop probability in [0, 1).
        rng: a :class:`minigan.Generator`, an int seed, or None for the masks
            (None: the default generator, which ``minigan.manual_seed`` seeds).
    """

    def __init__(self, p: float = 0.5, rng: B.Generator | int | None = None) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout probability must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng = init.as_generator(rng)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x, hasattr(x, "shape") and len(x.shape) >= 1, "(N, ...)")
        return F.dropout(x, self.p, self.rng, training=self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
