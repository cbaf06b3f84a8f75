"""Dense (fully connected) layer: ``y = x @ W.T + b``.

The weight is stored as ``(out_features, in_features)``, PyTorch's layout (so
a minigan state dict and a ``torch.nn.Linear`` one hold the same arrays), and
the forward pass multiplies by its transpose::

    x (N, in) @ W.T (in, out) + b (out,)  ->  y (N, out)

Leading axes broadcast: an input ``(N, L, in)`` gives ``(N, L, out)``.

Read next: ``minigan/nn/activation.py``.
"""

from __future__ import annotations

import minigan.functions as F
from minigan import backend as B
from minigan.autograd import Tensor
from minigan.nn import init
from minigan.nn.module import Module, Parameter

__all__ = ["Dense"]


class Dense(Module):
    """Fully connected layer ``y = x @ W.T + b``.

    Args:
        in_features: size of the input's last axis.
        out_features: size of the output's last axis.
        bias: add a learned bias ``b`` (out_features,).
        rng: a :class:`minigan.Generator`, an int seed, or None for the initial weights
            (None: the default generator, which ``minigan.manual_seed`` seeds).
        weight_init, bias_init: initialiser names or callables (see ``minigan/nn/init.py``);
            Keras' defaults: Glorot uniform weights, zero biases.

    Parameters: ``weight`` (out_features, in_features), ``bias`` (out_features,).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        rng: B.Generator | int | None = None,
        weight_init: str | init.Initializer = "glorot_uniform",
        bias_init: str | init.Initializer = "zeros",
    ) -> None:
        super().__init__()
        self._require_positive(in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        gen = init.as_generator(rng)
        shape = (out_features, in_features)
        self.weight = Parameter(init.get(weight_init)(shape, gen, fan_in=in_features, fan_out=out_features))
        self.bias = (
            Parameter(init.get(bias_init)((out_features,), gen, fan_in=in_features, fan_out=out_features))
            if bias
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(
            x,
            x.ndim >= 2 and x.shape[-1] == self.in_features,
            f"(N, {self.in_features}) or (N, ..., {self.in_features})",
        )
        self._check_dtype(x)
        # (N, in) @ (out, in)^T + (out,) -> (N, out); F.linear keeps W's gradient in W's layout
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}" + ("" if self.bias is not None else ", bias=False")
