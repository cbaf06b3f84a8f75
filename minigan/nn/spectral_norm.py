"""Spectral normalisation (Miyato et al., 2018): a layer whose weight is divided by its largest singular value.

A discriminator is a composition of layers; if each layer's weight matrix has spectral norm
(largest singular value) 1, each linear map is 1-Lipschitz, and with LeakyReLU in between the
whole network is too. That bounds how sharply D can change with its input, which keeps its
gradients to G informative and the game stable, for the price of one matrix-vector product
per layer and step (no gradient penalty, no second backward pass).

``SpectralNorm(layer)`` wraps any layer with a ``weight`` parameter (Dense, Conv2D,
Conv2DTranspose) and, on each call, runs the layer with ``W / sigma(W)`` in place of ``W``::

    W_mat = W with the output axis first, flattened to (rows, cols)
    (training mode, no gradient)  u = normalize(W_mat v),  v = normalize(W_mat^T u)   # power iteration
    sigma = u^T W_mat v = sum(W * (u v^T reshaped like W))
    W_sn  = W / sigma

``u`` (rows,) and ``v`` (cols,) are buffers: one power-iteration step per training forward
refines the previous estimate, which is accurate because W moves only a little per update.
In eval mode the stored vectors are used as they are. The gradient flows through sigma with
u and v held constant (as in the paper and in PyTorch's
``torch.nn.utils.parametrizations.spectral_norm``), so it is exact for the function the
forward pass computes, to every order: sigma is linear in W.

The trainable parameter stays the layer's own ``weight`` (``state_dict`` key
``layer.weight``); ``u`` and ``v`` are saved alongside. The trainer's G phase restores D's
buffers afterwards (see ``minigan/gan/trainer.py``, ``frozen``), so a G update leaves u and
v as the D update left them.

Read next: ``minigan/nn/init.py``.
"""

from __future__ import annotations

from typing import Any

import minigan.functions as F
from minigan import backend as B
from minigan.autograd import Tensor
from minigan.nn import init
from minigan.nn.conv import Conv2DTranspose
from minigan.nn.module import Module, Parameter

__all__ = ["SpectralNorm", "spectral_norm"]


def _normalize(x: Any, eps: float) -> Any:
    """x / max(||x||, eps) on raw arrays (eps guards an all-zero weight)."""
    xp = B.xp()
    return x / xp.maximum(xp.sqrt(xp.sum(x * x)), xp.asarray(eps, dtype=x.dtype))


class SpectralNorm(Module):
    """Run ``layer`` with its weight divided by the weight's spectral norm (see the module docstring).

    Args:
        layer: a Module with a ``weight`` Parameter of 2 or more dimensions.
        n_power_iterations: power-iteration steps per training forward (1 is the usual choice).
        eps: guards the normalisation of u and v.
        dim: the output axis of the weight (it becomes the matrix's rows): default 1 for
            Conv2DTranspose (weight (C_in, C_out, KH, KW)), else 0; PyTorch's choice too.
        rng: a :class:`minigan.Generator` or an int seed for the initial u and v.

    Buffers: ``u`` (rows,) and ``v`` (cols,), unit vectors. Like PyTorch, 15 power-iteration
    steps at construction make the first sigma already accurate.
    """

    def __init__(
        self,
        layer: Module,
        n_power_iterations: int = 1,
        eps: float = 1e-12,
        dim: int | None = None,
        rng: B.Generator | int = 0,
    ) -> None:
        super().__init__()
        weight = getattr(layer, "_parameters", {}).get("weight")
        if not isinstance(weight, Parameter) or weight.ndim < 2:
            raise ValueError(
                "SpectralNorm needs a layer with a 'weight' parameter of 2 or more dimensions, "
                f"got {type(layer).__name__}"
            )
        if isinstance(n_power_iterations, bool) or not isinstance(n_power_iterations, int) or n_power_iterations < 1:
            raise ValueError(f"n_power_iterations must be a positive integer, got {n_power_iterations!r}")
        self.layer = layer
        self.n_power_iterations, self.eps = n_power_iterations, eps
        self.dim = (1 if isinstance(layer, Conv2DTranspose) else 0) if dim is None else dim
        if not 0 <= self.dim < weight.ndim:
            raise ValueError(f"dim must be an axis of the weight (0..{weight.ndim - 1}), got {dim}")
        rows = weight.shape[self.dim]
        cols = weight.size // rows
        gen = init.as_generator(rng)
        dtype = weight.data.dtype
        self.register_buffer("u", Tensor(_normalize(gen.normal((rows,), dtype=dtype), eps)))
        self.register_buffer("v", Tensor(_normalize(gen.normal((cols,), dtype=dtype), eps)))
        self._power_iteration(15)

    # -- the weight as a matrix ------------------------------------------------------
    def _axes(self, ndim: int) -> tuple[int, ...]:
        """The permutation that brings the output axis first."""
        return (self.dim, *(a for a in range(ndim) if a != self.dim))

    def _matrix(self, w: Any) -> Any:
        """The raw weight array as the (rows, cols) matrix whose spectral norm is taken."""
        xp = B.xp()
        w = xp.permute_dims(w, self._axes(w.ndim))  # (..., out, ...) -> (out, ...)
        return xp.reshape(w, (w.shape[0], -1))  # (out, ...) -> (rows, cols)

    def _power_iteration(self, steps: int) -> None:
        """Refine u and v in place: no graph, raw arrays (u and v are constants for the gradient)."""
        w = self._matrix(self.layer._parameters["weight"].data)
        u, v = self.u.data, self.v.data  # (the order of PyTorch's parametrization: u from v, then v from u)
        for _ in range(steps):
            u = _normalize(w @ v, self.eps)  # (rows, cols) @ (cols,) -> (rows,)
            v = _normalize(w.T @ u, self.eps)  # (cols, rows) @ (rows,) -> (cols,)
        self.u.data, self.v.data = u, v

    def sigma(self) -> Tensor:
        """The spectral-norm estimate u^T W_mat v as a differentiable 0-d Tensor (u, v constant)."""
        weight = self.layer._parameters["weight"]
        xp = B.xp()
        outer = xp.reshape(self.u.data, (-1, 1)) * xp.reshape(self.v.data, (1, -1))  # (rows, 1) * (1, cols)
        shape = tuple(weight.shape[a] for a in self._axes(weight.ndim))
        outer = xp.reshape(outer, shape)  # (rows, cols) -> (out, ...), the permuted weight's shape
        inverse = tuple(sorted(range(weight.ndim), key=self._axes(weight.ndim).__getitem__))
        outer = xp.permute_dims(outer, inverse)  # (out, ...) -> the weight's own layout
        # sigma = <W, u v^T>: linear in W, so every derivative of it is exact and cheap.
        return F.sum(weight * Tensor(outer))

    def normalized_weight(self) -> Tensor:
        """W / sigma, differentiable with respect to W."""
        return self.layer._parameters["weight"] / self.sigma()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.training:
            self._power_iteration(self.n_power_iterations)
        weight = self.layer._parameters["weight"]
        # The layer reads self.weight in its forward: show it W / sigma for this one call. The
        # registered Parameter (what the optimizer updates and state_dict saves) stays W.
        object.__setattr__(self.layer, "weight", self.normalized_weight())
        try:
            return self.layer(*args, **kwargs)
        finally:
            object.__setattr__(self.layer, "weight", weight)

    def extra_repr(self) -> str:
        return f"n_power_iterations={self.n_power_iterations}, dim={self.dim}"


def spectral_norm(
    layer: Module, n_power_iterations: int = 1, eps: float = 1e-12, dim: int | None = None, rng: B.Generator | int = 0
) -> SpectralNorm:
    """``SpectralNorm(layer, ...)``: the functional spelling, as ``torch.nn.utils.spectral_norm``."""
    return SpectralNorm(layer, n_power_iterations=n_power_iterations, eps=eps, dim=dim, rng=rng)
