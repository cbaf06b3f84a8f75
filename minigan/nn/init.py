"""Weight initialisers: how a layer's parameters are drawn before training.

Every initialiser takes the ``shape`` to draw and an explicit
:class:`minigan.Generator`; nothing reads a global random state, so a model
built twice from the same seed is bit-identical (on every backend: numbers are
drawn on the host and then moved).

Fan-in and fan-out follow PyTorch's convention for its weight layouts, which
are also minigan's:

=====================  ======================  ==================  ==================
layer                  weight shape            fan_in              fan_out
=====================  ======================  ==================  ==================
Dense                  (out, in)               in                  out
Conv2D                 (out, in, KH, KW)       in * KH * KW        out * KH * KW
Conv2DTranspose        (in, out, KH, KW)       out * KH * KW       in * KH * KW
=====================  ======================  ==================  ==================

(Keras computes the same numbers from its channels-last kernels.)

The schemes, with ``fan_avg = (fan_in + fan_out) / 2``:

- ``glorot_uniform`` (Keras' default): U(-a, a), a = sqrt(6 / (fan_in + fan_out));
- ``glorot_normal``: N(0, sqrt(2 / (fan_in + fan_out))) (plain normal as PyTorch's
  ``xavier_normal_``; Keras truncates at 2 std);
- ``he_uniform``: U(-a, a), a = sqrt(6 / fan_in), for ReLU networks;
- ``he_normal``: N(0, sqrt(2 / fan_in));
- ``dcgan_normal``: N(0, 0.02), the DCGAN paper's choice for every weight;
- ``zeros`` / ``ones``: constants (biases; BatchNorm's beta and gamma).

Layers take an initialiser by name (``weight_init="he_normal"``) or as any
callable ``f(shape, rng, fan_in, fan_out, dtype) -> array``.

Read next: ``minigan/nn/summary.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from minigan import backend as B
from minigan.backend import Generator

__all__ = [
    "Initializer",
    "as_generator",
    "dcgan_normal",
    "fans",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "normal",
    "ones",
    "uniform",
    "zeros",
]

#: ``f(shape, rng, fan_in, fan_out, dtype) -> array`` (fans may be None: computed from the shape).
Initializer = Callable[..., Any]


def as_generator(rng: Generator | int | None) -> Generator:
    """Accept a :class:`Generator`, an int seed, or None (what every layer's ``rng`` argument takes).

    None is the default generator (``minigan.manual_seed`` seeds it): layers built without
    ``rng=`` each draw from it in turn, so two ``Dense(16, 16)`` start differently.
    """
    if isinstance(rng, Generator):
        return rng
    if rng is None:
        return B.default_generator()
    if isinstance(rng, bool) or not isinstance(rng, int):
        raise TypeError(f"rng must be a minigan.Generator or an int seed, not {rng!r}")
    return Generator(rng)


def _on_device(host: Any, dtype: Any) -> Any:
    """Initial weights are drawn on the host (one seed, the same model on every backend), then moved."""
    return B.to_device(host, dtype=dtype or B.float_dtype())


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of ``shape`` in PyTorch's layout: dims 1 and 0 times the kernel size."""
    if len(shape) < 2:
        raise ValueError(f"fan_in/fan_out need a weight with at least 2 dimensions, got shape {shape}")
    receptive = 1
    for d in shape[2:]:
        receptive *= d
    return shape[1] * receptive, shape[0] * receptive


def _fans(shape: tuple[int, ...], fan_in: int | None, fan_out: int | None) -> tuple[int, int]:
    if fan_in is None or fan_out is None:
        fi, fo = fans(shape)
        fan_in = fi if fan_in is None else fan_in
        fan_out = fo if fan_out is None else fan_out
    return fan_in, fan_out


def uniform(shape: tuple[int, ...], rng: Generator, low: float = -0.05, high: float = 0.05, dtype: Any = None) -> Any:
    """U(low, high) (Keras' RandomUniform default range)."""
    return _on_device(rng.host_uniform(shape, low, high), dtype)


def normal(shape: tuple[int, ...], rng: Generator, mean: float = 0.0, std: float = 1.0, dtype: Any = None) -> Any:
    """N(mean, std)."""
    return _on_device(rng.host_normal(shape, mean, std), dtype)


def glorot_uniform(
    shape: tuple[int, ...], rng: Generator, fan_in: int | None = None, fan_out: int | None = None, dtype: Any = None
) -> Any:
    """Glorot/Xavier uniform: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)); keeps activations' variance."""
    fan_in, fan_out = _fans(shape, fan_in, fan_out)
    a = math.sqrt(6.0 / (fan_in + fan_out))
    return _on_device(rng.host_uniform(shape, -a, a), dtype)


def glorot_normal(
    shape: tuple[int, ...], rng: Generator, fan_in: int | None = None, fan_out: int | None = None, dtype: Any = None
) -> Any:
    """Glorot/Xavier normal: N(0, sqrt(2 / (fan_in + fan_out)))."""
    fan_in, fan_out = _fans(shape, fan_in, fan_out)
    return _on_device(rng.host_normal(shape, 0.0, math.sqrt(2.0 / (fan_in + fan_out))), dtype)


def he_uniform(
    shape: tuple[int, ...], rng: Generator, fan_in: int | None = None, fan_out: int | None = None, dtype: Any = None
) -> Any:
    """He/Kaiming uniform: U(-a, a) with a = sqrt(6 / fan_in) (ReLU halves the variance; this doubles it back)."""
    fan_in, _ = _fans(shape, fan_in, fan_out)
    a = math.sqrt(6.0 / fan_in)
    return _on_device(rng.host_uniform(shape, -a, a), dtype)


def he_normal(
    shape: tuple[int, ...], rng: Generator, fan_in: int | None = None, fan_out: int | None = None, dtype: Any = None
) -> Any:
    """He/Kaiming normal: N(0, sqrt(2 / fan_in))."""
    fan_in, _ = _fans(shape, fan_in, fan_out)
    return _on_device(rng.host_normal(shape, 0.0, math.sqrt(2.0 / fan_in)), dtype)


def dcgan_normal(
    shape: tuple[int, ...], rng: Generator, fan_in: int | None = None, fan_out: int | None = None, dtype: Any = None
) -> Any:
    """N(0, 0.02) whatever the fans: Radford et al. (2016), section 4."""
    return _on_device(rng.host_normal(shape, 0.0, 0.02), dtype)


def zeros(
    shape: tuple[int, ...], rng: Generator | None = None, fan_in: Any = None, fan_out: Any = None, dtype: Any = None
) -> Any:
    """All zeros (biases, BatchNorm's beta). Draws nothing from ``rng``."""
    return B.xp().zeros(shape, dtype=dtype or B.float_dtype())


def ones(
    shape: tuple[int, ...], rng: Generator | None = None, fan_in: Any = None, fan_out: Any = None, dtype: Any = None
) -> Any:
    """All ones (BatchNorm's gamma). Draws nothing from ``rng``."""
    return B.xp().ones(shape, dtype=dtype or B.float_dtype())


_BY_NAME: dict[str, Initializer] = {
    "glorot_uniform": glorot_uniform,
    "xavier_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "xavier_normal": glorot_normal,
    "he_uniform": he_uniform,
    "kaiming_uniform": he_uniform,
    "he_normal": he_normal,
    "kaiming_normal": he_normal,
    "dcgan_normal": dcgan_normal,
    "dcgan": dcgan_normal,
    "normal": lambda shape, rng, fan_in=None, fan_out=None, dtype=None: normal(shape, rng, dtype=dtype),
    "uniform": lambda shape, rng, fan_in=None, fan_out=None, dtype=None: uniform(shape, rng, dtype=dtype),
    "zeros": zeros,
    "ones": ones,
}


def get(init: str | Initializer) -> Initializer:
    """An initialiser by name (``"glorot_uniform"``, ``"he_normal"``, ``"dcgan_normal"``, ...) or as given."""
    if callable(init):
        return init
    try:
        return _BY_NAME[init]
    except KeyError:
        raise ValueError(f"unknown initializer {init!r}; choose one of {', '.join(sorted(_BY_NAME))}") from None
